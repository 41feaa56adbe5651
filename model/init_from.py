"""--init-from: start a new run's generator from a trained one (fine-tuning to a few pictures)."""

import os

import numpy as np


def generator_file(source):
    """A run directory (its generator.keras) or a .keras file -> the file; one clear line if missing."""
    path = os.path.join(source, "generator.keras") if os.path.isdir(source) else source
    if not os.path.isfile(path):
        where = f"{source} has no generator.keras" if os.path.isdir(source) else f"no such file: {source}"
        raise FileNotFoundError(f"--init-from: {where} (give a run directory or a generator .keras file)")
    if not path.endswith(".keras"):
        raise ValueError(f"--init-from: {path} is not a .keras file (give a run directory or a generator .keras file)")
    return path


def adapted_weights(trained, fresh):
    """The trained generator's weights in the shapes of the fresh one's.

    Every weight must match in shape, except the first kernel's input channels: a generator
    trained without hints (1 channel) starting one with hints (4 or 5), or the other way round.
    The channels both have are copied; new ones start at zero, so hints begin with no effect
    and the trained colouring is unchanged until training teaches them.
    """
    if len(trained) != len(fresh):
        raise ValueError(f"--init-from: that generator has {len(trained)} weight tensors and this run's has "
                         f"{len(fresh)}; start from one of the same kind and size (--ngf, --num-downs, --generator)")
    adapted = []
    for index, (old, new) in enumerate(zip(trained, fresh)):
        if old.shape == new.shape:
            adapted.append(old)
        elif index == 0 and old.ndim == 4 and old.shape[:2] + old.shape[3:] == new.shape[:2] + new.shape[3:]:
            kernel = np.zeros(new.shape, old.dtype)
            common = min(old.shape[2], new.shape[2])
            kernel[:, :, :common] = old[:, :, :common]
            adapted.append(kernel)
        else:
            raise ValueError(f"--init-from: weight {index} has shape {tuple(old.shape)} there and "
                             f"{tuple(new.shape)} here; start from a generator of the same kind and size "
                             "(--ngf, --num-downs, --generator, --task, --colour-head)")
    return adapted


def initialise_from(generator, source):
    """Load the generator of `source` (run directory or .keras file) into `generator`; returns the file."""
    import keras

    import model.sgru  # noqa: F401  (registers the generator classes for loading)
    import model.unet  # noqa: F401,F811

    path = generator_file(source)
    try:
        trained = keras.models.load_model(path, compile=False)
    except (OSError, ValueError) as error:  # not a zip, a truncated file, another Keras object
        raise ValueError(f"--init-from: {path} is not a readable generator .keras file "
                         f"({str(error).splitlines()[0]})") from None
    generator.set_weights(adapted_weights([np.asarray(w) for w in trained.get_weights()],
                                          [np.asarray(w) for w in generator.get_weights()]))
    return path
