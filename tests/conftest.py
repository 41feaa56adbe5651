import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import pytest  # noqa: E402


def write_rgb(path, rgb):
    """Write uint8 RGB with OpenCV (which wants BGR)."""
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return str(path)


@pytest.fixture(scope="session")
def synthetic_folder(tmp_path_factory):
    """A dozen 48 px synthetic pictures, written once per test session."""
    from pipeline.synthetic import write_dataset

    folder = tmp_path_factory.mktemp("synthetic")
    write_dataset(str(folder), 12, size=48, seed=3)
    return str(folder)
