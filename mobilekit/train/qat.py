"""Quantization-aware training entry point, on tfmot.quantization.keras.

tfmot's default 8-bit registry has no ``Multiply`` (squeeze-excite) or ``Rescaling`` (the x / 6 of
hard-swish) and knows nothing of mobilekit's ReLU6(x + 3) and hard-sigmoid layers;
``quantize_aware`` annotates those with the QuantizeConfigs below
and leaves everything else to tfmot's defaults, so every builder and block trains with fake
quantization and converts to a fully integer TFLite model.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from mobilekit.nets import layers as mk
from mobilekit.keras import keras, layers
import tensorflow_model_optimization as tfmot  # after mobilekit.keras: it must see tf_keras

qk = tfmot.quantization.keras


def _activation_quantizer():
    """8-bit asymmetric per-tensor range, as tfmot's default for activations."""
    return qk.quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False,
                                                narrow_range=False)


@keras.utils.register_keras_serializable(package="mobilekit")
class OutputQuantizeConfig(qk.QuantizeConfig):
    """No weights; fake-quantize the output (Multiply, Rescaling: one TFLite MUL; ShiftedReLU6:
    one ADD with fused ReLU6)."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return [_activation_quantizer()]

    def get_config(self):
        return {}


@keras.utils.register_keras_serializable(package="mobilekit")
class HardSigmoidQuantizeConfig(OutputQuantizeConfig):
    """Also fake-quantize ReLU6(x + 3), the output of the ADD that TFLite makes of it."""

    def get_activations_and_quantizers(self, layer):
        return [(layer.activation, _activation_quantizer())]

    def set_quantize_activations(self, layer, quantize_activations):
        layer.activation = quantize_activations[0]


CONFIGS = {
    layers.Multiply: OutputQuantizeConfig,
    layers.Rescaling: OutputQuantizeConfig,
    mk.ShiftedReLU6: OutputQuantizeConfig,
    mk.HardSigmoid: HardSigmoidQuantizeConfig,
}


def quantize_scope():
    """Scope in which QAT models (tfmot wrappers + mobilekit configs and layers) deserialize."""
    objects = {c.__name__: c for c in (OutputQuantizeConfig, HardSigmoidQuantizeConfig,
                                       mk.ShiftedReLU6, mk.HardSigmoid)}
    return qk.quantize_scope(objects)


def quantize_aware(model: keras.Model) -> keras.Model:
    """The QAT version of a float functional model (weights kept), ready to compile and fit."""
    def annotate(layer):
        config = CONFIGS.get(type(layer))
        return qk.quantize_annotate_layer(layer, config()) if config else layer

    with quantize_scope():
        annotated = keras.models.clone_model(model, clone_function=annotate)
        annotated.set_weights(model.get_weights())
        return qk.quantize_apply(qk.quantize_annotate_model(annotated))


def is_qat_archive(path: Path) -> bool:
    with zipfile.ZipFile(path) as archive:
        return b'"QuantizeLayer"' in archive.read("config.json")


def load_qat_archive(path: Path) -> keras.Model:
    """A QAT .keras file (made by ``mobilekit.train.qat.quantize_aware``).

    tfmot 0.8's wrappers do not survive tf_keras' own .keras loading (their variables are
    tracked differently when rebuilt from a config), but ``load_weights`` into a freshly
    quantized model works: so rebuild the float model the QAT graph wraps, quantize it again
    and load the saved weights into that.
    """
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    float_model = keras.saving.deserialize_keras_object(_float_config(config), safe_mode=True)
    model = quantize_aware(float_model)
    model.load_weights(path)
    return model


def _float_config(config: dict) -> dict:
    """The functional config with tfmot's QuantizeLayer removed and wrappers unwrapped."""
    renamed, kept = {}, []
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "QuantizeLayer":
            renamed[layer["name"]] = _inbound_names(layer["inbound_nodes"])[0]
            continue
        if layer["class_name"] == "QuantizeWrapperV2":
            inner = layer["config"]["layer"]
            renamed[layer["name"]] = inner["config"]["name"]
            layer = {**layer, **{k: v for k, v in inner.items() if k != "build_config"},
                     "name": inner["config"]["name"],
                     "config": {**inner["config"], **_float_activation(inner["config"])}}
        kept.append(layer)
    body = {**config["config"], "layers": kept}
    return {**config, "config": _rename(body, renamed)}


def _float_activation(config: dict) -> dict:
    """The activation a wrapped layer had before QAT (tfmot's NoOpActivation was "linear")."""
    activation = config.get("activation")
    if not (isinstance(activation, dict)
            and activation.get("class_name") == "QuantizeAwareActivation"):
        return {}
    activation = activation["config"]["activation"]
    if isinstance(activation, dict) and activation.get("class_name") == "NoOpActivation":
        activation = "linear"
    return {"activation": activation}


def _inbound_names(value) -> list[str]:
    if isinstance(value, dict):
        if "keras_history" in value:
            return [value["keras_history"][0]]
        return [n for v in value.values() for n in _inbound_names(v)]
    if isinstance(value, list):
        if value and isinstance(value[0], str):  # [layer name, node index, tensor index, kwargs]
            return [value[0]]
        return [n for v in value for n in _inbound_names(v)]
    return []


def _rename(value, renamed: dict):
    """Point references to renamed layers (keras_history, [name, node, tensor]) at the new names."""
    if isinstance(value, dict):
        return {k: [renamed.get(v[0], v[0]), *v[1:]] if k == "keras_history"
                else _rename(v, renamed) for k, v in value.items()}
    if isinstance(value, list):
        if value and isinstance(value[0], str) and value[0] in renamed:
            return [renamed[value[0]], *value[1:]]
        return [_rename(v, renamed) for v in value]
    return value
