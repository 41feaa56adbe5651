import keras
import numpy as np
import pytest
import tensorflow as tf

from model import losses
from model.patchgan import PatchGANDiscriminator
from model.pix2pix import Pix2Pix
from model.unet import UNetGenerator

KEYS = ["d_loss", "g_gan", "g_l1", "g_total"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return (rng.uniform(-1, 1, (4, 32, 32, 1)).astype("float32"),
            rng.uniform(-1, 1, (4, 32, 32, 2)).astype("float32"))


def make_model(gan_mode="vanilla", adversarial=True, d_norm="batch", **compile_kwargs):
    keras.utils.set_random_seed(0)
    model = Pix2Pix(UNetGenerator(image_size=32, num_downs=5, ngf=8), PatchGANDiscriminator(ndf=8, norm=d_norm))
    model.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5),
                  gan_mode=gan_mode, adversarial=adversarial, **compile_kwargs)
    return model


def weights(network):
    return [w.numpy().copy() for w in network.trainable_weights]


def changed(before, network):
    return any(not np.array_equal(a, b.numpy()) for a, b in zip(before, network.trainable_weights))


@pytest.mark.parametrize("gan_mode, d_norm, d_steps", [("vanilla", "batch", 1), ("lsgan", "batch", 1),
                                                       ("wgangp", "instance", 5)])
def test_one_fit_step_updates_both_networks(data, gan_mode, d_norm, d_steps):
    model = make_model(gan_mode, d_norm=d_norm)
    g_before, d_before = weights(model.generator), weights(model.discriminator)
    history = model.fit(*data, batch_size=4, epochs=1, verbose=0)
    assert sorted(history.history) == sorted(KEYS)
    assert all(np.isfinite(history.history[key][0]) for key in KEYS)
    assert changed(g_before, model.generator) and changed(d_before, model.discriminator)
    assert int(model.g_optimizer.iterations.numpy()) == 1
    assert int(model.d_optimizer.iterations.numpy()) == d_steps


def test_logged_losses_are_consistent(data):
    model = make_model(l1_weight=100.0)
    logs = model.fit(*data, batch_size=4, epochs=1, verbose=0).history
    assert logs["g_total"][0] == pytest.approx(logs["g_gan"][0] + 100.0 * logs["g_l1"][0], rel=1e-5)
    # Untrained networks: L1 of random targets near E|u - v| for uniform [-1, 1] (2/3);
    # the D loss near its equilibrium log 2.
    assert 0.4 < logs["g_l1"][0] < 0.9
    assert 0.5 < logs["d_loss"][0] < 0.9


def test_l1_pretraining_leaves_the_discriminator_alone(data):
    model = make_model(adversarial=False)
    d_before = weights(model.discriminator)
    logs = model.fit(*data, batch_size=4, epochs=1, verbose=0).history
    assert not changed(d_before, model.discriminator)
    assert logs["d_loss"] == [0.0] and logs["g_gan"] == [0.0]
    assert logs["g_total"][0] == pytest.approx(100.0 * logs["g_l1"][0], rel=1e-5)


def test_validation_reports_val_keys_without_updating(data):
    model = make_model()
    g_before = weights(model.generator)
    history = model.fit(*data, batch_size=2, epochs=1, validation_data=data, verbose=0).history
    assert sorted(history) == sorted(KEYS + ["val_" + key for key in KEYS])
    result = model.evaluate(*data, batch_size=2, verbose=0, return_dict=True)
    assert sorted(result) == sorted(KEYS)
    g_after = weights(model.generator)
    model.evaluate(*data, batch_size=2, verbose=0)
    assert not changed(g_after, model.generator) and changed(g_before, model.generator)


def test_generator_learns_a_fixed_mapping(data):
    model = make_model(adversarial=False, l1_weight=1.0)
    model.g_optimizer.learning_rate.assign(2e-3)
    condition, _ = data
    target = np.repeat(condition * 0.5, 2, axis=-1)  # a learnable function of the input
    history = model.fit(condition, target, batch_size=4, epochs=30, verbose=0).history
    assert history["g_l1"][-1] < 0.5 * history["g_l1"][0]


def test_gan_losses_on_known_logits():
    zero = np.zeros((2, 3, 3, 1), "float32")
    assert float(losses.discriminator_loss(zero, zero, "vanilla")) == pytest.approx(np.log(2), rel=1e-5)
    assert float(losses.discriminator_loss(zero + 0.5, zero + 0.5, "lsgan")) == pytest.approx(0.25)
    assert float(losses.discriminator_loss(zero + 2.0, zero - 1.0, "wgangp")) == pytest.approx(-3.0)
    assert float(losses.generator_adversarial_loss(zero + 1.0, "lsgan")) == pytest.approx(0.0)
    big = zero + 20.0
    assert float(losses.generator_adversarial_loss(big, "vanilla")) < 1e-6


def test_compile_rejects_bad_values():
    with pytest.raises(ValueError, match="gan_mode=.*hinge"):
        make_model("hinge")
    with pytest.raises(ValueError, match="label_smoothing=0.7"):
        make_model(label_smoothing=0.7)


def twin_networks(seed=0):
    """Two identical (generator, discriminator) pairs, without dropout so steps are comparable."""
    keras.utils.set_random_seed(seed)
    generator = UNetGenerator(image_size=32, num_downs=5, ngf=8, dropout=0.0)
    discriminator = PatchGANDiscriminator(ndf=8)
    twins = (UNetGenerator.from_config(generator.get_config()),
             PatchGANDiscriminator.from_config(discriminator.get_config()))
    for original, twin in zip((generator, discriminator), twins):
        twin.set_weights(original.get_weights())
    return (generator, discriminator), twins


def test_train_step_computes_what_the_tutorial_step_computes(data):
    """Same losses and same updates as the straightforward two-tape step with Keras' Adam."""
    from benchmarks.reference_step import make_reference_step
    from model.fused_adam import FusedAdam

    (generator, discriminator), (ref_generator, ref_discriminator) = twin_networks()
    model = Pix2Pix(generator, discriminator)
    model.compile(FusedAdam(2e-4, beta_1=0.5), FusedAdam(2e-4, beta_1=0.5), l1_weight=100.0)
    reference = make_reference_step(ref_generator, ref_discriminator, keras.optimizers.Adam(2e-4, beta_1=0.5),
                                    keras.optimizers.Adam(2e-4, beta_1=0.5), l1_weight=100.0)
    step = tf.function(model.train_step)
    condition, target = (tf.constant(array) for array in data)
    for _ in range(3):
        for tracker in model.metrics:  # logs are running means; compare this step's losses
            tracker.reset_state()
        logs = step((condition, target))
        ref_total, ref_d_loss = reference(condition, target)
        assert float(logs["g_total"]) == pytest.approx(float(ref_total), rel=1e-4)
        assert float(logs["d_loss"]) == pytest.approx(float(ref_d_loss), rel=1e-4)
    for ours, theirs in ((generator, ref_generator), (discriminator, ref_discriminator)):
        for a, b in zip(ours.weights, theirs.weights):  # trainable weights and BatchNorm statistics
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-5, err_msg=a.path)
    assert not np.allclose(weights(generator)[0], twin_networks()[0][0].get_weights()[0])  # they did train


# WGAN-GP -----------------------------------------------------------------------------------


def tiny_generator(dropout=0.0, sink=None):
    """(bs, 8, 8, 1) -> (bs, 8, 8, 2); sink(output) sees every forward pass when run eagerly."""
    condition = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, padding="same")(condition)
    if dropout:  # a second forward pass then gives a different fake
        x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Activation("tanh")(x)
    if sink is not None:
        x = Recorder(sink)(x)
    return keras.Model(condition, x)


class Recorder(keras.layers.Layer):
    """Identity that hands each eager input to sink: counts and captures what a network sees."""

    def __init__(self, sink, **kwargs):
        super().__init__(**kwargs)
        self.sink = sink

    def call(self, x):
        if tf.executing_eagerly():  # not while Keras builds the functional graph
            self.sink(np.array(x))
        return x

    def compute_output_shape(self, input_shape):
        return input_shape


def linear_critic(w, v, bias):
    """D(c, x) = sum(w * x) + sum(v * c) + bias: one logit per sample, linear in the image."""
    condition, image = keras.Input((8, 8, 1)), keras.Input((8, 8, 2))
    on_image = keras.layers.Dense(1, use_bias=True)
    on_condition = keras.layers.Dense(1, use_bias=False)
    logits = keras.layers.Add()([on_image(keras.layers.Flatten()(image)),
                                 on_condition(keras.layers.Flatten()(condition))])
    critic = keras.Model([condition, image], logits)
    on_image.set_weights([w.reshape(-1, 1), np.array([bias], "float32")])
    on_condition.set_weights([v.reshape(-1, 1)])
    return critic


def bilinear_critic():
    """D(c, x) = sum(c * x): per sample, the gradient with respect to the image is c itself."""
    condition, image = keras.Input((8, 8, 2)), keras.Input((8, 8, 2))
    product = keras.layers.Multiply()([condition, image])
    return keras.Model([condition, image], keras.ops.sum(product, axis=[1, 2, 3])[:, None])


def sgd_model(generator, critic, **compile_kwargs):
    model = Pix2Pix(generator, critic)
    model.compile(keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.01), **compile_kwargs)
    return model


@pytest.mark.parametrize("norm", [3.0, 0.5])
def test_gradient_penalty_on_a_linear_critic_is_norm_minus_one_squared(norm):
    rng = np.random.default_rng(4)
    w = rng.normal(size=(8, 8, 2)).astype("float32")
    w *= norm / np.linalg.norm(w)
    v = rng.normal(size=(8, 8, 1)).astype("float32")  # the condition's part has no say in the penalty
    model = sgd_model(tiny_generator(), linear_critic(w, v, 0.3), gan_mode="wgangp", n_critic=1)
    condition = rng.uniform(-1, 1, (4, 8, 8, 1)).astype("float32")
    real, fake = (rng.uniform(-1, 1, (4, 8, 8, 2)).astype("float32") for _ in range(2))
    penalty = float(model._gradient_penalty(*map(tf.constant, (condition, real, fake))))
    assert penalty == pytest.approx((norm - 1.0) ** 2, rel=1e-4)  # 4.0 and 0.25

    # Through train_step: the logged critic loss is E[D(fake)] - E[D(real)] + 10 (||w|| - 1)^2,
    # by hand from the generator's output before the update.
    generated = model.generator(condition).numpy()
    logs = model.train_step((tf.constant(condition), tf.constant(real)))
    expected = np.mean(np.sum(w * (generated - real), axis=(1, 2, 3))) + 10.0 * (norm - 1.0) ** 2
    assert float(logs["d_loss"]) == pytest.approx(expected, rel=1e-4)


def test_gradient_penalty_is_per_sample():
    # With D(c, x) = sum(c * x) sample i's gradient is c_i: the penalty is the mean over the
    # batch of (||c_i|| - 1)^2, not one norm over the whole batch.
    rng = np.random.default_rng(5)
    condition = rng.normal(size=(3, 8, 8, 2)).astype("float32")
    norms = np.array([0.2, 1.0, 2.5], "float32")
    condition *= (norms / np.linalg.norm(condition.reshape(3, -1), axis=1))[:, None, None, None]
    model = Pix2Pix(tiny_generator(), bilinear_critic())
    real, fake = (rng.uniform(-1, 1, (3, 8, 8, 2)).astype("float32") for _ in range(2))
    penalty = float(model._gradient_penalty(*map(tf.constant, (condition, real, fake))))
    assert penalty == pytest.approx(np.mean((norms - 1.0) ** 2), rel=1e-4)  # (0.64 + 0 + 2.25) / 3


def test_extra_critic_steps_reuse_the_one_fake():
    """n_critic = 3: the generator runs once per step, and every critic update judges that fake."""
    generated, judged = [], []
    generator = tiny_generator(dropout=0.5, sink=generated.append)  # dropout: a rerun would differ
    condition, image = keras.Input((8, 8, 1)), keras.Input((8, 8, 2))
    x = keras.layers.Concatenate()([condition, Recorder(judged.append)(image)])
    x = keras.layers.LeakyReLU(0.2)(keras.layers.Conv2D(4, 3, strides=2, padding="same")(x))
    critic = keras.Model([condition, image], keras.layers.Conv2D(1, 3, padding="same")(x))
    keras.utils.set_random_seed(6)
    model = sgd_model(generator, critic, gan_mode="wgangp", n_critic=3)
    rng = np.random.default_rng(6)
    data = (rng.uniform(-1, 1, (2, 8, 8, 1)).astype("float32"), rng.uniform(-1, 1, (2, 8, 8, 2)).astype("float32"))
    model.train_step(tuple(map(tf.constant, data)))  # eagerly, so the recorders see every forward pass
    assert len(generated) == 1
    fake, real = generated[0], data[1]
    kinds = []
    for image in judged:
        if np.array_equal(image, real):
            kinds.append("real")
        elif np.array_equal(image, fake):
            kinds.append("fake")
        else:  # the gradient penalty's alpha * real + (1 - alpha) * fake, alpha per sample
            alpha = np.sum((image - fake) * (real - fake), axis=(1, 2, 3)) / np.sum((real - fake) ** 2, axis=(1, 2, 3))
            np.testing.assert_allclose(alpha[:, None, None, None] * real + (1 - alpha[:, None, None, None]) * fake,
                                       image, atol=1e-5)
            assert np.all((alpha >= 0) & (alpha <= 1))
            kinds.append("mixed")
    assert kinds.count("fake") >= 3 and kinds.count("mixed") >= 3 and kinds.count("real") >= 3
    assert int(model.d_optimizer.iterations.numpy()) == 3 and int(model.g_optimizer.iterations.numpy()) == 1


def instance_norm(x, gamma, beta, epsilon):
    mean = x.mean(axis=(1, 2), keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=(1, 2), keepdims=True) + epsilon) * gamma + beta


@pytest.mark.parametrize("gan_mode", ["wgangp", "vanilla"])
def test_gan_mode_flag_through_train_gives_the_critic_its_norm(gan_mode):
    """train.py's path: flags -> resolve_configs -> build_training; WGAN-GP's critic uses instance norm."""
    import train
    from model.build import build_training

    args = train.build_parser().parse_args(["--image-size", "32", "--num-downs", "5", "--ngf", "8", "--ndf", "8",
                                            "--gan-mode", gan_mode])
    config = train.resolve_configs(args)
    model_cfg, train_cfg = config.model, config.train
    keras.utils.set_random_seed(7)
    _, critic, trainer, g_optimizer, d_optimizer = build_training(
        model_cfg, train_cfg.lr_g, train_cfg.lr_d, train_cfg.beta1, train_cfg.beta2, target_channels=2)
    batch_norms = [layer for layer in critic.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if gan_mode == "vanilla":
        assert len(batch_norms) == 3
        return
    assert not batch_norms
    norms = [layer for layer in critic.layers if isinstance(layer, keras.layers.GroupNormalization)]
    assert [layer.name for layer in norms] == ["norm1", "norm2", "norm3"]
    rng = np.random.default_rng(7)
    for layer in norms:  # each normalises every sample and channel over its own pixels
        channels = layer.gamma.shape[0]
        x = rng.normal(2.0, 3.0, (3, 5, 5, channels)).astype("float32")
        np.testing.assert_allclose(layer(x, training=True),
                                   instance_norm(x, layer.gamma.numpy(), layer.beta.numpy(), layer.epsilon), atol=1e-4)
    # The whole critic judges each sample alone, as the per-sample gradient penalty needs.
    pair = [rng.uniform(-1, 1, (2, 32, 32, c)).astype("float32") for c in (1, 2)]
    together = critic(pair, training=True).numpy()
    alone = np.concatenate([critic([p[i: i + 1] for p in pair], training=True).numpy() for i in range(2)])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    trainer.compile(g_optimizer, d_optimizer, gan_mode=train_cfg.gan_mode, n_critic=train_cfg.n_critic)
    assert trainer.n_critic == 5


@pytest.mark.slow
def test_full_size_default_pix2pix_takes_a_training_step():
    """The default configuration (256 px, unet_256 with ngf 64, 70x70 PatchGAN with ndf 64, FusedAdam)
    as train.py builds it: one fit step at batch 1. Slow: a 54 M-parameter generator on CPU."""
    from model.build import build_training
    from model.config import ModelConfig

    keras.utils.set_random_seed(8)
    generator, discriminator, model, g_optimizer, d_optimizer = build_training(
        ModelConfig(), 2e-4, 2e-4, 0.5, 0.999, target_channels=2)
    model.compile(g_optimizer, d_optimizer)
    assert generator.count_params() == pytest.approx(54.4e6, rel=0.01)
    rng = np.random.default_rng(8)
    condition = rng.uniform(-1, 1, (1, 256, 256, 1)).astype("float32")
    target = rng.uniform(-1, 1, (1, 256, 256, 2)).astype("float32")
    assert discriminator([condition, target]).shape == (1, 30, 30, 1)
    g_before, d_before = weights(generator), weights(discriminator)
    history = model.fit(condition, target, batch_size=1, epochs=1, verbose=0).history
    assert sorted(history) == sorted(KEYS) and all(np.isfinite(history[key][0]) for key in KEYS)
    assert changed(g_before, generator) and changed(d_before, discriminator)
    assert int(g_optimizer.iterations.numpy()) == int(d_optimizer.iterations.numpy()) == 1
    assert generator(condition, training=False).shape == (1, 256, 256, 2)


def test_one_fit_step_under_mixed_bfloat16_keeps_float32_weights_and_finite_losses(data):
    """The fast check of --mixed-precision on CPU (the whole run is the slow test in test_train.py):
    the networks compute in bfloat16, the weights and the logged losses stay float32 and finite."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = make_model()
        assert model.generator.get_layer("down1_conv").compute_dtype == "bfloat16"
        g_before = weights(model.generator)
        history = model.fit(*data, batch_size=4, epochs=1, verbose=0).history
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert all(np.isfinite(history[key][0]) for key in KEYS)
    assert changed(g_before, model.generator)
    assert {w.dtype for w in model.generator.trainable_weights} == {"float32"}


@pytest.mark.filterwarnings("ignore:Your input ran out of data")  # Keras on the unknown length, as in training
def test_validation_losses_on_a_stream_of_unknown_length_are_not_diluted(data):
    """The validation stream leaves out undecodable files, so its length is unknown to Keras, whose
    last call then finds no batch; that call must not count as a step of zero loss."""
    model = make_model(adversarial=False)
    condition, target = data
    known = tf.data.Dataset.from_tensor_slices((condition[:3], target[:3])).batch(4)
    unknown = known.filter(lambda c, t: True)
    assert int(unknown.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    expected = float(np.mean(np.abs(target[:3] - model.generator(condition[:3], training=False).numpy())))
    for stream in (known, unknown):
        assert model.evaluate(stream, verbose=0, return_dict=True)["g_l1"] == pytest.approx(expected, rel=1e-5)
