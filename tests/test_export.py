import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from export import colorize, tflite
from export.colorize_graph import colorize_uint8
from export.saved_model import export_saved_model
from model.unet import UNetGenerator
from tests.conftest import write_rgb

SIZE = 32


@pytest.fixture(scope="module")
def generator():
    keras.utils.set_random_seed(4)
    return UNetGenerator(image_size=SIZE, num_downs=5, ngf=8)


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


CASES = [(1, 32, 32, 3), (3, 32, 32, 3), (1, 45, 70, 3), (3, 50, 38, 1)]

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


def test_reloaded_signature_matches_eager_reference_in_plain_tensorflow(generator, exported, tmp_path):
    _, version_dir = exported
    rng = np.random.default_rng(1)
    inputs = {str(shape): rng.integers(0, 256, size=shape, dtype=np.uint8) for shape in CASES}
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
        reference = colorize_uint8(generator, tf.constant(inputs[str(shape)]), SIZE).numpy()
        assert np.abs(served.astype(int) - reference).max() <= 1


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


def test_saturation_zero_gives_gray(exported):
    model = tf.saved_model.load(exported[1])
    image = np.random.default_rng(5).integers(0, 256, size=(1, 32, 32, 3), dtype=np.uint8)
    out = model.signatures["colorize_tuned"](images=tf.constant(image), saturation=tf.constant(0.0))["colorized"]
    out = out.numpy().astype(int)
    assert np.abs(out[..., 0] - out[..., 1]).max() <= 1 and np.abs(out[..., 1] - out[..., 2]).max() <= 1


def test_wrong_dtype_rank_or_channels_raise_clear_errors(exported):
    serve = tf.saved_model.load(exported[1]).signatures["serving_default"]
    # Loaded signatures report a mismatch as TypeError or, after their fallback, as an
    # InvalidArgumentError naming the expected type or shape.
    mismatch = (TypeError, ValueError, tf.errors.InvalidArgumentError)
    with pytest.raises(mismatch, match="uint8"):
        serve(images=tf.zeros((1, 32, 32, 3), tf.float32))
    with pytest.raises(mismatch, match="4-dimensional|shape|rank"):
        serve(images=tf.zeros((32, 32, 3), tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"1 \(gray\) or 3 \(RGB\) channels"):
        serve(images=tf.zeros((1, 32, 32, 4), tf.uint8))


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


@pytest.mark.parametrize("mode, tolerance", [("none", 1e-5), ("fp16", 1e-2), ("dynamic", 5e-2), ("int8", 0.15)])
def test_tflite_modes_run_in_litert_close_to_keras(generator, tflite_models, mode, tolerance):
    condition = np.random.default_rng(6).uniform(-1, 1, (1, SIZE, SIZE, 1)).astype("float32")
    output = tflite.run(tflite.interpreter(tflite_models[mode]), condition)
    assert output.shape == (1, SIZE, SIZE, 2)
    assert np.abs(output - generator(condition, training=False).numpy()).max() < tolerance


def test_tflite_uses_builtins_only_and_gpu_delegate_ops(tflite_models):
    for mode in ("none", "fp16"):
        ops = tflite.op_names(tflite_models[mode])
        assert {"CONV_2D", "TRANSPOSE_CONV", "CONCATENATION", "TANH"} <= ops
        assert tflite.gpu_incompatible_ops(tflite_models[mode]) == set()
    assert not any(op.startswith("Flex") or op == "CUSTOM" for mode in tflite_models
                   for op in tflite.op_names(tflite_models[mode]))
    sizes = {mode: len(model) for mode, model in tflite_models.items()}
    assert sizes["fp16"] < 0.55 * sizes["none"] and sizes["int8"] < 0.3 * sizes["none"]


def test_gpu_check_flags_ops_outside_the_delegate():
    assert "TOPK_V2" not in tflite.GPU_DELEGATE_OPS and "CONV_2D" in tflite.GPU_DELEGATE_OPS


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


def test_sketch_model_export_matches_reference_and_tflite_colorize_keeps_size(tmp_path):
    keras.utils.set_random_seed(12)
    sketch_generator = UNetGenerator(image_size=SIZE, num_downs=5, ngf=8, out_channels=3)
    version_dir = export_saved_model(sketch_generator, str(tmp_path / "export"), SIZE, task="sketch")
    serve = tf.saved_model.load(version_dir).signatures["serving_default"]
    lines = np.random.default_rng(13).integers(0, 256, size=(2, 40, 24, 1), dtype=np.uint8)
    served = serve(images=tf.constant(lines))["colorized"].numpy()
    reference = colorize_uint8(sketch_generator, tf.constant(lines), SIZE, task="sketch").numpy()
    assert served.shape == (2, 40, 24, 3)
    assert np.abs(served.astype(int) - reference).max() <= 1

    model_file = tmp_path / "sketch.tflite"
    model_file.write_bytes(tflite.convert(sketch_generator, SIZE))
    write_rgb(tmp_path / "lines.png", np.repeat(lines[0], 3, axis=-1))
    assert colorize.main([str(tmp_path / "lines.png"), "-o", str(tmp_path / "out"), "--model", str(model_file)]) == 0
    assert tf.io.decode_png(tf.io.read_file(str(tmp_path / "out" / "lines.png"))).shape == (40, 24, 3)
    with pytest.raises(ValueError, match="task='paint'"):
        export_saved_model(sketch_generator, str(tmp_path / "export"), SIZE, task="paint")


def test_resize_upsampling_generator_exports(tmp_path):
    resize_generator = UNetGenerator(image_size=SIZE, num_downs=5, ngf=8, upsample="resize")
    version_dir = export_saved_model(resize_generator, str(tmp_path), SIZE)
    image = np.random.default_rng(14).integers(0, 256, size=(1, 30, 44, 3), dtype=np.uint8)
    served = tf.saved_model.load(version_dir).signatures["serving_default"](images=tf.constant(image))["colorized"]
    reference = colorize_uint8(resize_generator, tf.constant(image), SIZE).numpy()
    assert np.abs(served.numpy().astype(int) - reference).max() <= 1
