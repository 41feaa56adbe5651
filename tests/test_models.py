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


# (layer, input channels, output channels) of the tiny networks below (ngf = ndf = 8), 4x4
# kernels throughout; each kernel has at least 2048 values, so its sample std is within
# about 2% of the distribution's.
UNET_CONVS = [("down1_conv", 8, 16), ("down2_conv", 16, 32), ("down3_conv", 32, 64), ("down4_conv", 64, 64)]
# Transposed convs as pix2pix's PyTorch init sees them: ConvTranspose2d's weight is
# (in, out, k, k) and torch takes fan_in from its second axis, out * k * k; Keras' kernel
# (k, k, out, in) gives the same fans. up3 maps the 64-channel bottleneck to 64, up2 the
# 128 channels of up3 + skip to 32.
UNET_TRANSPOSED = [("up3_tconv", 64, 64), ("up2_tconv", 128, 32)]
PATCHGAN_CONVS = [("conv1", 8, 16), ("conv2", 16, 32), ("conv3", 32, 64)]


def expected_std(init, fan_in, fan_out):
    """N(0, 0.02) as pix2pix; Glorot's sqrt(2 / (fan_in + fan_out)); He's sqrt(2 / fan_in) (kaiming_normal_,
    fan_in, ReLU gain). junyanz's "xavier" multiplies Glorot's std by init_gain = 0.02; Irodori's keeps gain 1."""
    return {"normal": 0.02, "xavier": np.sqrt(2.0 / (fan_in + fan_out)), "he": np.sqrt(2.0 / fan_in)}[init]


@pytest.mark.parametrize("init", ["normal", "xavier", "he"])
def test_weight_init_choices(init):
    keras.utils.set_random_seed(5)
    generator = UNetGenerator(image_size=32, num_downs=5, ngf=8, init=init)
    discriminator = PatchGANDiscriminator(ndf=8, init=init)
    checked = []
    for network, convs in ((generator, UNET_CONVS), (generator, UNET_TRANSPOSED), (discriminator, PATCHGAN_CONVS)):
        for name, channels_in, channels_out in convs:
            kernel = network.get_layer(name).kernel.numpy()
            if name.endswith("tconv"):
                assert kernel.shape == (4, 4, channels_out, channels_in)
                fan_in, fan_out = 16 * channels_out, 16 * channels_in
            else:
                assert kernel.shape == (4, 4, channels_in, channels_out)
                fan_in, fan_out = 16 * channels_in, 16 * channels_out
            want = expected_std(init, fan_in, fan_out)
            assert kernel.std() == pytest.approx(want, rel=0.1), (name, kernel.std(), want)
            assert abs(kernel.mean()) < 0.1 * want, name
            checked.append(name)
    assert len(checked) == 9


def test_invalid_configs_name_the_value():
    with pytest.raises(ValueError, match=r"multiple of 2\*\*num_downs \(256\); received image_size=300"):
        ModelConfig(image_size=300, num_downs=8)
    with pytest.raises(ValueError, match="upsample=.*nearest"):
        UNetGenerator(image_size=32, num_downs=5, upsample="nearest")
    with pytest.raises(ValueError, match="norm=.*layer"):
        PatchGANDiscriminator(norm="layer")
