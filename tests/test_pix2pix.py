import keras
import numpy as np
import pytest

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
    import tensorflow as tf

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
