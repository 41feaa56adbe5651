"""A training run's resolved settings: written once as <run>/config.json, read by every tool.

train.py resolves flags into these dataclasses; export, evaluation and benchmarks load them
back typed instead of indexing the JSON by hand.
"""

import dataclasses
import json
import os

from model.config import ModelConfig
from pipeline.config import PipelineConfig

CONFIG_NAME = "config.json"
# Settings that may change when a run is resumed; anything else must match config.json.
# init_from only starts a run: a resumed run continues from its own checkpoint whatever it says.
RESUMABLE_KEYS = frozenset({"epochs", "verbose", "jit", "checkpoint_every", "strategy", "init_from"})


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the pictures come from and what the network learns to do with them.

    data: the --data folder, glob or file; None for the embedded synthetic pictures
        (demo_images of them, drawn into <run>/synthetic_data).
    task: "gray" (predict a*b* from L*) or "sketch" (line art -> RGB), made with
        sketch_method, or paired with the artist's own line art in `sketches`.
    vgg_weights: the local VGG19 weights file of the SGRU's perceptual loss.
    hints: the networks learn from simulated colour hints (pipeline.hints). False here, so a
        run saved before hints existed resumes as what it was; train.py turns it on for new runs.
    """

    data: str | None = None
    demo_images: int | None = None
    task: str = "gray"
    sketch_method: str | None = None
    vgg_weights: str | None = None
    sketches: str | None = None
    hints: bool = False


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How long and how to optimise."""

    epochs: int = 15
    steps_per_epoch: int | None = None
    l1_pretrain_epochs: int = 0
    gan_mode: str = "vanilla"
    lambda_l1: float = 100.0
    rebalance: float = 0.0  # runs saved before it trained on plain L1
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    label_smoothing: float = 0.0
    gan_weight: float = 0.0
    n_critic: int | None = None
    seed: int = 0
    verbose: str = "auto"
    mixed_precision: bool = False
    jit: bool = False
    checkpoint_every: int | None = None
    strategy: str = "default"
    init_from: str | None = None  # the run directory or generator .keras file the generator started from
    # Input pipelines (workers under multiworker), each reading its share of the files: the
    # training stream depends on it, so a run resumes with the same number (runs before: 1).
    input_pipelines: int = 1


SECTIONS = {"data": DataConfig, "pipeline": PipelineConfig, "model": ModelConfig, "train": TrainConfig}


@dataclasses.dataclass(frozen=True)
class RunConfig:
    data: DataConfig
    pipeline: PipelineConfig
    model: ModelConfig
    train: TrainConfig

    def as_dict(self):
        return {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS}

    @classmethod
    def from_dict(cls, values):
        """Sections as saved; keys a newer Irodori added take their defaults, unknown keys are dropped."""
        sections = {}
        for name, section in SECTIONS.items():
            known = {field.name for field in dataclasses.fields(section)}
            sections[name] = section(**{k: v for k, v in values.get(name, {}).items() if k in known})
        return cls(**sections)

    @classmethod
    def load(cls, run_dir):
        with open(os.path.join(run_dir, CONFIG_NAME)) as f:
            return cls.from_dict(json.load(f))

    def save(self, run_dir):
        from export.atomic import write_atomically

        return write_atomically(os.path.join(run_dir, CONFIG_NAME), json.dumps(self.as_dict(), indent=2))

    def changes_from(self, saved):
        """'key old -> new' for every setting that differs from saved and may not change on resume."""
        changed = []
        mine, theirs = self.as_dict(), saved.as_dict()
        for section, values in mine.items():
            for key, value in values.items():
                if key not in RESUMABLE_KEYS and theirs[section].get(key) != value:
                    changed.append(f"{key} {theirs[section].get(key)!r} -> {value!r}")
        return changed

    def data_source(self, run_dir):
        """The folder, glob or file the run's pictures come from."""
        return self.data.data or os.path.join(run_dir, "synthetic_data")
