"""MobileNetV3's hard-swish stays inside XNNPACK through post-training int8 export.

The TFLite converter fuses x * ReLU6(x + 3) / 6 into one HARD_SWISH op, which XNNPACK takes in
float but not in int8; mobilekit.layers writes hard-swish in an order it does not fuse.
"""

import numpy as np
import pytest

from mobilekit import data, models
from mobilekit import layers as mk
from mobilekit.deploy.export import export_bundle
from mobilekit.keras import keras, layers

RES, CLASSES = 32, 4


def with_data_statistics(model: keras.Model, images: np.ndarray) -> keras.Model:
    """Give every BN the moving mean and variance of ``images``, as training does.

    In an untrained net the activations shrink about tenfold per block, and the ADD of
    ReLU6(x + 3) then gets an input scale under 1/1024 of its output scale, which XNNPACK's int8
    ADD refuses; a trained net's BN keeps them near unit range.
    """
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = 0.0
    model(images, training=True)
    return model


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "mobilenet_v3_large"])
def test_v3_ptq_exports_are_fully_delegated(tmp_path, name):
    images, _ = data.embedded_arrays("train", resolution=RES, count=16)
    images = data.normalize(images)
    model = with_data_statistics(
        models.build_model(name, alpha=0.35, resolution=RES, classes=CLASSES), images)
    for quant in ("fp32", "int8"):
        manifest = export_bundle(model, tmp_path / quant, quant=quant, name=f"{name}-{quant}",
                                 labels=[str(i) for i in range(CLASSES)], trained=False,
                                 normalization=data.NORMALIZATION, calibration=images)
        delegation = manifest["delegation"]
        assert "HARD_SWISH" not in {row["op"] for row in delegation["ops"]}, quant
        assert delegation["ops_outside_xnnpack"] == [], quant
        assert delegation["xnnpack_partitions"] == 1, quant
        assert manifest["verification"]["passed"], quant


def test_hard_swish_is_x_over_6_times_shifted_relu6():
    """The unfused order: Rescaling(1/6) and ReLU6(x + 3) of the same input, multiplied."""
    inputs = layers.Input((1, 61, 1))
    model = keras.Model(inputs, mk.activation(inputs, "hard_swish", "hs"))
    assert [type(layer).__name__ for layer in model.layers[1:]] == \
        ["Rescaling", "ShiftedReLU6", "Multiply"]
    x = np.linspace(-6, 6, 61, dtype="float32").reshape(1, 1, 61, 1)
    np.testing.assert_allclose(model(x), x * np.clip(x + 3, 0, 6) / 6, atol=1e-6)
    np.testing.assert_allclose(mk.ShiftedReLU6()(x), np.clip(x + 3, 0, 6), atol=1e-6)
