"""Adam whose per-variable update is TensorFlow's fused ApplyAdam kernel.

Keras' Adam updates each variable with about ten element-wise ops, each a full pass over
memory; for the 54 M-parameter pix2pix U-Net that took 205 ms per step on a 2-core CPU,
the fused kernel 59 ms (benchmarks/train_step.py). The arithmetic is Adam's as Keras
writes it: alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t); m += (g - m)(1 - beta1);
v += (g^2 - v)(1 - beta2); var -= alpha * m / (sqrt(v) + epsilon). Part of the training
step, so TensorFlow-specific by design; other backends and amsgrad use Keras' own update.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="irodori")
class FusedAdam(keras.optimizers.Adam):
    """keras.optimizers.Adam with the same arguments, state and checkpoints; faster on TF."""

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or keras.backend.backend() != "tensorflow":
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        dtype = variable.dtype
        local_step = ops.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            beta1_power=ops.power(ops.cast(self.beta_1, dtype), local_step),
            beta2_power=ops.power(ops.cast(self.beta_2, dtype), local_step),
            lr=ops.cast(learning_rate, dtype), beta1=ops.cast(self.beta_1, dtype),
            beta2=ops.cast(self.beta_2, dtype), epsilon=ops.cast(self.epsilon, dtype),
            grad=ops.cast(gradient, dtype), use_locking=False)
