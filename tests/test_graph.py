"""Reading .tflite graphs: file checks, per-op MACs/params, and which ops XNNPACK takes."""

import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from mobilekit.errors import UsageError
from mobilekit.runtime import graph
from tflite_fixtures import mac_graph


def test_check_tflite_accepts_a_model(tflite_models):
    assert graph.check_tflite(tflite_models["f32"]) == tflite_models["f32"]


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"", "not a TFLite flatbuffer"),
    (b"PK\x03\x04 a zip, not a model", "not a TFLite flatbuffer"),
])
def test_check_tflite_rejects_with_the_file_named(tmp_path, content, message):
    path = tmp_path / "model.tflite"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=message) as info:
        graph.check_tflite(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_corrupt_body_is_rejected_by_the_structure_check(tflite_models):
    with pytest.raises(UsageError, match="corrupt.tflite: not a valid TFLite model: .*outside the file"):
        graph.op_costs(tflite_models["corrupt"])


@pytest.mark.parametrize("name", ["f32", "int8"])
def test_op_costs_follow_the_mac_rules(tflite_models, name):
    rows = graph.op_costs(tflite_models[name])
    assert [r["op"] for r in rows] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "TRANSPOSE_CONV",
                                       "MEAN", "FULLY_CONNECTED"]
    assert [r["index"] for r in rows] == list(range(6))
    macs = [r["macs"] for r in rows]
    assert macs == [
        8 * 8 * 8 * (3 * 3 * 3),  # conv 3x3, 3 -> 8, stride 2: per output element 27 MACs
        8 * 8 * 8 * (3 * 3),  # depthwise 3x3: 9 per output element
        8 * 8 * 16 * 8,  # 1x1 conv 8 -> 16
        8 * 8 * 16 * (3 * 3 * 4),  # transpose conv: each input element into a 3x3x4 patch
        0,  # MEAN is not counted
        4 * 5,  # dense 4 -> 5
    ]
    assert [r["output_shape"] for r in rows][:4] == [[1, 8, 8, 8], [1, 8, 8, 8], [1, 8, 8, 16], [1, 16, 16, 4]]
    # weights + bias of each layer, read from the file (int8 keeps int32 biases)
    assert [r["params"] for r in rows] == [8 * 27 + 8, 72 + 8, 128 + 16, 4 * 9 * 16 + 4, 0, 20 + 5]


def test_total_weights_equal_keras_params(tflite_models):
    assert graph.total_weights(tflite_models["f32"]) == mac_graph().count_params()


def test_custom_op_named_by_its_custom_code(tflite_models):
    assert [r["op"] for r in graph.op_costs(tflite_models["custom"])][-1] == "Igamma"


@pytest.mark.parametrize("name", ["f32", "int8"])
def test_fully_delegated_model(tflite_models, name):
    info = graph.delegation(tflite_models[name])
    assert info["xnnpack_partitions"] == 1
    assert info["ops_outside_xnnpack"] == []
    assert info["xnnpack_fully_delegated"] is True
    assert all(op["xnnpack"] for op in info["ops"]) and len(info["ops"]) == 6


def test_op_xnnpack_cannot_take_splits_the_graph(tflite_models):
    info = graph.delegation(tflite_models["split"])
    assert [(op["op"], op["xnnpack"]) for op in info["ops"]] == [
        ("CONV_2D", True), ("CUMSUM", False), ("CONV_2D", True)]
    assert info["xnnpack_partitions"] == 2
    assert info["ops_outside_xnnpack"] == ["CUMSUM"]
    assert info["xnnpack_fully_delegated"] is False


def test_model_ops_match_the_undelegated_interpreter(tflite_models):
    """The flatbuffer's op list is what an interpreter without XNNPACK runs."""
    for name in ("f32", "split", "two_inputs"):
        plain = Interpreter(model_path=str(tflite_models[name]),
                            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        plain.allocate_tensors()
        ours = [op["op"] for op in graph.delegation(tflite_models[name])["ops"]]
        assert ours == [node["op_name"] for node in plain._get_ops_details()]


def test_unrunnable_model_reports_the_error(tflite_models):
    info = graph.delegation(tflite_models["custom"])
    assert "Igamma" in info["error"]
    assert info["xnnpack_partitions"] == 0 and info["xnnpack_fully_delegated"] is False
