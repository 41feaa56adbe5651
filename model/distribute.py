"""Where the training step runs: tf.distribute strategies and the mixed precision policy.

The TensorFlow-specific part of running train.py's training step on several devices or
machines; the networks themselves stay plain Keras.
"""

import json
import os

def make_strategy(name):
    """(tf.distribute strategy, is this the chief, worker index) for --strategy."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy(), True, 0
    if name == "mirrored":
        if tf.config.list_logical_devices("GPU"):
            strategy = tf.distribute.MirroredStrategy()
        else:  # logical CPUs; NCCL is for GPUs, so reduce on one device
            devices = [device.name for device in tf.config.list_logical_devices("CPU")]
            strategy = tf.distribute.MirroredStrategy(devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
        print(f"mirrored strategy: {strategy.num_replicas_in_sync} replicas")
        return strategy, True, 0
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    if not config.get("cluster"):
        raise ValueError("--strategy multiworker needs TF_CONFIG, e.g. {\"cluster\": {\"worker\": "
                         "[\"host1:2222\", \"host2:2222\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}")
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    task = config.get("task", {})
    chief = task.get("type") == "chief" or (task.get("type") == "worker" and task.get("index", 0) == 0
                                             and "chief" not in config["cluster"])
    print(f"multiworker strategy: {strategy.num_replicas_in_sync} replicas; this is "
          f"{task.get('type')} {task.get('index', 0)}{' (chief)' if chief else ''}")
    return strategy, chief, task.get("index", 0)


def input_share(name):
    """(this worker's input pipeline index, number of input pipelines) for --strategy: (0, 1) but under
    multiworker, where a chief (if the cluster names one) is pipeline 0 and the workers follow it."""
    if name != "multiworker":
        return 0, 1
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    cluster, task = config.get("cluster", {}), config.get("task", {})
    chiefs = len(cluster.get("chief", []))
    index = task.get("index", 0) + (chiefs if task.get("type") == "worker" else 0)
    return index, chiefs + len(cluster.get("worker", []))


def replica_spread(variables, strategy):
    """Largest difference between the replicas' copies of the variables (0 when in sync).

    For trainable weights; BatchNorm's moving statistics are kept per replica and averaged
    when read.
    """
    import numpy as np

    spread = 0.0
    for variable in variables:
        copies = [np.asarray(copy) for copy in strategy.experimental_local_results(variable.value)]
        spread = max(spread, *(float(np.max(np.abs(copy - copies[0]))) for copy in copies))
    return spread


def set_precision_policy(mixed):
    """The Keras dtype policy for --mixed-precision: float16 on a GPU, bfloat16 on CPU."""
    import keras
    import tensorflow as tf

    name = "float32"
    if mixed:
        name = "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
        print(f"mixed precision: {name} (weights and losses in float32)")
    keras.mixed_precision.set_global_policy(name)
    return name
