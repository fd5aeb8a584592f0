"""Builders: parity with keras.applications, every kind builds and runs, knobs are validated."""

import json

import numpy as np
import pytest

from mobilekit.nets.config import BuilderConfig
from mobilekit.nets import models
from mobilekit.train import run_dir
from mobilekit.errors import UsageError
from mobilekit.keras import keras, tf

APPS = {
    "mobilenet_v1": (keras.applications.MobileNet, (0.25, 0.5, 0.75, 1.0), (False,)),
    "mobilenet_v2": (keras.applications.MobileNetV2, (0.35, 0.5, 0.75, 1.0, 1.3, 1.4), (False,)),
    "mobilenet_v3_small": (keras.applications.MobileNetV3Small, (0.75, 1.0), (False, True)),
    "mobilenet_v3_large": (keras.applications.MobileNetV3Large, (0.75, 1.0), (False, True)),
}
# The default suite checks one width per builder (with and without top); -m slow checks all.
FAST = {("mobilenet_v1", 0.25), ("mobilenet_v2", 1.4), ("mobilenet_v3_small", 0.75),
        ("mobilenet_v3_large", 1.0)}


def _parity_cases():
    for name, (_, alphas, minimal) in APPS.items():
        for alpha in alphas:
            for m in minimal:
                marks = () if (name, alpha) in FAST else (pytest.mark.slow,)
                yield pytest.param(name, alpha, m, marks=marks, id=f"{name}-{alpha}-min{m}")


@pytest.mark.parametrize("name,alpha,minimalistic", _parity_cases())
def test_separable_params_equal_keras_applications(name, alpha, minimalistic):
    ctor = APPS[name][0]
    extra = {"minimalistic": minimalistic} if name.startswith("mobilenet_v3") else {}
    for top in (True, False):
        ours = models.build_model(BuilderConfig(name, alpha=alpha, include_top=top, **extra))
        ref = ctor(weights=None, alpha=alpha, include_top=top, input_shape=(224, 224, 3), **extra)
        assert ours.count_params() == ref.count_params(), (name, alpha, top)


def test_separable_layer_names_match_keras_applications_weights():
    """Every weight-carrying keras.applications layer exists here by name with the same shapes."""
    ours = models.build_model(BuilderConfig("mobilenet_v2", alpha=0.35, resolution=96, classes=10))
    ref = keras.applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(96, 96, 3),
                                         classes=10)
    by_name = {layer.name: layer for layer in ours.layers}
    for layer in ref.layers:
        if layer.weights:
            assert [w.shape for w in by_name[layer.name].weights] == [w.shape for w in layer.weights]


@pytest.mark.parametrize("name", list(models.BUILDERS))
@pytest.mark.parametrize("kind", ["separable", "standard", "spatial"])
def test_every_builder_and_kind_runs_at_small_size(name, kind):
    model = models.build_model(BuilderConfig(name, kind=kind, alpha=0.25, resolution=64, classes=8))
    out = model(np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype("float32"))
    assert out.shape == (2, 8)
    np.testing.assert_allclose(np.sum(out, axis=-1), 1.0, rtol=1e-5)
    assert model.input_shape == (None, 64, 64, 3)


def test_kinds_change_only_the_spatial_convolutions():
    sep, std, spa = (models.build_model(BuilderConfig("mobilenet_v1", kind=k, alpha=0.25, resolution=64))
                     for k in ("separable", "standard", "spatial"))
    types = {k: {type(layer).__name__ for layer in m.layers} for k, m in
             (("sep", sep), ("std", std), ("spa", spa))}
    assert "DepthwiseConv2D" in types["sep"]
    assert "DepthwiseConv2D" not in types["std"] | types["spa"]
    kernels = {tuple(layer.kernel_size) for layer in spa.layers if hasattr(layer, "kernel_size")}
    assert {(3, 1), (1, 3)} <= kernels
    assert sep.count_params() < spa.count_params() < std.count_params()
    assert sep.output_shape == std.output_shape == spa.output_shape


def test_linear_classifier_outputs_logits():
    model = models.build_model(BuilderConfig("mobilenet_v2", alpha=0.35, resolution=32, classes=3,
                               classifier_activation="linear"))
    assert type(model.layers[-1]).__name__ == "Dense"
    assert model.count_params() == models.build_model(BuilderConfig(
        "mobilenet_v2", alpha=0.35, resolution=32, classes=3)).count_params()


def test_without_top_ends_in_feature_map():
    model = models.build_model(BuilderConfig("mobilenet_v3_small", resolution=96, include_top=False))
    assert model.output_shape == (None, 3, 3, 576)


def test_builder_config_is_complete_and_json():
    config = BuilderConfig("mobilenet_v1", alpha=0.5, resolution=96)
    as_json = json.loads(json.dumps(config.to_json()))
    assert as_json == {"name": "mobilenet_v1", "kind": "separable", "alpha": 0.5,
                       "resolution": 96, "classes": 1000, "include_top": True, "dropout": 1e-3,
                       "classifier_activation": "softmax", "padding": "same",
                       "depth_multiplier": 1}
    assert BuilderConfig.from_json(as_json) == config
    assert BuilderConfig("mobilenet_v3_large").to_json()["minimalistic"] is False
    assert "minimalistic" not in BuilderConfig("mobilenet_v2").to_json()
    assert BuilderConfig("mobilenet_v2").resolution == 224


def test_depth_multiplier_widens_v1_depthwise():
    plain = models.build_model(BuilderConfig("mobilenet_v1", alpha=0.25, resolution=64))
    doubled = models.build_model(BuilderConfig("mobilenet_v1", alpha=0.25, resolution=64, depth_multiplier=2))
    dw = doubled.get_layer("conv_dw_1")
    assert dw.depth_multiplier == 2 and doubled.count_params() > plain.count_params()


@pytest.mark.parametrize("name,knobs,flag", [
    ("mobilenet_v9", {}, "unknown builder"),
    ("mobilenet_v1", {"kind": "dense"}, "--kind"),
    ("mobilenet_v1", {"alpha": 0}, "--alpha"),
    ("mobilenet_v1", {"alpha": -1.0}, "--alpha"),
    ("mobilenet_v1", {"alpha": 0.01}, "--alpha"),
    ("mobilenet_v2", {"resolution": 31}, "--resolution"),
    ("mobilenet_v2", {"resolution": 64.0}, "--resolution"),
    ("mobilenet_v2", {"classes": 0}, "--classes"),
    ("mobilenet_v2", {"depth_multiplier": 2}, "--depth-multiplier"),
    ("mobilenet_v1", {"depth_multiplier": 2, "kind": "standard"}, "--depth-multiplier"),
    ("mobilenet_v2", {"minimalistic": True}, "--minimalistic"),
    ("mobilenet_v2", {"dropout": 1.0}, "dropout"),
    ("mobilenet_v2", {"classifier_activation": "sigmoid"}, "classifier_activation"),
    ("mobilenet_v2", {"padding": "valid"}, "--padding"),
])
def test_bad_arguments_raise_usage_error_before_building(monkeypatch, name, knobs, flag):
    def no_graph(*args, **kwargs):
        raise AssertionError("a layer was built")
    monkeypatch.setattr(keras.layers, "Input", no_graph)
    with pytest.raises(UsageError, match=flag):
        models.build_model(BuilderConfig(name, **knobs))


def test_load_keras_round_trip_and_refusals(tmp_path):
    model = models.build_model(BuilderConfig("mobilenet_v3_small", alpha=0.75, resolution=64, classes=5))
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    x = np.random.default_rng(1).uniform(-1, 1, (1, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(run_dir.load_keras(run)(x), model(x), atol=1e-6)
    model.save(tmp_path / "m.h5")
    with pytest.raises(UsageError, match="m.h5"):
        run_dir.load_keras(tmp_path / "m.h5")
    assert run_dir.load_keras(tmp_path / "m.h5", trust=True).count_params() == model.count_params()
    with pytest.raises(UsageError, match="missing.keras"):
        run_dir.load_keras(tmp_path / "missing.keras")
    (tmp_path / "junk.keras").write_text("not a zip")
    with pytest.raises(UsageError, match="junk.keras"):
        run_dir.load_keras(tmp_path / "junk.keras")


@pytest.mark.parametrize("kind", ["separable", "standard", "spatial"])
def test_symmetric_padding_pads_stride_2_convs_on_every_side(kind):
    """Same shapes and parameters as "same"; each stride-2 conv reads an explicit k // 2 border."""
    same = models.build_model(BuilderConfig("mobilenet_v2", alpha=0.35, resolution=64, kind=kind))
    sym = models.build_model(BuilderConfig("mobilenet_v2", alpha=0.35, resolution=64, kind=kind,
                             padding="symmetric"))
    assert sym.count_params() == same.count_params()
    assert sym.output_shape == same.output_shape
    strided = [layer for layer in sym.layers
               if isinstance(layer, keras.layers.Conv2D) and max(layer.strides) > 1]
    assert strided and all(layer.padding == "valid" for layer in strided)
    for layer in strided:
        pad = layer._inbound_nodes[0].inbound_layers
        assert isinstance(pad, keras.layers.ZeroPadding2D), layer.name
        k = layer.kernel_size
        assert pad.padding == ((k[0] // 2,) * 2, (k[1] // 2,) * 2), layer.name
    stem = sym.get_layer("Conv1")  # equals a conv over a symmetrically padded input
    x = np.random.default_rng(0).uniform(-1, 1, (1, 64, 64, 3)).astype("float32")
    expected = tf.nn.conv2d(x, stem.kernel, 2, [[0, 0], [1, 1], [1, 1], [0, 0]])
    np.testing.assert_allclose(keras.Model(sym.inputs, stem.output)(x), expected, atol=1e-5)
