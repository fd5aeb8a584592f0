"""Blocks: the kind rule, .keras round trips, QAT -> int8 TFLite entirely inside XNNPACK."""

import numpy as np
import pytest
from qat_helpers import calibrated_qat, float_tensors, int8_tflite, ops_outside_xnnpack

from mobilekit.nets import layers as mk
from mobilekit.keras import keras, layers

# name -> function(x, kind) adding one block; all keep the graph small (16x16x8 input)
BLOCKS = {
    "conv_unit": lambda x, k: mk.conv_unit(x, 16, stride=2, kind=k, act="hard_swish", name="cu"),
    "residual": lambda x, k: mk.residual_block(x, 16, stride=2, kind=k, name="res"),
    "bottleneck": lambda x, k: mk.bottleneck_block(x, 4, kind=k, name="bn"),
    "mbconv_se": lambda x, k: mk.inverted_residual(x, 8, kernel=5, expansion=4, se=0.25,
                                                   act="hard_swish", kind=k, name="mb"),
    "mbconv_no_expansion": lambda x, k: mk.inverted_residual(x, 8, expansion=1, se=0.25,
                                                             kind=k, name="mb1"),
    "xception": lambda x, k: mk.xception_block(x, 16, stride=2, kind=k, name="xc"),
    "xception_pointwise_first": lambda x, k: mk.xception_block(
        x, 16, kind=k, pointwise_first=True, name="xp"),
    "inception": lambda x, k: mk.inception_block(x, 4, kind=k, name="inc"),
    "factorised": lambda x, k: mk.factorised_conv(x, 8, kernel=5, name="fac"),
    "aspp": lambda x, k: mk.aspp(x, 8, rates=(2, 3), kind=k, name="aspp"),
    "ghost": lambda x, k: mk.ghost_module(x, 8, kernel=3, kind=k, name="gh"),
}


# Dilated convs trace to SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND under QAT, which XNNPACK lacks.
DILATED = {"aspp"}
UNDILATED = [name for name in BLOCKS if name not in DILATED]


def block_model(names, kind):
    inputs = layers.Input((16, 16, 8))
    x = inputs
    for name in names:
        x = BLOCKS[name](x, kind)
    return keras.Model(inputs, x)


def _x(seed=0, n=2):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 16, 16, 8)).astype("float32")


def _types(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("kind", mk.KINDS)
def test_all_blocks_round_trip_through_keras_file(tmp_path, kind):
    model = block_model(BLOCKS, kind)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded(_x()), model(_x()), atol=1e-5)
    assert "Lambda" not in _types(model) and "TFOpLambda" not in _types(model)


@pytest.mark.parametrize("kind", ["separable", pytest.param("standard", marks=[pytest.mark.slow, pytest.mark.matrix]),
                                  pytest.param("spatial", marks=[pytest.mark.slow, pytest.mark.matrix])])
def test_all_blocks_qat_int8_stay_inside_xnnpack(tmp_path, kind):
    qat = calibrated_qat(block_model(UNDILATED, kind))
    path = int8_tflite(qat, tmp_path / "m.tflite")
    assert float_tensors(path) == []
    assert ops_outside_xnnpack(path) == []


@pytest.mark.slow
@pytest.mark.matrix
@pytest.mark.parametrize("kind", mk.KINDS)
@pytest.mark.parametrize("name", list(BLOCKS))
def test_each_block_alone_qat_int8_round_trip(tmp_path, name, kind):
    model = block_model([name], kind)
    model.save(tmp_path / "m.keras")
    keras.models.load_model(tmp_path / "m.keras")
    path = int8_tflite(calibrated_qat(model), tmp_path / "m.tflite")
    if name in DILATED:
        assert set(ops_outside_xnnpack(path)) <= {"SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"}
    else:
        assert float_tensors(path) == [] and ops_outside_xnnpack(path) == []


def test_aspp_qat_int8_converts_with_only_the_dilation_ops_outside_xnnpack(tmp_path):
    path = int8_tflite(calibrated_qat(block_model(["aspp"], "standard")), tmp_path / "m.tflite")
    assert set(ops_outside_xnnpack(path)) == {"SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"}


def test_inverted_residual_kinds_follow_the_collapse_rule():
    def model(kind, expansion):
        return block_model(["mbconv_se" if expansion else "mbconv_no_expansion"], kind)

    sep = _types(model("separable", True))
    assert sep.count("DepthwiseConv2D") == 1 and sep.count("Add") == 1
    # standard with expansion = fused MBConv: KxK conv M->tM, SE, linear 1x1 projection
    std = model("standard", True)
    convs = [layer for layer in std.layers if type(layer).__name__ == "Conv2D"]
    assert [tuple(c.kernel_size) for c in convs] == [(5, 5), (1, 1), (1, 1), (1, 1)]
    assert convs[0].filters == 32 and convs[-1].filters == 8 and "DepthwiseConv2D" not in _types(std)
    # without expansion: one KxK conv M->N replaces depthwise + projection
    plain = model("standard", False)
    convs = [c for c in plain.layers if type(c).__name__ == "Conv2D" and c.kernel_size == (3, 3)]
    assert len(convs) == 1 and convs[0].filters == 8
    spatial = model("spatial", True)
    kernels = [tuple(c.kernel_size) for c in spatial.layers if type(c).__name__ == "Conv2D"]
    assert kernels[:2] == [(5, 1), (1, 5)]
    assert [tuple(c.strides) for c in spatial.layers if type(c).__name__ == "Conv2D"][:2] == \
        [(1, 1), (1, 1)]


def test_spatial_kind_splits_the_stride():
    model = block_model(["conv_unit"], "spatial")
    convs = [c for c in model.layers if type(c).__name__ == "Conv2D"]
    assert [(c.kernel_size, c.strides) for c in convs] == [((3, 1), (2, 1)), ((1, 3), (1, 2))]
    assert model.output_shape == (None, 8, 8, 16)


def test_hard_swish_and_hard_sigmoid_values():
    x = np.linspace(-5, 5, 41, dtype="float32").reshape(1, 1, 41, 1)
    inputs = layers.Input((1, 41, 1))
    hs = keras.Model(inputs, mk.activation(inputs, "hard_swish", "hs"))
    expected = x * np.clip(x + 3, 0, 6) / 6
    np.testing.assert_allclose(hs(x), expected, atol=1e-6)
    np.testing.assert_allclose(mk.HardSigmoid()(x), np.clip(x + 3, 0, 6) / 6, atol=1e-6)


def test_squeeze_excite_gates_channels():
    inputs = layers.Input((4, 4, 16))
    model = keras.Model(inputs, mk.squeeze_excite(inputs, name="se"))
    assert _types(model)[-1] == "Multiply"
    assert model.get_layer("se_squeeze_excite/Conv").filters == 8  # make_divisible(16 / 4)
    x = np.abs(_x()[:, :4, :4, :]).repeat(2, axis=-1)
    gate = model(x) / x
    assert np.all((gate >= 0) & (gate <= 1))


def test_blocks_shapes_and_channel_rules():
    x = layers.Input((16, 16, 8))
    assert mk.inception_block(x, 4).shape[-1] == 16           # 1x1 | 3x3 | 5x5 | pool
    assert mk.aspp(x, 6).shape[1:] == (16, 16, 6)
    assert mk.ghost_module(x, 12, ratio=3).shape[-1] == 12
    assert mk.bottleneck_block(x, 4, stride=2).shape[1:] == (8, 8, 16)
    assert mk.make_divisible(8.9) == 16 and mk.make_divisible(12.0) == 16
    with pytest.raises(ValueError):
        mk.ghost_module(x, 7, ratio=2)
    with pytest.raises(Exception, match="--kind"):
        mk.conv_unit(x, 8, kind="grouped")
