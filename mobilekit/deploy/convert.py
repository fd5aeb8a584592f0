"""Keras model -> TFLite flatbuffer with a fixed batch of 1.

LiteRT.js refuses a dynamic batch dimension, and a fixed shape lets XNNPACK plan everything at
load time, so the graph is traced from a ``tf.function`` whose input signature is [1, H, W, C].
"""

from __future__ import annotations

import numpy as np

from mobilekit.deploy import quantize
from mobilekit.errors import UsageError
from mobilekit.keras import keras, layers, tf
from mobilekit.nets.layers import HardSigmoid, ShiftedReLU6


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
    # the output's own node: a layer shared with another graph (strip_pruning reuses them) has
    # other nodes, and ``layer.input`` is the first one's
    last, node_index, _ = model.outputs[0]._keras_history
    inner = getattr(last, "layer", last)  # QAT wraps each layer in a QuantizeWrapper
    if isinstance(inner, keras.layers.Activation) and inner.get_config()["activation"] == "softmax":
        return keras.Model(model.inputs, last._inbound_nodes[node_index].input_tensors,
                           name=model.name)
    return model


def fused_hard_swish(model: keras.Model) -> keras.Model:
    """``model`` with each hard-swish rewritten as x * (ReLU6(x + 3) / 6), same weights.

    mobilekit writes hard-swish as (x / 6) * ReLU6(x + 3) so that int8 graphs stay inside
    XNNPACK, whose integer kernels have no HARD_SWISH (mobilekit.nets.layers). Float kernels do have
    it, and the converter fuses this order into one HARD_SWISH op instead of MUL, ADD, MUL:
    in float modes that is 10-20 % of a MobileNetV3's latency. Returns ``model`` itself when it
    has no hard-swish.
    """
    scales, gates = set(), set()
    for layer in model.layers:
        if not isinstance(layer, layers.Multiply) or not isinstance(layer.input, list):
            continue
        producers = {type(t._keras_history.layer): t._keras_history.layer for t in layer.input}
        scale, gate = producers.get(layers.Rescaling), producers.get(ShiftedReLU6)
        if (len(layer.input) == 2 and scale is not None and gate is not None
                and scale.input is gate.input and scale.offset == 0
                and abs(scale.scale - 1.0 / 6.0) < 1e-7):
            scales.add(scale.name)
            gates.add(gate.name)
    if not scales:
        return model

    def clone(layer):
        if layer.name in scales:  # the 1/6 moves into the gate; this becomes the identity
            return layers.Activation("linear", name=layer.name)
        if layer.name in gates:
            return HardSigmoid(name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    fused = keras.models.clone_model(model, clone_function=clone)
    fused.set_weights(model.get_weights())
    return fused


def convert(model: keras.Model, quant: str, io: str = "float",
            calibration: np.ndarray | None = None, sparse: bool = False) -> bytes:
    """The .tflite bytes of ``model`` in mode ``quant`` (see quantize.configure)."""
    shape = input_shape(model)
    if quant in quantize.FLOAT_ACTIVATION_MODES:
        model = fused_hard_swish(model)
    name = model.inputs[0].name.split(":")[0]
    serve = tf.function(lambda x: model(x, training=False),
                        input_signature=[tf.TensorSpec([1, *shape], tf.float32, name=name)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()], model)
    quantize.configure(converter, quant, io, calibration, sparse)
    try:
        return converter.convert()
    except Exception as exc:  # the converter raises many types; the user needs one line
        raise UsageError(f"model {model.name}: TFLite conversion ({quant}) failed: "
                         f"{_first_line(exc)}") from exc


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if "error" in line.lower()]
    return (lines or [line.strip() for line in str(exc).splitlines() if line.strip()] or
            [type(exc).__name__])[0][:300]
