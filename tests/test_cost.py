"""Cost model: paper MAC/param numbers, Keras == TFLite graph, analytic ratios, summary command."""

import json


import pytest

from mobilekit.nets.config import BuilderConfig
from tflite_fixtures import to_tflite
from mobilekit import cli
from mobilekit.nets import cost, models
from mobilekit.nets import layers as mk
from mobilekit.keras import keras, layers


def _within(value, target, rel):
    return abs(value - target) <= rel * target


def test_mobilenet_v1_matches_paper_in_both_kinds():
    separable = cost.summarize_builder(BuilderConfig("mobilenet_v1"))
    standard = cost.summarize_builder(BuilderConfig("mobilenet_v1", kind="standard"))
    assert _within(separable["macs"], 569e6, 0.005), separable["macs"]
    assert _within(standard["macs"], 4866e6, 0.001), standard["macs"]  # paper Table 4
    assert _within(standard["kernel_params"], 29.3e6, 0.005), standard["kernel_params"]
    assert separable["params"] == models.build_model(BuilderConfig("mobilenet_v1")).count_params()


def test_mobilenet_v2_matches_paper():
    assert _within(cost.summarize_builder(BuilderConfig("mobilenet_v2"))["macs"], 300e6, 0.01)


def test_layer_costs_by_type():
    inputs = layers.Input((8, 8, 4))
    x = layers.Conv2D(6, 3, strides=2, padding="same", name="c")(inputs)           # 4x4x6
    x = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="d")(x)  # 4x4x12
    x = layers.SeparableConv2D(5, 3, padding="same", name="s")(x)                  # 4x4x5
    x = layers.Conv2DTranspose(3, 2, strides=2, name="t")(x)                       # 8x8x3
    x = layers.Conv2D(2, (1, 3), padding="same", name="k")(x)                      # 8x8x2
    x = layers.Dense(7, name="f")(x)                                               # 8x8x7
    summary = cost.keras_summary(keras.Model(inputs, x))
    rows = {r["name"]: r for r in summary["layers"]}
    assert rows["c"]["macs"] == 4 * 4 * 6 * 3 * 3 * 4 and rows["c"]["kind"] == "standard"
    assert rows["d"]["macs"] == 4 * 4 * 12 * 3 * 3 and rows["d"]["kind"] == "depthwise"
    assert rows["s"]["macs"] == 4 * 4 * (12 * 9 + 12 * 5) and rows["s"]["kind"] == "separable"
    assert rows["t"]["macs"] == 4 * 4 * 5 * 2 * 2 * 3 and rows["t"]["kind"] == "transposed"
    assert rows["k"]["macs"] == 8 * 8 * 2 * 3 * 3 and rows["k"]["kind"] == "spatial"
    assert rows["f"]["macs"] == 8 * 8 * 2 * 7 and rows["f"]["kind"] == "dense"
    assert rows["c"]["kernel_params"] == 3 * 3 * 4 * 6 and rows["c"]["params"] == 3 * 3 * 4 * 6 + 6
    assert summary["macs"] == sum(r["macs"] for r in rows.values())
    assert summary["params"] == keras.Model(inputs, x).count_params()


@pytest.mark.parametrize("m,n,k", [(16, 32, 3), (24, 24, 5)])
def test_conv_unit_kinds_follow_the_analytic_ratios_at_stride_one(m, n, k):
    """One KxK M->N unit: separable/standard = 1/N + 1/K^2, spatial/standard = (1 + N/M)/K."""
    macs = {}
    for kind in mk.KINDS:
        inputs = layers.Input((10, 10, m))
        out = mk.conv_unit(inputs, n, kernel=k, kind=kind, name=kind)
        macs[kind] = cost.keras_summary(keras.Model(inputs, out))["macs"]
    assert macs["separable"] / macs["standard"] == pytest.approx(1 / n + 1 / k**2)
    assert macs["spatial"] / macs["standard"] == pytest.approx((1 + n / m) / k)


def test_kind_comparison_predicts_v1_separable_exactly():
    rows = {r["kind"]: r for r in cost.kind_comparison(BuilderConfig("mobilenet_v1", alpha=0.25, resolution=64))}
    assert set(rows) == set(mk.KINDS)
    assert rows["standard"]["macs_vs_standard"] == rows["standard"]["analytic_vs_standard"] == 1
    assert rows["separable"]["analytic_vs_standard"] == pytest.approx(
        rows["separable"]["macs_vs_standard"])
    # strided Kx1 convs run at full width, so spatial costs a bit more than (1 + N/M)/K says
    assert rows["spatial"]["macs_vs_standard"] > rows["spatial"]["analytic_vs_standard"]


def _tflite(model, path):
    path.write_bytes(to_tflite(model))
    return path


@pytest.mark.slow  # (int8 graphs are compared in the default suite by test_qat)
@pytest.mark.parametrize("name,kind", [("mobilenet_v3_small", "separable"),
                                       ("mobilenet_v2", "spatial"), ("mobilenet_v1", "standard")])
def test_keras_macs_equal_tflite_graph_macs(tmp_path, name, kind):
    model = models.build_model(BuilderConfig(name, kind=kind, alpha=0.35, resolution=32, classes=6))
    keras_side = cost.keras_summary(model)
    graph_side = cost.tflite_summary(_tflite(model, tmp_path / "m.tflite"))
    assert graph_side["macs"] == keras_side["macs"]
    assert graph_side["kernel_params"] == keras_side["kernel_params"]
    assert graph_side["input_shape"] == keras_side["input_shape"] == [32, 32, 3]


def test_summary_command_json_for_builder_keras_and_tflite(tmp_path, capsys):
    assert cli.main(["summary", "mobilenet_v1", "--alpha", "0.25", "--resolution", "64",
                     "--kind", "standard", "--classes", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["model"], out["kind"], out["input_shape"]) == ("mobilenet_v1", "standard",
                                                                [64, 64, 3])
    assert {"params", "kernel_params", "macs", "layers"} <= set(out)
    assert {r["kind"] for r in out["kinds"]} == set(mk.KINDS)
    model = models.build_model(BuilderConfig("mobilenet_v1", kind="standard", alpha=0.25, resolution=64,
                               classes=4))
    assert out["params"] == model.count_params()
    model.save(tmp_path / "m.keras")
    assert cli.main(["summary", str(tmp_path / "m.keras"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["macs"] == out["macs"]
    assert cli.main(["summary", str(_tflite(model, tmp_path / "m.tflite")), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["macs"] == out["macs"]


@pytest.mark.parametrize("argv", [["summary", "resnet_9000"],
                                  ["summary", "mobilenet_v1", "--alpha", "-1"],
                                  ["summary", "README.md", "--alpha", "0.5"]])
def test_summary_bad_input_exits_2(argv, capsys):
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.count("\n") == 1

