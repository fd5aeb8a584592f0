"""Quantization-aware training entry point, on tfmot.quantization.keras.

tfmot's default 8-bit registry has no ``Multiply`` (squeeze-excite) or ``Rescaling`` (the x / 6 of
hard-swish) and knows nothing of mobilekit's ReLU6(x + 3) and hard-sigmoid layers;
``quantize_aware`` annotates those with the QuantizeConfigs below
and leaves everything else to tfmot's defaults, so every builder and block trains with fake
quantization and converts to a fully integer TFLite model.
"""

from __future__ import annotations

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

