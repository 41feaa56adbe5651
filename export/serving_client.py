"""Requests and responses for a TF Serving deployment of Irodori, REST and gRPC.

REST:  POST http://HOST:8501/v1/models/irodori:predict  with  rest_request(...)  as JSON body.
gRPC:  PredictionService.Predict on HOST:8500            with  grpc_request(...).
Binary values travel as {"b64": ...} in JSON; TF Serving decodes them for string inputs
and encodes string outputs whose name ends in "_bytes" (hence "png_bytes").
"""

import base64

import numpy as np

IMAGES_SIGNATURE = "serving_default"
TUNED_SIGNATURE = "colorize_tuned"
BYTES_SIGNATURE = "colorize_bytes"


def _check_images(images):
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be uint8 [N, H, W, 1 or 3]; received {images.dtype} {images.shape}")
    return images


def rest_request(images=None, encoded_images=None, saturation=None):
    """JSON body for :predict, columnar ("inputs") format.

    images: uint8 array [N, H, W, 1|3] (all the same size), or
    encoded_images: list of PNG/JPEG/... file contents (any sizes).
    saturation: with images, selects the colorize_tuned signature.
    """
    if (images is None) == (encoded_images is None):
        raise ValueError("give exactly one of images or encoded_images")
    if encoded_images is not None:
        return {"signature_name": BYTES_SIGNATURE,
                "inputs": {"image_bytes": [{"b64": base64.b64encode(data).decode("ascii")}
                                           for data in encoded_images]}}
    inputs = {"images": _check_images(images).tolist()}
    if saturation is None:
        return {"signature_name": IMAGES_SIGNATURE, "inputs": inputs}
    return {"signature_name": TUNED_SIGNATURE, "inputs": {**inputs, "saturation": float(saturation)}}


def parse_rest_response(body):
    """Response JSON -> uint8 array [N, H, W, 3] (images) or list of PNG bytes (encoded)."""
    if "error" in body:
        raise RuntimeError(f"TF Serving error: {body['error']}")
    outputs = body["outputs"]
    if isinstance(outputs, dict):  # a signature with one output may come back unnamed
        outputs = outputs.get("colorized", outputs.get("png_bytes"))
    if outputs and isinstance(outputs[0], dict):
        return [base64.b64decode(item["b64"]) for item in outputs]
    return np.asarray(outputs, dtype=np.uint8)


def grpc_request(model_name="irodori", images=None, encoded_images=None, saturation=None, version=None):
    """A tensorflow_serving PredictRequest for the same three signatures."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    if (images is None) == (encoded_images is None):
        raise ValueError("give exactly one of images or encoded_images")
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    if version is not None:
        request.model_spec.version.value = int(version)
    if encoded_images is not None:
        request.model_spec.signature_name = BYTES_SIGNATURE
        request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto(list(encoded_images), dtype=tf.string))
        return request
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(_check_images(images)))
    request.model_spec.signature_name = IMAGES_SIGNATURE if saturation is None else TUNED_SIGNATURE
    if saturation is not None:
        request.inputs["saturation"].CopyFrom(tf.make_tensor_proto(float(saturation), dtype=tf.float32))
    return request


def parse_grpc_response(response):
    """PredictResponse -> uint8 array [N, H, W, 3] or list of PNG bytes."""
    import tensorflow as tf

    if "png_bytes" in response.outputs:
        return list(tf.make_ndarray(response.outputs["png_bytes"]))
    return tf.make_ndarray(response.outputs["colorized"])
