"""Blocks: the kind rule, .keras round trips, QAT -> int8 TFLite entirely inside XNNPACK."""

import numpy as np
import pytest
from qat_helpers import calibrated_qat, float_tensors, int8_tflite, ops_outside_xnnpack

from mobilekit.nets import layers as mk
from mobilekit.keras import keras, layers

# name -> function(x, kind, **knobs) adding one block; all keep the graph small (16x16x8 input)
BLOCKS = {
    "conv_unit": lambda x, k, stride=2, **kw: mk.conv_unit(
        x, 16, stride=stride, kind=k, activation="hard_swish", name="cu", **kw),
    "residual": lambda x, k, stride=2, **kw: mk.residual_block(x, 16, stride=stride, kind=k,
                                                               name="res", **kw),
    "bottleneck": lambda x, k, **kw: mk.bottleneck_block(x, 16, kind=k, name="bn", **kw),
    "mbconv_se": lambda x, k, **kw: mk.inverted_residual(
        x, 8, kernel=5, expansion=4, se_ratio=0.25, activation="hard_swish", kind=k, name="mb",
        **kw),
    "mbconv_no_expansion": lambda x, k, **kw: mk.inverted_residual(
        x, 8, expansion=1, se_ratio=0.25, kind=k, name="mb1", **kw),
    "xception": lambda x, k, stride=2, **kw: mk.xception_block(x, 16, stride=stride, kind=k,
                                                               name="xc", **kw),
    "xception_pointwise_first": lambda x, k, **kw: mk.xception_block(
        x, 16, kind=k, pointwise_first=True, name="xp", **kw),
    "inception": lambda x, k, **kw: mk.inception_block(x, 4, kind=k, name="inc", **kw),
    "factorised": lambda x, k, **kw: mk.factorised_conv(x, 8, kernel=5, name="fac", **kw),
    "aspp": lambda x, k, dilations=(2, 3), **kw: mk.aspp(x, 8, dilations=dilations, kind=k,
                                                         name="aspp", **kw),
    "ghost": lambda x, k, **kw: mk.ghost_module(x, 8, kernel=3, kind=k, name="gh", **kw),
}
# blocks whose convs all have stride 1 (padding "symmetric" is "same" there)
STRIDE_ONE = {"aspp"}


# Dilated convs trace to SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND under QAT, which XNNPACK lacks.
DILATED = {"aspp"}
UNDILATED = [name for name in BLOCKS if name not in DILATED]


def block_model(names, kind, **knobs):
    inputs = layers.Input((16, 16, 8))
    x = inputs
    for name in names:
        x = BLOCKS[name](x, kind, **knobs)
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


def _spatial_convs(model):
    convs = (layers.Conv2D, layers.DepthwiseConv2D)
    return [layer for layer in model.layers
            if isinstance(layer, convs) and tuple(layer.kernel_size) != (1, 1)]


@pytest.mark.parametrize("kind", mk.KINDS)
def test_symmetric_padding_reaches_every_strided_conv(kind):
    for name in BLOCKS:
        model = block_model([name], kind, padding="symmetric",
                            **({} if name in STRIDE_ONE else {"stride": 2}))
        strided = [c for c in _spatial_convs(model) if tuple(c.strides) != (1, 1)]
        assert bool(strided) != (name in STRIDE_ONE), name
        for conv in strided:  # an explicit pad on every side, then a "valid" conv
            pad = model.get_layer(conv.name + "_pad")
            assert isinstance(pad, layers.ZeroPadding2D) and conv.input is pad.output, conv.name
            assert conv.padding == "valid"
        assert model.output_shape[1:3] == ((16, 16) if name in STRIDE_ONE else (8, 8)), name


@pytest.mark.parametrize("kind", mk.KINDS)
def test_dilation_reaches_every_spatial_conv(kind):
    for name in BLOCKS:
        knobs = {"dilations": (2, 2)} if name == "aspp" else {"stride": 1, "dilation": 2}
        convs = _spatial_convs(block_model([name], kind, **knobs))
        assert convs, name
        for conv in convs:  # dilated along each axis the kernel spans
            expected = tuple(2 if k > 1 else 1 for k in conv.kernel_size)
            assert tuple(conv.dilation_rate) == expected, conv.name


def _chain(kind, unit):
    """(type, kernel, strides) of each layer of a 16x16x8 input -> ``unit`` model."""
    inputs = layers.Input((16, 16, 8))
    model = keras.Model(inputs, unit(inputs, kind))
    return [(type(layer).__name__, getattr(layer, "kernel_size", None),
             getattr(layer, "strides", None)) for layer in model.layers[1:]]


# ../shared/CONTRACTS.md "Conv kinds" at stride 2: the conv(s) carrying the stride
CONV_KINDS = {
    "separable": [("DepthwiseConv2D", (3, 3), (2, 2)), ("Conv2D", (1, 1), (1, 1))],
    "standard": [("Conv2D", (3, 3), (2, 2))],
    "spatial": [("Conv2D", (3, 1), (2, 1)), ("Conv2D", (1, 3), (1, 2))],
}


def _bare(x, kind, pointwise_first=False):
    for part in mk.kind_convs(kind, 16, 3, 2, names=mk.Names("u_{role}"),
                              roles=("dw", "pw", "full"), pointwise_first=pointwise_first):
        x = part(x)
    return x


@pytest.mark.parametrize("kind", mk.KINDS)
def test_conv_kinds_follow_the_contract(kind):
    convs, bn, relu = CONV_KINDS[kind], ("BatchNormalization", None, None), ("ReLU", None, None)
    # MobileNet's unit: BN + activation after the depthwise and the pointwise conv; after the pair
    unit = _chain(kind, lambda x, k: mk.conv_unit(x, 16, stride=2, kind=k))
    assert unit == ([convs[0], bn, relu, convs[1], bn, relu] if kind == "separable"
                    else [*convs, bn, relu])
    assert _chain(kind, _bare) == convs  # Xception's: nothing between the parts
    if kind == "separable":
        assert _chain(kind, lambda x, k: _bare(x, k, pointwise_first=True)) == \
            [("Conv2D", (1, 1), (1, 1)), ("DepthwiseConv2D", (3, 3), (2, 2))]


def test_hard_swish_and_hard_sigmoid_values():
    x = np.linspace(-5, 5, 41, dtype="float32").reshape(1, 1, 41, 1)
    inputs = layers.Input((1, 41, 1))
    hs = keras.Model(inputs, mk.activate(inputs, "hard_swish", "hs"))
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
    assert mk.ghost_module(x, 12, ghost_ratio=3).shape[-1] == 12
    bottleneck = keras.Model(x, mk.bottleneck_block(x, 16, stride=2, name="b"))
    assert bottleneck.output_shape[1:] == (8, 8, 16)
    assert bottleneck.get_layer("b_reduce").filters == 4  # mid defaults to filters / 4
    assert mk.make_divisible(8.9) == 16 and mk.make_divisible(12.0) == 16
    with pytest.raises(ValueError):
        mk.ghost_module(x, 7, ghost_ratio=2)
    with pytest.raises(ValueError, match="unknown conv kind 'grouped'"):
        mk.conv_unit(x, 8, kind="grouped")
