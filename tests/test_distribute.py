"""--strategy mirrored on two logical CPUs and multiworker with two local processes.

The whole mirrored run is marked slow; the multiworker run stays in every `-m "not slow"` run
(two processes sharing one run directory: the chief's files, the other worker's own folder and
lock), and so does the one-step equivalence test (the loss scale across replicas).
"""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

import model.unet  # noqa: F401  (registers the generator class for loading)
from pipeline.dataset import split_train_val
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


# One training step of the same networks on the same global batch of 8, once on one device and
# once as two replicas of 4 (MirroredStrategy on two logical CPUs). Plain SGD: its update is
# proportional to the gradient, so a loss summed instead of averaged over the replicas
# doubles every step (Adam's update would hide the factor). No BatchNorm, whose statistics
# are per replica and would differ legitimately.
ONE_STEP_BOTH_WAYS = """
import json
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import numpy as np
from model.distribute import make_strategy
from model.patchgan import PatchGANDiscriminator
from model.pix2pix import Pix2Pix


def networks():
    condition = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(condition)
    generator = keras.Model(condition, keras.layers.Conv2D(2, 3, padding="same", activation="tanh")(x))
    return generator, PatchGANDiscriminator(ndf=8, n_layers=2, norm="none")


def one_step(strategy, initial, data):
    with strategy.scope():
        generator, discriminator = networks()
        for network, weights in zip((generator, discriminator), initial):
            network.set_weights(weights)
        model = Pix2Pix(generator, discriminator)
        model.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), l1_weight=10.0)
    logs = model.fit(tf.data.Dataset.from_tensor_slices(data).batch(8), epochs=1, verbose=0).history
    after = [[w.numpy() for w in network.trainable_weights] for network in (generator, discriminator)]
    return {"replicas": strategy.num_replicas_in_sync, "logs": {k: v[0] for k, v in logs.items()},
            "updates": [[(a - b).tolist() for a, b in zip(new, old)] for new, old in zip(after, initial)]}


keras.utils.set_random_seed(0)
initial = [network.get_weights() for network in networks()]
rng = np.random.default_rng(0)
data = (rng.uniform(-1, 1, (8, 32, 32, 1)).astype("float32"), rng.uniform(-1, 1, (8, 32, 32, 2)).astype("float32"))
mirrored = make_strategy("mirrored")[0]
print("RESULT " + json.dumps([one_step(strategy, initial, data) for strategy in (tf.distribute.get_strategy(), mirrored)]))
"""


def test_two_replica_step_equals_the_single_device_step_on_the_global_batch():
    result = subprocess.run([sys.executable, "-c", ONE_STEP_BOTH_WAYS], cwd=ROOT, env=ENV, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    single, mirrored = json.loads(result.stdout.split("RESULT ", 1)[1])
    assert (single["replicas"], mirrored["replicas"]) == (1, 2)
    assert sorted(mirrored["logs"]) == ["d_loss", "g_gan", "g_l1", "g_total"]
    for key, value in single["logs"].items():  # losses of the global batch, not of one replica's half
        assert mirrored["logs"][key] == pytest.approx(value, rel=1e-5), key
    for network, count in zip(("generator", "critic"), (4, 8)):  # kernels and biases
        ours, reference = ([np.array(update) for update in run["updates"][network == "critic"]]
                           for run in (mirrored, single))
        assert len(ours) == len(reference) == count
        # Round-off is relative to the network's largest update: the critic's last bias moves
        # by a difference of two near-equal terms (its loss is at log 2).
        scale = max(np.abs(update).max() for update in reference)
        for index, (a, b) in enumerate(zip(ours, reference)):
            assert np.abs(b).max() > 0, (network, index)  # every variable did move
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3 * scale, err_msg=f"{network} variable {index}")


# train.py with every picture that a training stream reads written to $DECODE_LOG (file name per
# line); the chief's export afterwards reads pictures of its own for int8 calibration.
RECORDING_DECODES = """
import os
import sys
import tensorflow as tf
import pipeline.dataset
read_image, build_dataset = pipeline.dataset.read_image, pipeline.dataset.build_dataset
log = open(os.environ["DECODE_LOG"], "a")


def record(path):
    log.write(os.path.basename(path.numpy().decode()) + "\\n")
    log.flush()
    return True


def recorded_read_image(path, **options):
    with tf.control_dependencies([tf.py_function(record, [path], tf.bool)]):
        return read_image(path, **options)


def build_recorded_dataset(paths, cfg, training, **options):
    pipeline.dataset.read_image = recorded_read_image if training else read_image  # traced while built
    try:
        return build_dataset(paths, cfg, training, **options)
    finally:
        pipeline.dataset.read_image = read_image


pipeline.dataset.build_dataset = build_recorded_dataset
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


@pytest.mark.slow  # a whole train.py run with export, in 2 replicas (over a minute on 2 cores)
def test_mirrored_on_two_logical_cpus_keeps_replicas_in_sync(tmp_path):
    out = tmp_path / "mirrored"
    result = subprocess.run([sys.executable, "-c", TWO_CPUS, *ARGS, "--strategy", "mirrored", "--out", str(out)],
                            cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mirrored strategy: 2 replicas" in result.stdout
    assert "2 replicas ended in sync: largest weight difference 0\n" in result.stdout
    assert os.path.exists(out / "export" / "irodori" / "1" / "saved_model.pb")


def test_multiworker_with_two_local_workers_ends_with_identical_weights_and_shares_the_files(tmp_path):
    out = tmp_path / "multi"
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    workers = []
    for index in range(2):
        env = {**ENV, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "DECODE_LOG": str(tmp_path / f"decoded-{index}.txt")}
        workers.append(subprocess.Popen([sys.executable, "-c", RECORDING_DECODES, *ARGS, "--strategy", "multiworker",
                                         "--no-cache", "--out", str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
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
    # Each worker decoded only its half of the training pictures; together, all of them.
    names = sorted(os.listdir(out / "synthetic_data"))
    training, validation = split_train_val(names, 0.1)
    decoded = [(tmp_path / f"decoded-{index}.txt").read_text().split() for index in range(2)]
    assert len(training) == 19  # 9 or 10 per worker: 6 elements each in 3 steps of 2 epochs, and then some
    # Once each: the first pass writes each worker's disk cache of its share, and later passes read it.
    assert sorted(decoded[0]) == training[0::2] and sorted(decoded[1]) == training[1::2]


def test_multiworker_without_tf_config_fails_in_one_line(tmp_path):
    env = {key: value for key, value in ENV.items() if key != "TF_CONFIG"}
    result = subprocess.run([sys.executable, "train.py", *ARGS, "--strategy", "multiworker",
                             "--out", str(tmp_path / "x")], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("irodori-train: error: --strategy multiworker needs "
                                                             "TF_CONFIG")
