"""MobileNetV3's hard-swish stays inside XNNPACK in float and int8 exports.

The TFLite converter fuses x * ReLU6(x + 3) / 6 into one HARD_SWISH op, which XNNPACK takes in
float but not in int8; mobilekit.nets.layers writes hard-swish in an order it does not fuse, and the
float export rewrites it to the fused order (mobilekit.deploy.convert.fused_hard_swish).
"""

from collections import Counter

import numpy as np
import pytest

from mobilekit.nets.config import BuilderConfig
from mobilekit import data
from mobilekit.nets import models
from mobilekit.nets import layers as mk
from mobilekit.deploy.convert import fused_hard_swish
from mobilekit.deploy.export import export_bundle
from mobilekit.keras import keras, layers

RES, CLASSES = 32, 4


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "mobilenet_v3_large"])
def test_v3_ptq_exports_are_fully_delegated(tmp_path, name):
    images, _ = data.embedded_arrays("train", resolution=RES, count=16)
    images = data.normalize(images)
    model = models.calibrate_batch_norm(
        models.build_model(BuilderConfig(name, alpha=0.35, resolution=RES, classes=CLASSES)), images)
    for quant, fused in (("fp32", True), ("int8", False)):
        manifest = export_bundle(model, tmp_path / quant, quant=quant, name=f"{name}-{quant}",
                                 labels=[str(i) for i in range(CLASSES)], trained=False,
                                 normalization=data.NORMALIZATION, calibration=images)
        delegation = manifest["delegation"]
        assert ("HARD_SWISH" in {row["op"] for row in delegation["ops"]}) == fused, quant
        assert delegation["ops_outside_xnnpack"] == [], quant
        assert delegation["xnnpack_partitions"] == 1, quant
        assert manifest["verification"]["passed"], quant


def test_hard_swish_is_x_over_6_times_shifted_relu6():
    """The unfused order: Rescaling(1/6) and ReLU6(x + 3) of the same input, multiplied."""
    inputs = layers.Input((1, 61, 1))
    model = keras.Model(inputs, mk.activate(inputs, "hard_swish", "hs"))
    assert [type(layer).__name__ for layer in model.layers[1:]] == \
        ["Rescaling", "ShiftedReLU6", "Multiply"]
    x = np.linspace(-6, 6, 61, dtype="float32").reshape(1, 1, 61, 1)
    np.testing.assert_allclose(model(x), x * np.clip(x + 3, 0, 6) / 6, atol=1e-6)
    np.testing.assert_allclose(mk.ShiftedReLU6()(x), np.clip(x + 3, 0, 6), atol=1e-6)


def test_fused_hard_swish_is_the_same_function_with_the_same_weights():
    model = models.build_model(BuilderConfig("mobilenet_v3_small", alpha=0.35, resolution=RES, classes=CLASSES))
    fused = fused_hard_swish(model)
    before = Counter(type(layer).__name__ for layer in model.layers)
    after = Counter(type(layer).__name__ for layer in fused.layers)
    assert before["ShiftedReLU6"] > 0 and after["ShiftedReLU6"] == 0
    assert after["HardSigmoid"] == before["HardSigmoid"] + before["ShiftedReLU6"]
    x = np.random.default_rng(0).uniform(-1, 1, (2, RES, RES, 3)).astype("float32")
    np.testing.assert_allclose(fused(x), model(x), rtol=1e-5, atol=1e-6)
    v2 = models.build_model(BuilderConfig("mobilenet_v2", alpha=0.35, resolution=RES, classes=CLASSES))
    assert fused_hard_swish(v2) is v2  # nothing to fuse: no copy


def test_calibrate_batch_norm_sets_data_statistics_and_keeps_momentum():
    images = data.normalize(data.embedded_arrays("train", resolution=RES, count=16)[0])
    model = models.build_model(BuilderConfig("mobilenet_v2", alpha=0.35, resolution=RES, classes=CLASSES))
    models.calibrate_batch_norm(model, images)
    norm = next(layer for layer in model.layers if isinstance(layer, layers.BatchNormalization))
    conv_out = keras.Model(model.inputs, norm.input)(images).numpy()
    np.testing.assert_allclose(norm.moving_mean.numpy(), conv_out.mean(axis=(0, 1, 2)),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(norm.moving_variance.numpy(), conv_out.var(axis=(0, 1, 2)),
                               rtol=1e-3, atol=1e-5)
    assert norm.momentum == 0.999
