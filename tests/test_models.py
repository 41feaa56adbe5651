import keras
import numpy as np
import pytest
import tensorflow as tf

from model.config import ModelConfig
from model.patchgan import PatchGANDiscriminator
from model.unet import UNetGenerator


@pytest.fixture(scope="module")
def generator():
    keras.utils.set_random_seed(1)
    return UNetGenerator(image_size=32, num_downs=5, ngf=8)


@pytest.fixture(scope="module")
def discriminator():
    return PatchGANDiscriminator(ndf=8)


def random_batch(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=shape).astype("float32")


@pytest.mark.parametrize("size", [(32, 32), (64, 96)])
def test_generator_output_shape_and_range(generator, size):
    output = generator(random_batch(3, *size, 1)).numpy()
    assert output.shape == (3, *size, 2)
    assert np.abs(output).max() <= 1.0


def test_resize_upsampling_generator_shape_and_no_transposed_convs():
    resize = UNetGenerator(image_size=32, num_downs=5, ngf=8, upsample="resize", in_channels=1, out_channels=3)
    assert resize(random_batch(2, 32, 32, 1)).shape == (2, 32, 32, 3)
    assert not any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in resize.layers)


def test_generator_structure_follows_pix2pix(generator):
    downs = [layer for layer in generator.layers if layer.name.endswith("_conv") and layer.name.startswith("down")]
    assert [layer.filters for layer in downs] == [8, 16, 32, 64, 64]
    norms = {layer.name for layer in generator.layers if isinstance(layer, keras.layers.BatchNormalization)}
    assert "down0_bn" not in norms and "down4_bn" not in norms and "down1_bn" in norms
    dropouts = sorted(layer.name for layer in generator.layers if isinstance(layer, keras.layers.Dropout))
    assert dropouts == ["up1_dropout", "up2_dropout", "up3_dropout"]


def test_full_size_pix2pix_generator_has_the_reference_parameter_count():
    # junyanz's unet_256 with ngf=64 and one input / two output channels: 54.4 M parameters.
    full = UNetGenerator(image_size=256, num_downs=8, ngf=64)
    assert full.count_params() == pytest.approx(54.4e6, rel=0.01)


def test_generator_is_deterministic_at_inference(generator):
    batch = random_batch(2, 32, 32, 1)
    np.testing.assert_array_equal(generator(batch, training=False), generator(batch, training=False))


def test_discriminator_patch_grid_matches_reference(discriminator):
    assert discriminator([random_batch(2, 256, 256, 1), random_batch(2, 256, 256, 2)]).shape == (2, 30, 30, 1)
    assert discriminator([random_batch(1, 64, 64, 1), random_batch(1, 64, 64, 2)]).shape == (1, 6, 6, 1)


def test_discriminator_receptive_field_is_70(discriminator):
    condition = tf.Variable(random_batch(1, 128, 128, 1))
    image = tf.Variable(random_batch(1, 128, 128, 2))
    with tf.GradientTape() as tape:
        logits = discriminator([condition, image], training=False)
        centre = logits[0, logits.shape[1] // 2, logits.shape[2] // 2, 0]
    gradient = np.abs(tape.gradient(centre, image).numpy()[0]).sum(axis=-1)
    rows, cols = np.nonzero(gradient)
    assert rows.max() - rows.min() + 1 == 70 and cols.max() - cols.min() + 1 == 70


@pytest.mark.parametrize("model_fixture", ["generator", "discriminator"])
def test_get_config_round_trip(request, model_fixture):
    model = request.getfixturevalue(model_fixture)
    config = model.get_config()
    clone = type(model).from_config(config)
    assert clone.get_config() == config
    assert clone.count_params() == model.count_params()


def test_keras_save_and_reload_give_equal_outputs(generator, tmp_path):
    path = str(tmp_path / "generator.keras")
    generator.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded, UNetGenerator)
    batch = random_batch(2, 32, 32, 1)
    np.testing.assert_allclose(reloaded(batch), generator(batch), atol=1e-6)


@pytest.mark.parametrize("init, low, high", [("normal", 0.015, 0.025), ("he", 0.05, 1.0)])
def test_weight_init_choices(init, low, high):
    model = UNetGenerator(image_size=32, num_downs=5, ngf=8, init=init)
    kernel = model.get_layer("down2_conv").kernel.numpy()
    assert low < kernel.std() < high


def test_invalid_configs_name_the_value():
    with pytest.raises(ValueError, match=r"multiple of 2\*\*num_downs \(256\); received image_size=300"):
        ModelConfig(image_size=300, num_downs=8)
    with pytest.raises(ValueError, match="upsample=.*nearest"):
        UNetGenerator(image_size=32, num_downs=5, upsample="nearest")
    with pytest.raises(ValueError, match="norm=.*layer"):
        PatchGANDiscriminator(norm="layer")
