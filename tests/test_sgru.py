import keras
import numpy as np
import pytest
from keras import ops

from model import perceptual
from model.sgru import SGRUGenerator


@pytest.fixture(scope="module")
def sgru():
    keras.utils.set_random_seed(2)
    return SGRUGenerator(image_size=32, num_levels=3, filters=8, num_outputs=9)


@pytest.fixture(scope="module")
def features():
    keras.utils.set_random_seed(3)
    return perceptual.vgg19_features(random_weights=True)


def batch(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=shape).astype("float32")


def test_sgru_output_shape_and_range(sgru):
    output = sgru(batch(2, 32, 32, 1)).numpy()
    assert output.shape == (2, 32, 32, 27)
    assert np.abs(output).max() <= 1.0
    assert sgru(batch(1, 48, 64, 1)).shape == (1, 48, 64, 27)


def test_sgru_blocks_follow_the_paper(sgru):
    names = {layer.name for layer in sgru.layers}
    # each down block: residual path (two convs), swish gate, both max-pooled and concatenated
    for part in ("down0_conv_a", "down0_conv_b", "down0_gate", "down0_swish", "down0_pool_res",
                 "down0_pool_gate", "up0_up_res", "up0_up_gate"):
        assert part in names
    assert sgru.get_layer("down0_gate").activation.__name__ == "sigmoid"
    assert sgru.get_layer("down0_concat").output.shape[-1] == 16  # 8 channels -> 2 x 8
    assert sgru.get_layer("down2_concat").output.shape[-1] == 64


def test_sgru_config_round_trip_and_save(sgru, tmp_path):
    clone = SGRUGenerator.from_config(sgru.get_config())
    assert clone.get_config() == sgru.get_config()
    path = str(tmp_path / "sgru.keras")
    sgru.save(path)
    sketch = batch(1, 32, 32, 1)
    np.testing.assert_allclose(keras.models.load_model(path)(sketch), sgru(sketch), atol=1e-6)
    with pytest.raises(ValueError, match="received image_size=36, num_levels=3"):
        SGRUGenerator(image_size=36, num_levels=3)


def test_perceptual_loss_zero_for_identical_and_grows_with_difference(features):
    sketch = batch(2, 32, 32, 1, seed=1)
    target = batch(2, 32, 32, 3, seed=2)
    noise = batch(2, 32, 32, 3, seed=3)
    losses = [float(ops.mean(perceptual.perceptual_loss_per_sample(
        features, sketch, target, np.clip(target + scale * noise, -1, 1)))) for scale in (0.0, 0.1, 0.3, 0.6)]
    assert losses[0] == 0.0
    assert losses[0] < losses[1] < losses[2] < losses[3]


def test_sketch_lines_weigh_less_than_paper(features):
    target = batch(1, 32, 32, 3, seed=4)
    wrong = batch(1, 32, 32, 3, seed=5)
    paper = np.ones((1, 32, 32, 1), "float32")
    ink = -paper
    on_paper = float(perceptual.perceptual_loss_per_sample(features, paper, target, wrong)[0])
    on_ink = float(perceptual.perceptual_loss_per_sample(features, ink, target, wrong)[0])
    assert on_ink == 0.0 and on_paper > 0.0


def test_min_over_outputs_picks_the_closest(features):
    sketch = batch(1, 32, 32, 1, seed=6)
    target = batch(1, 32, 32, 3, seed=7)
    far = batch(1, 32, 32, 3, seed=8)
    near = np.clip(target + 0.05 * batch(1, 32, 32, 3, seed=9), -1, 1)
    outputs = np.concatenate([far, near, -far], axis=-1)  # N = 3, the second is closest
    per_output = np.array([float(perceptual.perceptual_loss_per_sample(features, sketch, target, o)[0])
                           for o in (far, near, -far)])
    assert per_output.argmin() == 1
    total = float(perceptual.sgru_loss(features, sketch, target, outputs, num_outputs=3))
    assert total == pytest.approx(0.999 * per_output[1] + 0.001 * per_output.mean(), rel=1e-4)


# The SGRU paper's perceptual loss (Liu, Chen and Hu, 2018): the image, then VGG19 conv1_2 ...
# conv5_2 (Keras' block{i}_conv2), weighted 0.88, 0.79, 0.63, 0.51, 0.39, 1.07.
PAPER_LAYERS = ["block1_conv2", "block2_conv2", "block3_conv2", "block4_conv2", "block5_conv2"]
PAPER_WEIGHTS = [0.88, 0.79, 0.63, 0.51, 0.39, 1.07]


def reference_vgg(features):
    """keras.applications' VGG19 with the features model's weights, fed by vgg19.preprocess_input."""
    inner = [layer for layer in features.layers if isinstance(layer, keras.Model)][0]
    vgg = keras.applications.VGG19(include_top=False, weights=None)
    copied = [layer.name for layer in inner.layers if layer.weights]
    for name in copied:
        vgg.get_layer(name).set_weights(inner.get_layer(name).get_weights())
    assert copied[-1] == "block5_conv2" and len(copied) == 14
    extract = keras.Model(vgg.input, [vgg.get_layer(name).output for name in PAPER_LAYERS])
    # RGB in [-1, 1] -> [0, 255] -> Keras' Caffe preprocessing (BGR, ImageNet means subtracted)
    return lambda rgb: [f.numpy() for f in extract(keras.applications.vgg19.preprocess_input((rgb + 1.0) * 127.5))]


def test_vgg_features_take_vgg19_preprocessing_and_the_paper_layers(features):
    rgb = batch(2, 32, 32, 3, seed=12)
    ours = [f.numpy() for f in features(rgb)]
    theirs = reference_vgg(features)(rgb)
    assert [f.shape for f in ours] == [(2, 32, 32, 64), (2, 16, 16, 128), (2, 8, 8, 256), (2, 4, 4, 512),
                                       (2, 2, 2, 512)]
    for index, (a, b) in enumerate(zip(ours, theirs)):
        assert np.abs(b).max() > 0
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max(), err_msg=PAPER_LAYERS[index])


def test_each_term_has_the_papers_weight():
    """Features that differ in one term only, by 1 everywhere, on blank paper: the loss is that term's weight."""
    sketch = np.ones((1, 32, 32, 1), "float32")  # white paper: mask 1 everywhere
    target = np.zeros((1, 32, 32, 3), "float32")
    sizes = [32, 16, 8, 4, 2]
    for term, weight in enumerate(PAPER_WEIGHTS):
        prediction = target + (1.0 if term == 0 else 0.0)
        same = [np.zeros((1, size, size, 4), "float32") for size in sizes]
        differ = [same[i] + (1.0 if i == term - 1 else 0.0) for i in range(5)]
        loss = perceptual.perceptual_loss_per_sample(lambda _: differ, sketch, target, prediction,
                                                     target_features=same)
        assert float(loss[0]) == pytest.approx(weight, rel=1e-6), term


def block_mean(mask, size):
    """Area resize of a square (batch, S, S, 1) mask to size x size, S a multiple of size."""
    factor = mask.shape[1] // size
    return mask.reshape(mask.shape[0], size, factor, size, factor, 1).mean(axis=(2, 4))


@pytest.fixture(scope="module")
def he_features():
    """Random VGG19 features whose activations keep their size with depth (He-scaled kernels), so
    that each of the six terms is a sizeable part of the loss."""
    he = perceptual.vgg19_features(random_weights=True)
    inner = [layer for layer in he.layers if isinstance(layer, keras.Model)][0]
    rng = np.random.default_rng(16)
    for layer in inner.layers:
        if layer.weights:
            kernel = layer.kernel.numpy()
            layer.kernel.assign(rng.normal(0.0, np.sqrt(2.0 / np.prod(kernel.shape[:3])), kernel.shape))
    return he


def test_perceptual_loss_equals_a_numpy_computation(he_features):
    features = he_features
    sketch, target, prediction = batch(2, 32, 32, 1, seed=13), batch(2, 32, 32, 3, seed=14), batch(2, 32, 32, 3, seed=15)
    vgg = reference_vgg(features)
    mask = (sketch + 1.0) / 2.0
    terms = [PAPER_WEIGHTS[0] * np.mean(mask * np.abs(target - prediction), axis=(1, 2, 3))]
    for weight, real, fake in zip(PAPER_WEIGHTS[1:], vgg(target), vgg(prediction)):
        terms.append(weight * np.mean(block_mean(mask, real.shape[1]) * np.abs(real - fake), axis=(1, 2, 3)))
    expected = np.sum(terms, axis=0)
    # Every term is at least 0.5% of the loss (0.6% to 44% here), so a wrong weight or layer shows.
    assert all(np.all(term > 0.005 * expected) for term in terms)
    np.testing.assert_allclose(perceptual.perceptual_loss_per_sample(features, sketch, target, prediction), expected,
                               rtol=1e-4)


def test_missing_vgg_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="save_weights.*--vgg-weights"):
        perceptual.vgg19_features(str(tmp_path / "missing.weights.h5"))
    with pytest.raises(FileNotFoundError, match="cannot be downloaded here"):
        perceptual.vgg19_features(None)


def test_vgg_weights_load_from_a_local_file(tmp_path):
    keras.utils.set_random_seed(11)
    vgg = keras.applications.VGG19(include_top=False, weights=None)
    path = str(tmp_path / "vgg19.weights.h5")
    vgg.save_weights(path)
    loaded = perceptual.vgg19_features(path)
    inner = [layer for layer in loaded.layers if isinstance(layer, keras.Model)][0]
    np.testing.assert_array_equal(inner.get_layer("block1_conv2").kernel.numpy(),
                                  vgg.get_layer("block1_conv2").kernel.numpy())


def test_one_fit_step_on_the_sketch_task_changes_weights(features):
    from model.patchgan import PatchGANDiscriminator
    from model.sgru_trainer import SGRUTrainer

    keras.utils.set_random_seed(21)
    generator = SGRUGenerator(image_size=32, num_levels=3, filters=8, num_outputs=3)
    discriminator = PatchGANDiscriminator(ndf=8, target_channels=3)
    sketches, targets = batch(4, 32, 32, 1, seed=22), batch(4, 32, 32, 3, seed=23)
    for adversarial in (False, True):
        trainer = SGRUTrainer(generator, discriminator, features, num_outputs=3, gan_weight=0.1)
        trainer.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), l1_weight=1.0,
                        adversarial=adversarial)
        g_before = [w.numpy().copy() for w in generator.trainable_weights]
        d_before = [w.numpy().copy() for w in discriminator.trainable_weights]
        logs = trainer.fit(sketches, targets, batch_size=4, epochs=1, verbose=0).history
        assert sorted(logs) == ["d_loss", "g_gan", "g_l1", "g_total"]
        assert np.isfinite(logs["g_total"][0]) and logs["g_l1"][0] > 0
        assert any(not np.array_equal(a, w.numpy()) for a, w in zip(g_before, generator.trainable_weights))
        d_changed = any(not np.array_equal(a, w.numpy()) for a, w in zip(d_before, discriminator.trainable_weights))
        assert d_changed == adversarial
    # The VGG features are a fixed measure, never trained.
    assert not features.trainable_weights
