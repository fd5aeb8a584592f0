"""Keras model -> TFLite flatbuffer with a fixed batch of 1.

LiteRT.js refuses a dynamic batch dimension, and a fixed shape lets XNNPACK plan everything at
load time, so the graph is traced from a ``tf.function`` whose input signature is [1, H, W, C].
"""

from __future__ import annotations

import numpy as np

from mobilekit.deploy import quantize
from mobilekit.errors import UsageError
from mobilekit.keras import keras, tf


def input_shape(model: keras.Model) -> tuple[int, int, int]:
    """(H, W, C) of a single-input image model; UsageError for anything else."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UsageError(f"model {model.name}: export needs exactly one input and one output")
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3 or any(d is None for d in shape):
        raise UsageError(f"model {model.name}: input shape {shape} is not a fixed H x W x C image")
    return shape


def logits_model(model: keras.Model) -> keras.Model:
    """The graph to export: ``model`` without a trailing softmax (output semantics "logits").

    XNNPACK has no int8 SOFTMAX, so a softmax head would leave the last op outside the delegate
    and split the graph; top-1 is unchanged, and an app that wants probabilities applies softmax
    to ten-odd numbers itself.
    """
    last = model.layers[-1]
    inner = getattr(last, "layer", last)  # QAT wraps each layer in a QuantizeWrapper
    if isinstance(inner, keras.layers.Activation) and inner.get_config()["activation"] == "softmax":
        return keras.Model(model.inputs, last.input, name=model.name)
    return model


def convert(model: keras.Model, quant: str, io: str = "float",
            calibration: np.ndarray | None = None) -> bytes:
    """The .tflite bytes of ``model`` in mode ``quant`` (see quantize.configure)."""
    shape = input_shape(model)
    name = model.inputs[0].name.split(":")[0]
    serve = tf.function(lambda x: model(x, training=False),
                        input_signature=[tf.TensorSpec([1, *shape], tf.float32, name=name)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()], model)
    quantize.configure(converter, quant, io, calibration)
    try:
        return converter.convert()
    except Exception as exc:  # the converter raises many types; the user needs one line
        raise UsageError(f"model {model.name}: TFLite conversion ({quant}) failed: "
                         f"{_first_line(exc)}") from exc


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if "error" in line.lower()]
    return (lines or [line.strip() for line in str(exc).splitlines() if line.strip()] or
            [type(exc).__name__])[0][:300]
