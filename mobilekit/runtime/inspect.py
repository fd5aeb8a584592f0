"""``mobilekit inspect``: what a .tflite holds and what XNNPACK will do with it, before timing it.

TF-free, so it works on a device too: ``python -m mobilekit inspect model.tflite``.
"""

from __future__ import annotations

import os

from mobilekit.runtime import graph, isolate


def describe(path: str | os.PathLike) -> dict:
    """The CONTRACTS ``inspect --json`` document of a .tflite file or bundle directory.

    Beyond the contract: ``ops_total``, ``xnnpack_fully_delegated``, per-op ``output_shape``,
    ``params`` and ``macs``, and ``error`` when this machine's interpreter cannot prepare the model
    or crashes on it (the graph facts still come from the file). The file is checked here, then
    read and handed to LiteRT in child processes (see isolate).
    """
    path = graph.check_tflite(graph.model_file(path))
    facts = isolate.call("mobilekit.runtime.graph:facts", path, what=path)
    try:
        delegated = isolate.call("mobilekit.runtime.graph:delegation", path, what=path)
    except isolate.ChildFailed as exc:
        delegated = {**graph.delegation_summary(facts["ops"], []), "error": str(exc)}
    costs = facts["costs"]
    ops = [{**op, "output_shape": cost["output_shape"], "params": cost["params"], "macs": cost["macs"]}
           for op, cost in zip(delegated["ops"], costs)]
    info = {
        "file": str(path), "size_bytes": path.stat().st_size,
        "weights": facts["weights"], "macs": sum(c["macs"] for c in costs),
        "inputs": facts["inputs"], "outputs": facts["outputs"], "ops": ops, "ops_total": len(ops),
        "xnnpack_partitions": delegated["xnnpack_partitions"],
        "ops_outside_xnnpack": delegated["ops_outside_xnnpack"],
        "xnnpack_fully_delegated": delegated["xnnpack_fully_delegated"],
    }
    if "error" in delegated:
        info["error"] = delegated["error"]
    return info


def _tensor_line(kind: str, t: dict) -> str:
    quant = t["quantization"]
    q = f"  scale={quant['scale']} zero_point={quant['zero_point']}" if quant else ""
    return f"{kind:7} {t['name']}  {t['dtype']}{t['shape']}{q}"


def format_table(info: dict) -> str:
    """The human view: header facts, then one line per op."""
    lines = [f"{info['file']}: {info['size_bytes']:,} bytes, {info['weights']:,} weights, "
             f"{info['macs']:,} MACs",
             *(_tensor_line("input", t) for t in info["inputs"]),
             *(_tensor_line("output", t) for t in info["outputs"]),
             f"{'#':>4}  {'op':24} {'output':18} {'params':>10} {'MACs':>14}  XNNPACK"]
    for op in info["ops"]:
        shape = "x".join(map(str, op["output_shape"]))
        lines.append(f"{op['index']:>4}  {op['op']:24} {shape:18} {op['params']:>10,} {op['macs']:>14,}  "
                     f"{'yes' if op['xnnpack'] else 'NO'}")
    outside = ", ".join(info["ops_outside_xnnpack"]) or "none"
    lines.append(f"XNNPACK partitions: {info['xnnpack_partitions']}; ops outside XNNPACK: {outside}")
    if info.get("error"):
        lines.append(f"cannot run here: {info['error']}")
    return "\n".join(lines)
