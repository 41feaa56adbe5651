"""--strategy mirrored on two logical CPUs and multiworker with two local processes."""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np

import model.unet  # noqa: F401  (registers the generator class for loading)
from tests.test_train import TINY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGS = TINY + ["--demo-images", "24", "--epochs", "2", "--l1-pretrain-epochs", "1"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}

TWO_CPUS = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import train
sys.exit(train.main(sys.argv[1:]))
"""


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_mirrored_on_two_logical_cpus_keeps_replicas_in_sync(tmp_path):
    out = tmp_path / "mirrored"
    result = subprocess.run([sys.executable, "-c", TWO_CPUS, *ARGS, "--strategy", "mirrored", "--out", str(out)],
                            cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mirrored strategy: 2 replicas" in result.stdout
    assert "2 replicas ended in sync: largest weight difference 0\n" in result.stdout
    assert os.path.exists(out / "export" / "irodori" / "1" / "saved_model.pb")


def test_multiworker_with_two_local_workers_ends_with_identical_weights(tmp_path):
    out = tmp_path / "multi"
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    workers = []
    for index in range(2):
        env = {**ENV, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen([sys.executable, "train.py", *ARGS, "--strategy", "multiworker",
                                         "--out", str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True))
    outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs[0][-1500:] + outputs[1][-1500:]
    assert "2 replicas; this is worker 0 (chief)" in outputs[0] and "this is worker 1\n" in outputs[1]
    chief = keras.models.load_model(str(out / "generator.keras"), compile=False)
    other = keras.models.load_model(str(out / ".worker-1" / "generator.keras"), compile=False)
    # Trainable weights; BatchNorm's moving statistics are each worker's own.
    assert len(chief.trainable_weights) == len(other.trainable_weights) > 0
    for a, b in zip(chief.trainable_weights, other.trainable_weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert os.path.exists(out / "export" / "irodori" / "1" / "saved_model.pb")  # the chief exports
    assert not os.path.exists(out / ".worker-1" / "export")  # the other worker does not


def test_multiworker_without_tf_config_fails_in_one_line(tmp_path):
    env = {key: value for key, value in ENV.items() if key != "TF_CONFIG"}
    result = subprocess.run([sys.executable, "train.py", *ARGS, "--strategy", "multiworker",
                             "--out", str(tmp_path / "x")], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("irodori-train: error: --strategy multiworker needs "
                                                             "TF_CONFIG")
