"""Inputs are never written over, old outputs only with --overwrite, one process per run directory,
and flags that fit the chosen generator."""

import hashlib
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest

import train
from export import colorize, evaluate, run_export
from export.saved_model import export_saved_model
from model.config import ModelConfig
from model.unet import UNetGenerator
from tests.conftest import write_rgb

SIZE = 32


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    keras.utils.set_random_seed(5)
    generator = UNetGenerator(image_size=SIZE, num_downs=5, ngf=8)
    folder = tmp_path_factory.mktemp("model")
    generator.save(str(folder / "generator.keras"))
    return export_saved_model(generator, str(folder / "export"), SIZE)


@pytest.fixture
def work(tmp_path):
    """An artist's folder with one picture."""
    (tmp_path / "work").mkdir()
    return write_rgb(tmp_path / "work" / "page.png",
                     np.random.default_rng(1).integers(0, 256, (40, 56, 3), dtype=np.uint8))


def one_error_line(capsys, program):
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith(f"{program}: error: "), err
    return err[0]


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_colorize_into_the_input_folder_refuses_and_writes_nothing(model, work, capsys, overwrite):
    folder = os.path.dirname(work)
    before = digest(work)
    assert colorize.main([work, "-o", folder, "--model", model, *overwrite]) == 2
    line = one_error_line(capsys, "irodori-colorize")
    assert "would replace the input" in line and work in line
    assert digest(work) == before
    assert os.listdir(folder) == ["page.png"]


def test_an_output_linked_to_an_input_is_refused(model, work, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(work, out / "page.png")  # writing "out/page.png" would go through to the original
    before = digest(work)
    assert colorize.main([work, "-o", str(out), "--model", model, "--overwrite"]) == 2
    one_error_line(capsys, "irodori-colorize")
    assert digest(work) == before


def test_existing_outputs_are_kept_unless_overwrite(model, work, tmp_path, capsys):
    out = tmp_path / "out"
    second = write_rgb(tmp_path / "work" / "cover.png", np.full((24, 24, 3), 200, np.uint8))
    assert colorize.main([os.path.dirname(work), "-o", str(out), "--model", model]) == 0
    capsys.readouterr()
    (out / "page.png").write_bytes(b"the artist edited this")  # an output the artist touched up
    os.remove(out / "cover.png")

    assert colorize.main([os.path.dirname(work), "-o", str(out), "--model", model]) == 0
    captured = capsys.readouterr()
    kept = [line for line in captured.err.splitlines() if line.startswith("kept ")]
    assert kept == ["kept 1 existing output (page.png); pass --overwrite to replace it"]
    assert "coloured 1 of 2 images" in captured.out and "1 kept from before" in captured.out
    assert (out / "page.png").read_bytes() == b"the artist edited this"
    assert os.path.exists(out / "cover.png") and second

    assert colorize.main([os.path.dirname(work), "-o", str(out), "--model", model, "--overwrite"]) == 0
    assert (out / "page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_output_folder_inside_the_input_folder_is_not_read_back(model, work, capsys):
    folder = os.path.dirname(work)
    out = os.path.join(folder, "coloured")
    assert colorize.main([folder, "-o", out, "--model", model]) == 0
    written = digest(os.path.join(out, "page.png"))
    capsys.readouterr()
    assert colorize.main([folder, "-o", out, "--model", model]) == 0  # the same command again
    err = capsys.readouterr().err
    assert f"left out 1 picture(s) inside the output folder {out}" in err
    assert "kept 1 existing output (page.png)" in err
    assert sorted(os.listdir(out)) == ["page.png"] and digest(os.path.join(out, "page.png")) == written


def test_evaluate_keeps_an_old_report_and_never_writes_over_its_pictures(model, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for index in range(2):
        write_rgb(data / f"p{index}.png", np.random.default_rng(index).integers(0, 256, (36, 36, 3), np.uint8))
    keras_file = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(model))), "generator.keras")
    out = tmp_path / "report"
    argv = ["--model", keras_file, "--data", str(data), "--out", str(out)]
    assert evaluate.main(argv) == 0
    report = (out / "report.md").read_bytes()
    capsys.readouterr()
    assert evaluate.main(argv) == 2
    assert "already holds a report" in one_error_line(capsys, "irodori-evaluate")
    assert (out / "report.md").read_bytes() == report
    assert evaluate.main(argv + ["--overwrite"]) == 0

    # A picture that happens to be called comparison.png, with the report going into its folder.
    write_rgb(data / "comparison.png", np.zeros((36, 36, 3), np.uint8))
    before = digest(data / "comparison.png")
    capsys.readouterr()
    assert evaluate.main(["--model", keras_file, "--data", str(data), "--out", str(data), "--overwrite"]) == 2
    assert "would replace the input" in one_error_line(capsys, "irodori-evaluate")
    assert digest(data / "comparison.png") == before
    assert not os.path.exists(data / "metrics.json")


def test_export_sample_cannot_be_the_file_it_writes(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("config.json", "generator.keras"):
        (run_dir / name).write_text("{}")
    sample = write_rgb(run_dir / "colorized_sample.png", np.zeros((8, 8, 3), np.uint8))
    before = digest(sample)
    assert run_export.main([str(run_dir), "--sample", sample]) == 2
    assert "would replace the input" in one_error_line(capsys, "irodori-export")
    assert digest(sample) == before


def test_a_run_directory_inside_the_data_folder_is_refused(tmp_path, capsys):
    data = tmp_path / "art"
    data.mkdir()
    write_rgb(data / "a.png", np.zeros((16, 16, 3), np.uint8))
    assert train.main(["--data", str(data), "--out", str(data / "run"), "--verbose", "0"]) == 2
    assert "inside --data" in one_error_line(capsys, "irodori-train")
    assert os.listdir(data) == ["a.png"]


# -- one process per run directory -------------------------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOLD = ("import sys, time; sys.path.insert(0, {root!r}); from export.run_lock import RunLock\n"
        "with RunLock({run!r}, 'irodori-train'):\n    print('held', flush=True); time.sleep(120)")


def hold_lock(run_dir):
    holder = subprocess.Popen([sys.executable, "-c", HOLD.format(root=ROOT, run=str(run_dir))],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_start_is_refused_naming_the_holder_and_a_killed_holder_is_taken_over(tmp_path, capsys):
    run_dir = tmp_path / "run"
    holder = hold_lock(run_dir)
    try:
        tiny = ["--image-size", "32", "--ngf", "8", "--ndf", "8", "--batch-size", "4", "--steps-per-epoch", "1",
                "--epochs", "1", "--demo-images", "4", "--verbose", "0", "--out", str(run_dir)]
        assert train.main(tiny) == 2
        line = one_error_line(capsys, "irodori-train")
        assert f"is in use by irodori-train (pid {holder.pid} on " in line
        assert os.listdir(run_dir) == [".lock"]  # no config, no history, nothing begun

        for name in ("config.json", "generator.keras"):
            (run_dir / name).write_text("{}")
        assert run_export.main([str(run_dir)]) == 2  # nor an export of a run in use
        assert f"(pid {holder.pid} on " in one_error_line(capsys, "irodori-export")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert f"pid {holder.pid}" in (run_dir / ".lock").read_text()  # what the killed run left behind

    from export.run_lock import RunLock

    with RunLock(str(run_dir), "irodori-train"):  # taken over: its process is gone
        assert (run_dir / ".lock").read_text().startswith(f"irodori-train (pid {os.getpid()} on ")


def test_another_process_is_refused_while_held_and_admitted_after(tmp_path):
    from export.run_lock import RunLock

    with RunLock(str(tmp_path), "first"):
        refused = subprocess.run([sys.executable, "-c", HOLD.format(root=ROOT, run=str(tmp_path))],
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0 and "RunDirectoryBusy" in refused.stderr
        assert f"is in use by first (pid {os.getpid()} on " in refused.stderr
    holder = hold_lock(tmp_path)  # released when the block ended
    holder.kill()
    holder.wait()


def test_resume_drops_history_rows_that_are_not_epochs(tmp_path):
    from model.training_run import trim_history

    path = tmp_path / "history.csv"  # what two runs that once shared a folder left behind
    path.write_text("epoch,d_loss\n0,0.7\nepoch,d_loss\n0,0.6\n1,0.5\n2,0.4\n")
    trim_history(str(path), finished_epochs=2)
    assert path.read_text().splitlines() == ["epoch,d_loss", "0,0.7", "0,0.6", "1,0.5"]


# -- flags that fit the generator --------------------------------------------------------------------

@pytest.mark.parametrize("image_size, downs", [(64, 6), (128, 7), (256, 8), (512, 8), (96, 5)])
def test_num_downs_defaults_to_what_the_size_allows(image_size, downs, tmp_path):
    args = train.build_parser().parse_args(["--data", str(tmp_path), "--image-size", str(image_size)])
    config = train.resolve_configs(args)
    assert config.model.num_downs == downs  # pix2pix: unet_128 has 7, unet_256 has 8
    assert image_size % 2**downs == 0 and (downs == 8 or image_size % 2 ** (downs + 1))


def test_a_128_px_unet_builds_without_a_second_flag(tmp_path):
    config = train.resolve_configs(train.build_parser().parse_args(["--data", str(tmp_path), "--image-size",
                                                                     "128", "--ngf", "4"]))
    generator = UNetGenerator(image_size=128, num_downs=config.model.num_downs, ngf=4)
    assert generator(np.zeros((1, 128, 128, 1), np.float32)).shape == (1, 128, 128, 2)


def test_sgru_checks_its_own_levels_not_the_unet_s():
    args = train.build_parser().parse_args(["--task", "sketch", "--generator", "sgru", "--data", "x",
                                            "--image-size", "64"])
    assert train.resolve_configs(args).model.image_size == 64  # 64 = 4 x 2**4: fine for 4 SGRU levels
    ModelConfig(image_size=64, generator="sgru", num_downs=8)  # a U-Net setting the SGRU does not use
    with pytest.raises(ValueError, match=r"multiple of 2\*\*sgru_levels \(16\); received image_size=40"):
        ModelConfig(image_size=40, generator="sgru", sgru_levels=4)
    with pytest.raises(ValueError, match=r"multiple of 2\*\*num_downs \(256\); received image_size=64"):
        ModelConfig(image_size=64, num_downs=8)
    with pytest.raises(ValueError, match=r"image_size 300 halves evenly only 2 time\(s\).*e.g. 288"):
        ModelConfig(image_size=300)  # would quietly be a 2-level U-Net
    assert ModelConfig(image_size=300, num_downs=2).num_downs == 2  # asked for explicitly
