"""QAT entry point: every builder x kind trains with fake quantization and converts to int8."""

import numpy as np
import pytest
from qat_helpers import calibrated_qat, float_tensors, int8_tflite, ops_outside_xnnpack

from mobilekit.nets.config import BuilderConfig
from mobilekit.nets import cost, models
from mobilekit.train import qat, run_dir
from mobilekit.nets import layers as mk
from mobilekit.keras import keras

# The default suite covers the V3 blocks (SE, hard-swish; test_layers covers the blocks in every
# kind); -m slow runs the whole builder x kind matrix.
FAST = {("mobilenet_v3_small", "separable")}


def _matrix():
    for name in models.BUILDERS:
        for kind in mk.KINDS:
            marks = () if (name, kind) in FAST else (pytest.mark.slow, pytest.mark.matrix)
            yield pytest.param(name, kind, marks=marks, id=f"{name}-{kind}")


def _tiny(name, kind, **knobs):
    return models.build_model(BuilderConfig(name, kind=kind, alpha=0.35, resolution=32, classes=4,
                              classifier_activation="linear", **knobs))


@pytest.mark.parametrize("name,kind", _matrix())
def test_builder_qat_converts_to_int8_inside_xnnpack(tmp_path, name, kind):
    model = _tiny(name, kind)
    path = int8_tflite(calibrated_qat(model), tmp_path / "m.tflite")
    assert float_tensors(path) == []
    assert ops_outside_xnnpack(path) == []
    assert cost.tflite_summary(path)["macs"] == cost.keras_summary(model)["macs"]


def test_qat_model_trains_and_its_softmax_head_is_the_only_op_outside_xnnpack(tmp_path):
    model = models.build_model(BuilderConfig("mobilenet_v1", kind="standard", alpha=0.25, resolution=32,
                               classes=4))
    quantized = qat.quantize_aware(model)
    quantized.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(3).uniform(-1, 1, (8, 32, 32, 3)).astype("float32")
    history = quantized.fit(x, np.arange(8) % 4, epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    path = int8_tflite(quantized, tmp_path / "m.tflite")
    assert float_tensors(path) == []
    assert ops_outside_xnnpack(path) == ["SOFTMAX"]


def test_qat_model_saves_and_loads_through_load_keras(tmp_path):
    inputs = keras.layers.Input((8, 8, 8))
    block = mk.inverted_residual(inputs, 8, expansion=2, se_ratio=0.25, activation="hard_swish",
                                 name="mb")
    quantized = calibrated_qat(keras.Model(inputs, block))
    quantized.save(tmp_path / "qat.keras")
    loaded = run_dir.load_keras(tmp_path / "qat.keras")
    x = np.random.default_rng(4).uniform(-1, 1, (2, 8, 8, 8)).astype("float32")
    np.testing.assert_allclose(loaded(x), quantized(x), atol=1e-5)
    wrapped = {type(layer.layer).__name__ for layer in loaded.layers if hasattr(layer, "layer")}
    assert {"Multiply", "HardSigmoid"} <= wrapped


def test_quantize_aware_keeps_weights_and_leaves_the_float_model_alone():
    model = _tiny("mobilenet_v2", "standard")
    before = [w.copy() for w in model.get_weights()]
    quantized = qat.quantize_aware(model)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    kernel = quantized.get_layer("quant_block_1_project").weights[0]
    assert kernel.name == "block_1_project/kernel:0"
    np.testing.assert_array_equal(kernel.numpy(),
                                  model.get_layer("block_1_project").kernel.numpy())
