"""TFLite export of the generator for phones (LiteRT, GPU delegate).

The .tflite model is the network alone, at a fixed shape: input normalised L* [1, S, S, 1]
(L/50 - 1), output normalised a*b* [1, S, S, 2] (x 110 for a*b*). Colour conversion stays in
the app, where the GPU delegate is not needed for it; export.colorize_graph is the reference
implementation of the steps around the model.

A model trained with hints takes them as more input channels of the same tensor: gray
[1, S, S, 4] = L*, the hint's a*b* / 110 and a 0/1 mask (one GPU texture of 4 channels, as
ideepcolor's input); sketch [1, S, S, 5] = line art, hint RGB in [-1, 1] and the mask. No hint:
zeros in the hint channels. pipeline.hints maps an RGBA hint image to them.
"""

import tempfile

import keras
import numpy as np
import tensorflow as tf

QUANTIZATIONS = ("none", "fp16", "dynamic", "int8")

# Ops the TFLite GPU delegate builds (tensorflow/lite/delegates/gpu/common/model_builder.cc);
# only those a colouriser could plausibly contain are listed.
GPU_DELEGATE_OPS = frozenset({
    "ABS", "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D",
    "DEQUANTIZE", "DIV", "ELU", "EXP", "FULLY_CONNECTED", "HARD_SWISH", "LEAKY_RELU", "LOG",
    "LOGISTIC", "MAXIMUM", "MAX_POOL_2D", "MEAN", "MINIMUM", "MUL", "PAD", "PRELU", "QUANTIZE",
    "RELU", "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR",
    "RSQRT", "SLICE", "SOFTMAX", "SQRT", "SQUARE", "SQUARED_DIFFERENCE", "STRIDED_SLICE", "SUB",
    "TANH", "TRANSPOSE_CONV",
})


def convert(generator, model_size, quantization="none", representative_inputs=None):
    """Keras generator -> .tflite bytes with builtin ops only.

    representative_inputs: iterable of float32 arrays [1, S, S, in_channels] in the
    network's input range, required for "int8" (use the training pipeline's conditions).
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}; received quantization={quantization!r}")
    channels = generator.input_shape[-1]

    # Through a Keras ExportArchive SavedModel: the converter then sees the weights as
    # constants, folds BatchNorm into the convolutions and can calibrate int8 (a plain
    # tf.Module here leaves VAR_HANDLE/READ_VARIABLE ops behind).
    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.add_endpoint("network", lambda condition: generator(condition, training=False),
                         input_signature=[tf.TensorSpec([1, model_size, model_size, channels], tf.float32)])
    with tempfile.TemporaryDirectory(prefix="irodori-tflite-") as staging:
        archive.write_out(staging, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(staging, signature_keys=["network"])
        return _configure(converter, quantization, representative_inputs).convert()


def _configure(converter, quantization, representative_inputs):
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no flex ops on phones
    if quantization != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        if representative_inputs is None:
            raise ValueError("int8 quantization needs representative_inputs from the data pipeline")
        samples = [np.asarray(x, np.float32) for x in representative_inputs]
        converter.representative_dataset = lambda: ([x] for x in samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter


def interpreter(model, delegates=True):
    """A LiteRT interpreter for .tflite bytes or a path (XNNPACK on CPU unless delegates=False)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    source = {"model_content": bytes(model)} if isinstance(model, (bytes, bytearray)) else {"model_path": str(model)}
    if not delegates:
        source["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    result = Interpreter(**source)
    result.allocate_tensors()
    return result


def op_names(model):
    """The builtin op names a .tflite model uses, read from the model (no delegate folding them)."""
    return {detail["op_name"] for detail in interpreter(model, delegates=False)._get_ops_details()}


def gpu_incompatible_ops(model):
    """Ops of the model outside the GPU delegate's set; empty means the delegate takes it all.

    tf.lite.experimental.Analyzer's gpu_compatibility flag passes ops the delegate rejects
    (TOPK_V2 in TF 2.21), so the model's own op list is checked against the builder's set.
    """
    return op_names(model) - GPU_DELEGATE_OPS


def run(model_interpreter, condition):
    """Run the network: float32 [1, S, S, C] -> float32 output."""
    input_detail = model_interpreter.get_input_details()[0]
    model_interpreter.set_tensor(input_detail["index"], np.asarray(condition, np.float32))
    model_interpreter.invoke()
    return model_interpreter.get_tensor(model_interpreter.get_output_details()[0]["index"])


def psnr_against(reference_model, model, conditions):
    """Mean PSNR (dB) of a model's outputs against a reference model's, over conditions.

    Outputs are in [-1, 1], so the peak-to-peak range is 2. Identical outputs give inf.
    """
    reference, other = interpreter(reference_model), interpreter(model)
    errors = [np.mean((run(reference, c) - run(other, c)) ** 2) for c in conditions]
    mse = float(np.mean(errors))
    return float("inf") if mse == 0 else float(10 * np.log10(4.0 / mse))
