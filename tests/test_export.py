import os
import subprocess
import sys

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers, ops
from skimage import color as skcolor

from export import colorize, tflite
from export.colorize_graph import colorize_rgb
from export.colorizer import Colorizer
from export.saved_model import export_saved_model
from model.sgru import SGRUGenerator
from model.unet import UNetGenerator
from tests.conftest import write_rgb
from tests.references import assert_colourful, independent_gray_reference, lab2rgb_uint8, widen_outputs

SIZE = 32


def colourful_unet(seed, **kwargs):
    keras.utils.set_random_seed(seed)
    return widen_outputs(UNetGenerator(image_size=SIZE, num_downs=5, ngf=8, init="he", **kwargs), 0.4)


def pictures(shape, seed):
    """uint8 [N, H, W, C]: smooth random shapes plus noise, so both the network's small input and
    the full-resolution L* vary."""
    rng = np.random.default_rng(seed)
    count, height, width, channels = shape
    coarse = rng.uniform(0, 255, (count, 5, 4, channels))
    smooth = np.stack([cv2.resize(c, (width, height), interpolation=cv2.INTER_CUBIC).reshape(height, width, channels)
                       for c in coarse])
    return np.clip(smooth + rng.normal(0, 12, shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def generator():
    return colourful_unet(4)


@pytest.fixture(scope="module")
def exported(generator, tmp_path_factory):
    export_dir = str(tmp_path_factory.mktemp("export"))
    return export_dir, export_saved_model(generator, export_dir, SIZE)


@pytest.fixture(scope="module")
def tflite_models(generator):
    rng = np.random.default_rng(0)
    calibration = [rng.uniform(-1, 1, (1, SIZE, SIZE, 1)).astype("float32") for _ in range(8)]
    return {mode: tflite.convert(generator, SIZE, mode, representative_inputs=calibration)
            for mode in tflite.QUANTIZATIONS}


# Non-square and larger than the model: the area resize really averages.
CASES = [(1, 32, 32, 3), (3, 32, 32, 3), (1, 45, 70, 3), (3, 50, 38, 1), (2, 97, 41, 3)]

# Runs in a fresh interpreter that imports TensorFlow only, as a serving client would.
RELOAD_SCRIPT = """
import sys, numpy as np, tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
inputs = np.load(sys.argv[2], allow_pickle=True).item()
outputs = {k: model.signatures["serving_default"](images=tf.constant(v))["colorized"].numpy()
           for k, v in inputs.items()}
np.save(sys.argv[3], outputs)
leaked = [m for m in ("tensorflow_io", "model", "pipeline", "export") if m in sys.modules]
print("LEAKED", leaked)
"""


def test_reloaded_signature_matches_an_independent_reference_in_plain_tensorflow(generator, exported, tmp_path):
    _, version_dir = exported
    inputs = {str(shape): pictures(shape, seed) for seed, shape in enumerate(CASES)}
    np.save(tmp_path / "in.npy", inputs)
    result = subprocess.run([sys.executable, "-c", RELOAD_SCRIPT, version_dir, str(tmp_path / "in.npy"),
                             str(tmp_path / "out.npy")], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path,  # where the project's packages cannot be imported
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "LEAKED []" in result.stdout
    outputs = np.load(tmp_path / "out.npy", allow_pickle=True).item()
    for shape in CASES:
        served = outputs[str(shape)]
        assert served.shape == (*shape[:3], 3) and served.dtype == np.uint8
        reference = independent_gray_reference(generator, inputs[str(shape)], SIZE)
        assert_colourful(reference)
        assert np.abs(served.astype(int) - reference).max() <= 2, shape
        # Saving changed nothing: the reloaded graph equals the in-process one.
        in_process = colorize_rgb(lambda c: generator(c, training=False), tf.constant(inputs[str(shape)]), SIZE)
        assert np.abs(served.astype(int) - in_process).max() <= 1


@pytest.mark.parametrize("mode", ["none", "fp16"])
def test_tflite_colorizer_matches_the_independent_reference(generator, tflite_models, tmp_path, mode):
    model_file = tmp_path / f"{mode}.tflite"
    model_file.write_bytes(tflite_models[mode])
    colorizer = Colorizer(str(model_file))
    assert (colorizer.task, colorizer.colorings, colorizer.size) == ("gray", 1, SIZE)
    for seed, shape in enumerate(CASES[2:]):
        images = pictures(shape, 100 + seed)
        rgb = np.repeat(images, 3, axis=-1) if shape[-1] == 1 else images
        colored = colorizer(tf.constant(rgb / 255.0, tf.float32))
        assert colored.shape == (shape[0], 1, *shape[1:3], 3)
        reference = independent_gray_reference(generator, images, SIZE)
        assert_colourful(reference)
        assert np.abs(colored[:, 0].astype(int) - reference).max() <= 2, shape


def test_output_keeps_the_input_lightness(exported):
    model = tf.saved_model.load(exported[1])
    gray = np.random.default_rng(2).integers(0, 256, size=(1, 40, 56, 1), dtype=np.uint8)
    colored = model.signatures["serving_default"](images=tf.constant(gray))["colorized"]
    from pipeline import color

    lightness_in = color.rgb_to_lab(tf.cast(tf.tile(gray, [1, 1, 1, 3]), tf.float32) / 255)[..., 0]
    lightness_out = color.rgb_to_lab(tf.cast(colored, tf.float32) / 255)[..., 0]
    # Gamut clipping of strong colours can move L a little; on average it is kept.
    assert float(tf.reduce_mean(tf.abs(lightness_in - lightness_out))) < 2.0


def test_bytes_signature_round_trip(exported):
    model = tf.saved_model.load(exported[1])
    image = np.random.default_rng(3).integers(0, 256, size=(36, 52, 3), dtype=np.uint8)
    encoded = [tf.io.encode_png(image).numpy(), tf.io.encode_jpeg(image).numpy()]
    result = model.signatures["colorize_bytes"](image_bytes=tf.constant(encoded))["png_bytes"].numpy()
    assert len(result) == 2
    from_png = tf.io.decode_png(result[0]).numpy()
    assert from_png.shape == (36, 52, 3)
    direct = model.signatures["serving_default"](images=tf.constant(image[None]))["colorized"].numpy()[0]
    assert np.abs(from_png.astype(int) - direct).max() <= 1
    assert tf.io.decode_png(result[1]).shape == (36, 52, 3)


def constant_ab_generator(a, b):
    """A generator that answers a*b* = (a, b) at every pixel: a 1x1 convolution, zero kernel, that bias."""
    condition = keras.Input((None, None, 1), name="condition")
    convolution = layers.Conv2D(2, 1, name="constant_ab")
    model = keras.Model(condition, convolution(condition))
    convolution.set_weights([np.zeros((1, 1, 1, 2), np.float32), np.array([a, b], np.float32) / 110.0])
    return model


def test_saturation_scales_a_known_chroma(tmp_path):
    a, b = 14.0, -20.0
    version_dir = export_saved_model(constant_ab_generator(a, b), str(tmp_path), SIZE)
    tuned = tf.saved_model.load(version_dir).signatures["colorize_tuned"]
    image = pictures((1, 40, 56, 3), 11) // 2 + 80  # mid lightness: the doubled chroma mostly stays in gamut
    lightness = skcolor.rgb2lab(image[0] / 255.0)[..., :1]

    def served(saturation):
        out = tuned(images=tf.constant(image), saturation=tf.constant(saturation))["colorized"].numpy()[0]
        assert out.shape == (40, 56, 3)
        return out.astype(int)

    def expected(saturation):
        return lab2rgb_uint8(np.concatenate([lightness, np.broadcast_to([saturation * a, saturation * b],
                                                                          (40, 56, 2))], axis=-1)).astype(int)

    gray = served(0.0)
    assert np.abs(gray[..., 0] - gray[..., 1]).max() <= 1 and np.abs(gray[..., 1] - gray[..., 2]).max() <= 1
    assert np.abs(gray - expected(0.0)).max() <= 2
    assert np.abs(served(1.0) - expected(1.0)).max() <= 2
    doubled = served(2.0)
    assert np.abs(doubled - expected(2.0)).max() <= 2
    # Where neither colour was clipped to the gamut, the chroma really doubled.
    unclipped = np.all((expected(2.0) > 0) & (expected(2.0) < 255), axis=-1)
    assert unclipped.mean() > 0.5
    chroma = {s: np.hypot(*skcolor.rgb2lab(served(s) / 255.0)[..., 1:].transpose(2, 0, 1))[unclipped] for s in (1.0, 2.0)}
    assert np.abs(chroma[1.0] - np.hypot(a, b)).max() < 2.0
    assert np.abs(chroma[2.0] / chroma[1.0] - 2.0).max() < 0.1


def test_wrong_dtype_rank_or_channels_raise_clear_errors(exported):
    serve = tf.saved_model.load(exported[1]).signatures["serving_default"]
    # Loaded signatures report a mismatch as TypeError or, after their fallback, as an
    # InvalidArgumentError naming the expected type or shape.
    mismatch = (TypeError, ValueError, tf.errors.InvalidArgumentError)
    with pytest.raises(mismatch, match="uint8"):
        serve(images=tf.zeros((1, 32, 32, 3), tf.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images must be uint8 \[N, H, W, C\]"):
        serve(images=tf.zeros((32, 32, 3), tf.uint8))  # our message, not a kernel's
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"1 \(gray\), 3 \(RGB\) or 4 \(RGBA\)"):
        serve(images=tf.zeros((1, 32, 32, 2), tf.uint8))


def test_versions_increase_and_are_never_overwritten(generator, exported):
    export_dir, first = exported
    assert first == os.path.join(export_dir, "irodori", "1")
    before = open(os.path.join(first, "saved_model.pb"), "rb").read()
    second = export_saved_model(generator, export_dir, SIZE)
    assert second == os.path.join(export_dir, "irodori", "2")
    assert open(os.path.join(first, "saved_model.pb"), "rb").read() == before
    assert sorted(os.listdir(os.path.join(export_dir, "irodori"))) == ["1", "2"]  # no staging left
    config = open(os.path.join(export_dir, "models.config")).read()
    assert 'name: "irodori"' in config and 'base_path: "/models/irodori"' in config


def psnr(reference, outputs):
    """PSNR (dB) for outputs in [-1, 1] (peak-to-peak 2)."""
    return float(10 * np.log10(4.0 / np.mean((np.asarray(outputs) - reference) ** 2)))


# Measured with this generator: none 145 dB, fp16 84, dynamic 56, int8 48 (an all-zero model: 15).
@pytest.mark.parametrize("mode, min_psnr, max_error",
                         [("none", 100, 1e-5), ("fp16", 70, 5e-3), ("dynamic", 45, 0.05), ("int8", 40, 0.1)])
def test_tflite_modes_run_in_litert_close_to_keras(generator, tflite_models, mode, min_psnr, max_error):
    rng = np.random.default_rng(6)
    conditions = [rng.uniform(-1, 1, (1, SIZE, SIZE, 1)).astype("float32") for _ in range(4)]
    expected = np.concatenate([generator(c, training=False).numpy() for c in conditions])
    # The outputs span a real range, so an all-zero (or constant) model fails both bounds.
    assert expected.std() > 0.25 and np.abs(expected).max() > 5 * max_error
    assert psnr(expected, np.zeros_like(expected)) < min_psnr - 20
    assert psnr(expected, np.full_like(expected, expected.mean())) < min_psnr - 20

    model_interpreter = tflite.interpreter(tflite_models[mode])
    output = np.concatenate([tflite.run(model_interpreter, c) for c in conditions])
    assert output.shape == (4, SIZE, SIZE, 2)
    assert psnr(expected, output) > min_psnr
    assert np.abs(output - expected).max() < max_error


def test_tflite_uses_builtins_only_and_gpu_delegate_ops(tflite_models):
    for mode in ("none", "fp16", "int8"):
        ops = tflite.op_names(tflite_models[mode])
        assert {"CONV_2D", "TRANSPOSE_CONV", "CONCATENATION", "TANH"} <= ops
        assert tflite.gpu_incompatible_ops(tflite_models[mode]) == set()
    assert {"QUANTIZE", "DEQUANTIZE"} <= tflite.op_names(tflite_models["int8"])
    assert not any(op.startswith("Flex") or op == "CUSTOM" for mode in tflite_models
                   for op in tflite.op_names(tflite_models[mode]))
    sizes = {mode: len(model) for mode, model in tflite_models.items()}
    assert sizes["fp16"] < 0.55 * sizes["none"] and sizes["int8"] < 0.3 * sizes["none"]


def test_gpu_check_flags_ops_outside_the_delegate():
    """A converted network with TOPK_V2 and CUMSUM (builtins the GPU delegate does not build;
    tf.lite.experimental.Analyzer calls this model GPU compatible) is flagged, op by op."""
    condition = keras.Input((None, None, 1), name="condition")
    features = layers.Conv2D(4, 3, padding="same")(condition)
    largest, _ = ops.top_k(features, 2)
    model = keras.Model(condition, ops.cumsum(largest, axis=-1))
    converted = tflite.convert(model, 8)
    assert tflite.op_names(converted) == {"CONV_2D", "TOPK_V2", "CUMSUM"}
    assert tflite.gpu_incompatible_ops(converted) == {"TOPK_V2", "CUMSUM"}


def test_gpu_check_passes_the_other_generators():
    """The resize-upsampling U-Net (no TRANSPOSE_CONV) and the SGRU, fp32 and int8, stay on the delegate
    (the transposed-convolution U-Net's fp32, fp16 and int8 models are checked above)."""
    resize_unet = colourful_unet(15, upsample="resize")
    keras.utils.set_random_seed(16)
    sgru = SGRUGenerator(image_size=SIZE, num_levels=3, filters=8, num_outputs=2)
    calibration = [np.random.default_rng(i).uniform(-1, 1, (1, SIZE, SIZE, 1)).astype("float32") for i in range(4)]
    for network, expected_ops, modes in ((resize_unet, {"RESIZE_BILINEAR", "CONV_2D"}, ("none",)),
                                         (sgru, {"RESIZE_BILINEAR", "LOGISTIC", "MUL", "MAX_POOL_2D"}, ("none", "int8"))):
        for mode in modes:
            converted = tflite.convert(network, SIZE, mode, representative_inputs=calibration)
            ops_used = tflite.op_names(converted)
            assert expected_ops <= ops_used and "TRANSPOSE_CONV" not in ops_used, (network.name, mode, ops_used)
            assert tflite.gpu_incompatible_ops(converted) == set(), (network.name, mode)


def test_colorize_keeps_resolution_with_saved_model_and_tflite(exported, tflite_models, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_rgb(inputs / "wide.png", np.random.default_rng(7).integers(0, 256, (50, 90, 3), dtype=np.uint8))
    write_rgb(inputs / "tall.jpg", np.random.default_rng(8).integers(0, 256, (70, 40, 3), dtype=np.uint8))
    (inputs / "broken.png").write_text("not an image")
    model_file = tmp_path / "model.tflite"
    model_file.write_bytes(tflite_models["none"])
    for model in (os.path.dirname(exported[1]), str(model_file)):
        out = tmp_path / f"out_{os.path.basename(model)}"
        assert colorize.main([str(inputs), "-o", str(out), "--model", model]) == 0
        assert sorted(os.listdir(out)) == ["tall.png", "wide.png"]
        assert tf.io.decode_png(tf.io.read_file(str(out / "wide.png"))).shape == (50, 90, 3)
        assert tf.io.decode_png(tf.io.read_file(str(out / "tall.png"))).shape == (70, 40, 3)
        captured = capsys.readouterr()
        assert "coloured 2 of 3 images" in captured.out and "broken.png" in captured.err


def test_colorize_without_any_model_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert colorize.main([str(tmp_path), "-o", str(tmp_path / "out")]) == 2
    assert "no exported model under runs/" in capsys.readouterr().err


def serve_grpc(model, request):
    """What tensorflow_model_server does with a PredictRequest, done on the reloaded SavedModel."""
    from tensorflow_serving.apis import predict_pb2

    signature = model.signatures[request.model_spec.signature_name]
    inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
    response = predict_pb2.PredictResponse()
    for name, value in signature(**inputs).items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
    return response


def serve_rest(model, body):
    """What TF Serving's REST API does with a columnar :predict body (b64 in, *_bytes out as b64)."""
    import base64

    signature = model.signatures[body["signature_name"]]
    inputs = {}
    for name, value in body["inputs"].items():
        spec = signature.structured_input_signature[1][name]
        if spec.dtype == tf.string:
            value = [base64.b64decode(item["b64"]) for item in value]
        inputs[name] = tf.constant(value, dtype=spec.dtype)
    outputs = {}
    for name, value in signature(**inputs).items():
        value = value.numpy()
        outputs[name] = ([{"b64": base64.b64encode(v).decode()} for v in value] if name.endswith("_bytes")
                         else value.tolist())
    return {"outputs": outputs}


def test_serving_client_requests_give_the_signature_results(exported):
    pytest.importorskip("tensorflow_serving")
    from export import serving_client

    model = tf.saved_model.load(exported[1])
    images = np.random.default_rng(9).integers(0, 256, size=(2, 32, 40, 3), dtype=np.uint8)
    direct = model.signatures["serving_default"](images=tf.constant(images))["colorized"].numpy()
    png = tf.io.encode_png(images[0]).numpy()

    via_grpc = serving_client.parse_grpc_response(serve_grpc(model, serving_client.grpc_request(images=images)))
    np.testing.assert_array_equal(via_grpc, direct)
    via_rest = serving_client.parse_rest_response(serve_rest(model, serving_client.rest_request(images=images)))
    np.testing.assert_array_equal(via_rest, direct)

    tuned = serving_client.parse_rest_response(
        serve_rest(model, serving_client.rest_request(images=images, saturation=1.0)))
    np.testing.assert_array_equal(tuned, direct)

    for pngs in (serving_client.parse_grpc_response(serve_grpc(model, serving_client.grpc_request(encoded_images=[png]))),
                 serving_client.parse_rest_response(serve_rest(model, serving_client.rest_request(encoded_images=[png])))):
        assert len(pngs) == 1
        assert np.abs(tf.io.decode_png(pngs[0]).numpy().astype(int) - direct[0]).max() <= 1


def test_serving_client_rejects_bad_images():
    from export import serving_client

    with pytest.raises(ValueError, match="uint8 \\[N, H, W, 1 or 3\\]; received float32"):
        serving_client.rest_request(images=np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="exactly one"):
        serving_client.rest_request()


def test_resize_upsampling_generator_exports(tmp_path):
    resize_generator = colourful_unet(14, upsample="resize")
    version_dir = export_saved_model(resize_generator, str(tmp_path), SIZE)
    image = pictures((2, 30 + SIZE, 44, 3), 14)
    served = tf.saved_model.load(version_dir).signatures["serving_default"](images=tf.constant(image))["colorized"]
    reference = independent_gray_reference(resize_generator, image, SIZE)
    assert_colourful(reference)
    assert np.abs(served.numpy().astype(int) - reference).max() <= 2
