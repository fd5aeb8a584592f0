"""What is inside a ``.tflite`` file: its ops, their MACs and weights, and which ones XNNPACK takes.

The graph is read straight from the flatbuffer (the schema module ships with ai-edge-litert), so
costs are known even for models the interpreter cannot run. Delegation is read from a live
Interpreter: after ``allocate_tensors`` the default (XNNPACK) interpreter keeps the model's own
nodes at their indices and appends one ``DELEGATE`` node per XNNPACK partition, whose inputs and
outputs are the partition's boundary tensors. An interpreter built with
``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` shows only the model's own nodes, the same list as the
flatbuffer. The nodes a partition replaced are the ones between its output tensors and its input
tensors; every other node runs on LiteRT's built-in kernels.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from mobilekit.errors import UsageError
from mobilekit.runtime import flatbuffer_check

TFLITE_MAGIC = b"TFL3"  # the flatbuffer file identifier, at bytes 4..8
MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
# input slot of the bias of each MAC op: the only constant int32 tensor that is a weight (int8
# models keep biases in int32); every other constant int tensor is a shape, axis or padding
_BIAS_SLOT = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "TRANSPOSE_CONV": 3}
# input slot and rank of the weights of each MAC op
_WEIGHTS = {"CONV_2D": (1, 4), "DEPTHWISE_CONV_2D": (1, 4), "FULLY_CONNECTED": (1, 2), "TRANSPOSE_CONV": (1, 4)}
_INDEX_TYPES = ("INT32", "INT64")


def check_tflite(path: str | os.PathLike) -> Path:
    """The path, after making sure it is a readable, structurally sound TFLite flatbuffer (else
    UsageError naming the file and what is wrong); see flatbuffer_check."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if not path.is_file():
        raise UsageError(f"{path}: not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) < 8 or data[4:8] != TFLITE_MAGIC:
        raise UsageError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        flatbuffer_check.check(data)
    except flatbuffer_check.MalformedModel as exc:
        raise UsageError(f"{path}: not a valid TFLite model: {exc}") from None
    return path


def _schema():
    from ai_edge_litert import schema_py_generated  # large module: import when needed

    return schema_py_generated


@lru_cache(maxsize=1)
def _enum_names(enum_name: str) -> dict[int, str]:
    enum = getattr(_schema(), enum_name)
    return {value: name for name, value in vars(enum).items() if not name.startswith("_")}


def _model(path: Path):
    data = check_tflite(path).read_bytes()
    try:
        model = _schema().Model.GetRootAsModel(data, 0)
        if model.SubgraphsLength() < 1:
            raise ValueError("no subgraph")
        return model
    except Exception as exc:  # a truncated or corrupted flatbuffer fails anywhere in parsing
        raise UsageError(f"{path}: not a TFLite flatbuffer ({type(exc).__name__}: {exc})") from None


def op_name(model, op) -> str:
    """The op's builtin name (e.g. CONV_2D) or, for a custom op, its custom code."""
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    name = _enum_names("BuiltinOperator").get(builtin, f"OP_{builtin}")
    if name == "CUSTOM" and code.CustomCode():
        return code.CustomCode().decode("utf-8", "replace")
    return name


def _tensor_info(model, graph) -> list[dict]:
    types = _enum_names("TensorType")
    tensors = []
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        buffer = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
        constant = buffer is not None and (buffer.DataLength() > 0 or buffer.Size() > 0)
        shape = [int(d) for d in t.ShapeAsNumpy()] if t.ShapeLength() else []
        tensors.append({"shape": shape, "type": types.get(t.Type(), str(t.Type())), "constant": constant})
    return tensors


def _macs(name: str, inputs: list[dict], output_shape: list[int]) -> int:
    """Multiply-accumulates per CONTRACTS: one per kernel weight per output position."""
    out = int(np.prod(output_shape)) if output_shape else 0
    if name == "CONV_2D":  # weights [O, KH, KW, I/groups]
        _, kh, kw, cin = inputs[1]["shape"]
        return out * kh * kw * cin
    if name == "DEPTHWISE_CONV_2D":  # weights [1, KH, KW, C*M]
        _, kh, kw, _ = inputs[1]["shape"]
        return out * kh * kw
    if name == "FULLY_CONNECTED":  # weights [O, I]
        return out * inputs[1]["shape"][-1]
    if name == "TRANSPOSE_CONV":  # (output_shape, weights [O, KH, KW, I], input)
        cout, kh, kw, _ = inputs[1]["shape"]
        return int(np.prod(inputs[2]["shape"])) * kh * kw * cout
    return 0


def read_graph(path: str | os.PathLike) -> tuple[list[dict], list[dict]]:
    """(ops, tensors) of the main subgraph: ops in execution order as {"index", "op", "inputs",
    "outputs"} (tensor indices, -1 for an omitted input); tensors as {"shape", "type", "constant"}."""
    model = _model(Path(path))
    graph = model.Subgraphs(0)
    tensors = _tensor_info(model, graph)
    ops = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        inputs = [int(t) for t in op.InputsAsNumpy()] if op.InputsLength() else []
        outputs = [int(t) for t in op.OutputsAsNumpy()] if op.OutputsLength() else []
        ops.append({"index": i, "op": op_name(model, op), "inputs": inputs, "outputs": outputs})
    return ops, tensors


def _const_params(name: str, inputs: list[tuple[int, dict]]) -> dict[int, int]:
    """tensor index -> elements, for the constant weight tensors an op reads."""
    params = {}
    for slot, (index, tensor) in enumerate(inputs):
        if index < 0 or not tensor["constant"]:
            continue
        if tensor["type"] in _INDEX_TYPES and slot != _BIAS_SLOT.get(name):
            continue
        params[index] = int(np.prod(tensor["shape"])) if tensor["shape"] else 1
    return params


def op_costs(path: str | os.PathLike) -> list[dict]:
    """Per op: {"index", "op", "output_shape", "params", "macs"} (CONTRACTS MAC rules)."""
    return _public_costs(_costs(path, *read_graph(path)))


def _public_costs(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "weight_tensors"} for row in rows]


def _check_mac_op(path, op: dict, tensors: list[dict]) -> None:
    """A MAC op whose weights are missing or of the wrong rank cannot be costed (nor run)."""
    slot, rank = _WEIGHTS[op["op"]]
    needed = [slot] + ([2] if op["op"] == "TRANSPOSE_CONV" else [])
    if any(len(op["inputs"]) <= i or op["inputs"][i] < 0 for i in needed):
        raise UsageError(f"{path}: op {op['index']} {op['op']} lacks its weight or input tensor")
    shape = tensors[op["inputs"][slot]]["shape"]
    if len(shape) != rank:
        raise UsageError(f"{path}: op {op['index']} {op['op']} has weights of shape {shape}, not {rank}-D")


def _costs(path, ops: list[dict], tensors: list[dict]) -> list[dict]:
    rows = []
    for op in ops:
        if op["op"] in _WEIGHTS:
            _check_mac_op(path, op, tensors)
        inputs = [(t, tensors[t] if t >= 0 else {}) for t in op["inputs"]]  # slots kept
        output_shape = tensors[op["outputs"][0]]["shape"] if op["outputs"] and op["outputs"][0] >= 0 else []
        weights = _const_params(op["op"], inputs)
        rows.append({"index": op["index"], "op": op["op"], "output_shape": output_shape,
                     "params": sum(weights.values()),
                     "macs": _macs(op["op"], [t for _, t in inputs], output_shape),
                     "weight_tensors": weights})
    return rows


def total_weights(path: str | os.PathLike) -> int:
    """Elements of all constant weight tensors, each counted once even when shared by ops."""
    return _total_weights(_costs(path, *read_graph(path)))


def _total_weights(rows: list[dict]) -> int:
    unique: dict[int, int] = {}
    for row in rows:
        unique.update(row["weight_tensors"])
    return sum(unique.values())


def facts(path: str | os.PathLike) -> dict:
    """What inspect and summary read from the file, as one JSON-able document (what
    ``isolate.call`` brings back from the child that reads an untrusted file): "ops" and
    "tensors" as read_graph gives them, "costs" as op_costs, "weights", "inputs", "outputs"."""
    ops, tensors = read_graph(path)
    rows = _costs(path, ops, tensors)
    inputs, outputs = io_tensors(path)
    return {"ops": ops, "tensors": tensors, "costs": _public_costs(rows), "weights": _total_weights(rows),
            "inputs": inputs, "outputs": outputs}


def _quantization(tensor) -> dict | None:
    q = tensor.Quantization()
    if q is None or q.ScaleLength() == 0:
        return None
    scale, zero_point = q.ScaleAsNumpy().tolist(), q.ZeroPointAsNumpy().tolist()
    if len(scale) == 1:
        return {"scale": scale[0], "zero_point": zero_point[0] if zero_point else 0}
    return {"scale": scale, "zero_point": zero_point}  # per channel


def io_tensors(path: str | os.PathLike) -> tuple[list[dict], list[dict]]:
    """(inputs, outputs) of the main subgraph as CONTRACTS ``inspect`` entries: name, shape,
    dtype (numpy name) and quantization ({"scale", "zero_point"} or null), plus shape_signature
    (-1 for a dynamic dimension)."""
    model = _model(Path(path))
    graph = model.Subgraphs(0)
    types = _enum_names("TensorType")

    def entry(index: int) -> dict:
        t = graph.Tensors(index)
        shape = [int(d) for d in t.ShapeAsNumpy()] if t.ShapeLength() else []
        return {"name": t.Name().decode("utf-8", "replace"), "shape": shape,
                "shape_signature": [int(d) for d in t.ShapeSignatureAsNumpy()] if t.ShapeSignatureLength() else shape,
                "dtype": types.get(t.Type(), str(t.Type())).lower(),
                "quantization": _quantization(t)}

    inputs = [entry(int(i)) for i in graph.InputsAsNumpy()] if graph.InputsLength() else []
    outputs = [entry(int(i)) for i in graph.OutputsAsNumpy()] if graph.OutputsLength() else []
    return inputs, outputs


def model_file(path: str | os.PathLike) -> Path:
    """The .tflite of a path that is a .tflite file or a bundle directory (its manifest's
    ``model_file``, else ``model.tflite``)."""
    path = Path(path)
    if not path.is_dir():
        return path
    name = "model.tflite"
    manifest = path / "manifest.json"
    if manifest.is_file():
        try:
            name = json.loads(manifest.read_text(encoding="utf-8")).get("model_file") or name
        except (ValueError, AttributeError):
            raise UsageError(f"{manifest}: not a valid JSON manifest") from None
        if not isinstance(name, str) or Path(name).name != name or name in (".", ".."):
            raise UsageError(f"{manifest}: model_file {name!r} is not a file name inside the bundle")
    if not (path / name).is_file():
        raise UsageError(f"{path}: a directory without {name} (not a bundle)")
    return path / name


def delegated_nodes(ops: list[dict], nodes: list[dict]) -> list[set[int]]:
    """For each DELEGATE node among the interpreter's ``nodes`` (``_get_ops_details()`` after
    allocation), the indices of the model ops it replaced: the producers between its outputs and
    its inputs."""
    producer = {t: op["index"] for op in ops for t in op["outputs"]}
    by_index = {op["index"]: op for op in ops}
    partitions = []
    for node in nodes:
        if node["op_name"] != "DELEGATE" or node["index"] < len(ops):
            continue
        boundary = {int(t) for t in node["inputs"]}
        taken: set[int] = set()
        todo = [int(t) for t in node["outputs"]]
        while todo:
            tensor = todo.pop()
            if tensor in boundary or tensor not in producer or producer[tensor] in taken:
                continue
            taken.add(producer[tensor])
            todo.extend(t for t in by_index[producer[tensor]]["inputs"] if t >= 0)
        partitions.append(taken)
    return partitions


def delegation_summary(ops: list[dict], partitions: list[set[int]]) -> dict:
    """The CONTRACTS delegation fields from the op list and the partitions XNNPACK made."""
    inside = set().union(*partitions) if partitions else set()
    rows = [{"index": op["index"], "op": op["op"], "xnnpack": op["index"] in inside} for op in ops]
    outside = [row["op"] for row in rows if not row["xnnpack"]]
    return {"ops": rows, "xnnpack_partitions": len(partitions), "ops_outside_xnnpack": outside,
            "xnnpack_fully_delegated": bool(rows) and not outside}


def delegation(path: str | os.PathLike) -> dict:
    """Which ops the default XNNPACK delegate takes, from a real Interpreter on this machine.

    A model the interpreter cannot prepare (e.g. an unresolved custom op) reports no partitions
    and an ``error`` line.
    """
    from ai_edge_litert.interpreter import Interpreter

    ops, _ = read_graph(path)
    try:
        interpreter = Interpreter(model_path=str(path), num_threads=1)
        interpreter.allocate_tensors()
        partitions = delegated_nodes(ops, interpreter._get_ops_details())
    except (RuntimeError, ValueError) as exc:
        return {**delegation_summary(ops, []), "error": one_line(exc)}
    return delegation_summary(ops, partitions)


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as the one line an error row or message needs (a UsageError's own text);
    a multi-line native message keeps its lines, joined by " | "."""
    lines = [line.strip().lstrip("└").strip() for line in str(exc).splitlines() if line.strip()]
    text = " | ".join(lines) or "no message"
    text = text if len(text) <= limit else text[:limit - 3] + "..."
    return text if isinstance(exc, UsageError) else f"{type(exc).__name__}: {text}"
