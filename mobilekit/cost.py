"""Params and multiply-accumulates per layer, for Keras models and (via the runtime) .tflite graphs.

MACs follow CONTRACTS ("summary --json"): one multiply-add per kernel weight per output position
for convolutions (standard, depthwise, 1x1, transposed) and dense layers; bias, BN, activations,
pooling and additions cost nothing. ``kernel_params`` counts conv and dense kernels only (the
papers' convention); ``params`` is Keras' ``count_params()``.

Analytic view, for one KxK layer from M to N channels at the same output size:
separable / standard = 1/N + 1/K^2 and spatial / standard = (1 + N/M)/K (exact for stride 1; a
strided Kx1 conv runs at full width, so it costs (s + N/M)/K). ``kind_comparison`` builds a builder
in every kind and sets these predictions, summed over the layers the kind switch changes, beside
the measured totals.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from mobilekit import models
from mobilekit.cli import builder_kwargs
from mobilekit.errors import UsageError
from mobilekit.keras import keras, layers
from mobilekit.layers import KINDS


def _conv_kind(kh: int, kw: int) -> str:
    if kh == kw == 1:
        return "pointwise"
    return "standard" if kh > 1 and kw > 1 else "spatial"


def _shape(shape) -> list[int]:
    """Output shape without the batch dimension (first output of a multi-output layer)."""
    if isinstance(shape, list):
        shape = shape[0]
    return [int(d) for d in shape[1:]]


def layer_cost(layer: layers.Layer) -> dict:
    """{"name", "type", "kind", "output_shape", "params", "kernel_params", "macs"} of one layer.

    A QAT wrapper is looked through: its layer's own weights and MACs are reported.
    """
    inner = getattr(layer, "layer", layer)  # tfmot QuantizeWrapper / QuantizeAnnotate
    out = _shape(layer.output_shape)
    positions = int(np.prod(out[:-1])) if out else 0
    kind, kernel, macs = None, 0, 0
    if isinstance(inner, layers.DepthwiseConv2D):  # (a Conv2D subclass: test it first)
        kh, kw, _, _ = inner.depthwise_kernel.shape
        kind, kernel = "depthwise", int(np.prod(inner.depthwise_kernel.shape))
        macs = positions * out[-1] * kh * kw
    elif isinstance(inner, layers.SeparableConv2D):
        kh, kw, cin, mult = inner.depthwise_kernel.shape
        kind = "separable"
        kernel = int(np.prod(inner.depthwise_kernel.shape) + np.prod(inner.pointwise_kernel.shape))
        macs = positions * (cin * mult * kh * kw + cin * mult * out[-1])
    elif isinstance(inner, layers.Conv2DTranspose):
        kh, kw, cout, cin = inner.kernel.shape
        kind, kernel = "transposed", int(np.prod(inner.kernel.shape))
        macs = int(np.prod(_shape(layer.input_shape)[:-1])) * kh * kw * cin * cout
    elif isinstance(inner, layers.Conv2D):
        kh, kw, cin_per_group, cout = inner.kernel.shape
        kind, kernel = _conv_kind(kh, kw), int(np.prod(inner.kernel.shape))
        macs = positions * cout * kh * kw * cin_per_group
    elif isinstance(inner, layers.Dense):
        kind, kernel = "dense", int(np.prod(inner.kernel.shape))
        macs = positions * kernel
    return {"name": inner.name, "type": type(inner).__name__, "kind": kind, "output_shape": out,
            "params": int(inner.count_params()), "kernel_params": kernel, "macs": int(macs)}


def _leaf_layers(model: keras.Model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        elif not isinstance(layer, layers.InputLayer):
            yield layer


def keras_summary(model: keras.Model, *, name: str | None = None,
                  kind: str | None = None) -> dict:
    """The CONTRACTS ``summary --json`` document of a Keras model."""
    rows = [layer_cost(layer) for layer in _leaf_layers(model)]
    return {"model": name or model.name, "kind": kind, "input_shape": _shape(model.input_shape),
            "params": int(sum(r["params"] for r in rows)),
            "kernel_params": int(sum(r["kernel_params"] for r in rows)),
            "macs": int(sum(r["macs"] for r in rows)), "layers": rows}


def tflite_summary(path: str | Path) -> dict:
    """The same document for a .tflite file or bundle, from its graph (TF-free runtime reader,
    run in a child process: the file is untrusted)."""
    from mobilekit.runtime import graph, isolate

    path = graph.check_tflite(graph.model_file(path))
    facts = isolate.call("mobilekit.runtime.graph:facts", path, what=path)
    tensors = facts["tensors"]
    rows = []
    for op, cost in zip(facts["ops"], facts["costs"]):
        kind, kernel = None, 0
        if cost["op"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"):
            shape = tensors[op["inputs"][1]]["shape"]
            kernel = int(np.prod(shape))
            kind = {"DEPTHWISE_CONV_2D": "depthwise", "FULLY_CONNECTED": "dense",
                    "TRANSPOSE_CONV": "transposed"}.get(cost["op"]) or _conv_kind(*shape[1:3])
        rows.append({"name": f"{cost['index']}:{cost['op']}", "type": cost["op"], "kind": kind,
                     "output_shape": list(cost["output_shape"])[1:], "params": cost["params"],
                     "kernel_params": kernel, "macs": cost["macs"]})
    inputs = facts["inputs"]
    return {"model": path.stem, "kind": None, "input_shape": inputs[0]["shape"][1:] if inputs else [],
            "params": facts["weights"],
            "kernel_params": int(sum(r["kernel_params"] for r in rows)),
            "macs": int(sum(r["macs"] for r in rows)), "layers": rows}


def summarize_builder(name: str, **knobs) -> dict:
    config = models.builder_config(name, **knobs)
    return keras_summary(models.build_model(name, **knobs), name=name, kind=config["kind"])


def kind_comparison(name: str, **knobs) -> list[dict]:
    """Measured totals of builder ``name`` in every kind beside the per-layer formulas' prediction.

    ``analytic_vs_standard``: the standard build's MACs with each full KxK M->N conv that the
    kind switch replaces (not e.g. the stem) scaled by 1/N + 1/K^2 (separable) or (1 + N/M)/K
    (spatial), over the standard build's MACs.
    """
    knobs = {k: v for k, v in knobs.items() if k != "kind"}
    built = {kind: models.build_model(name, kind=kind, **knobs) for kind in KINDS}
    summaries = {kind: keras_summary(m, name=name, kind=kind) for kind, m in built.items()}
    kept = {r["name"] for r in summaries["separable"]["layers"] if r["kind"] == "standard"}
    changed = []
    for layer in _leaf_layers(built["standard"]):
        cost = layer_cost(layer)
        if cost["kind"] == "standard" and cost["name"] not in kept:
            k, _, m, n = layer.kernel.shape
            changed.append((cost["macs"], {"standard": 1.0, "separable": 1 / n + 1 / k**2,
                                           "spatial": (1 + n / m) / k}))
    standard = summaries["standard"]["macs"]
    rows = []
    for kind in ("standard", "separable", "spatial"):
        predicted = standard - sum(macs * (1 - ratio[kind]) for macs, ratio in changed)
        measured = summaries[kind]
        rows.append({"kind": kind, "params": measured["params"],
                     "kernel_params": measured["kernel_params"], "macs": measured["macs"],
                     "macs_vs_standard": measured["macs"] / standard,
                     "analytic_vs_standard": predicted / standard})
    return rows


def _millions(n: int) -> str:
    return f"{n / 1e6:,.2f}M"


def format_table(summary: dict) -> str:
    """Human per-layer table (layers without params or MACs are left out)."""
    lines = [f"{'layer':<44} {'type':<22} {'kind':<10} {'output':<16} {'params':>10} "
             f"{'MACs':>14}"]
    for r in summary["layers"]:
        if r["params"] or r["macs"]:
            shape = "x".join(str(d) for d in r["output_shape"])
            lines.append(f"{r['name'][:44]:<44} {r['type'][:22]:<22} {r['kind'] or '':<10} "
                         f"{shape:<16} {r['params']:>10,} {r['macs']:>14,}")
    lines.append(f"{summary['model']} ({summary['kind'] or 'kind n/a'}), input "
                 f"{'x'.join(str(d) for d in summary['input_shape'])}: params "
                 f"{summary['params']:,} (kernels {summary['kernel_params']:,}), MACs "
                 f"{summary['macs']:,} ({_millions(summary['macs'])})")
    return "\n".join(lines)


def format_kinds(rows: list[dict]) -> str:
    lines = ["kind comparison (analytic per KxK layer M->N: separable/standard = 1/N + 1/K^2, "
             "spatial/standard = (1 + N/M)/K)",
             f"{'kind':<10} {'params':>12} {'kernel params':>14} {'MACs':>12} "
             f"{'measured/std':>13} {'analytic/std':>13}"]
    for r in rows:
        lines.append(f"{r['kind']:<10} {r['params']:>12,} {r['kernel_params']:>14,} "
                     f"{_millions(r['macs']):>12} {r['macs_vs_standard']:>13.4f} "
                     f"{r['analytic_vs_standard']:>13.4f}")
    return "\n".join(lines)


def summary_command(args: argparse.Namespace) -> int:
    """``mobilekit summary MODEL``: a builder name (+ builder flags), run dir / .keras, or .tflite."""
    knobs = builder_kwargs(args)
    target = args.model
    kinds = None
    if target in models.BUILDERS:
        summary = summarize_builder(target, **knobs)
        kinds = kind_comparison(target, **knobs)
        summary["kinds"] = kinds
    else:
        if knobs:
            raise UsageError(f"builder flags ({', '.join(sorted(knobs))}) apply only to builder "
                             f"names ({', '.join(models.BUILDERS)}), not to {target}")
        path = Path(target)
        if not path.exists():
            raise UsageError(f"{target}: not a builder name ({', '.join(models.BUILDERS)}) "
                             f"nor an existing file or run directory")
        is_bundle = (path / "manifest.json").is_file()
        summary = tflite_summary(path) if path.suffix == ".tflite" or is_bundle \
            else _saved_summary(path)
    print(format_table(summary), file=sys.stderr)
    if kinds:
        print(format_kinds(kinds), file=sys.stderr)
    if args.json:
        print(json.dumps(summary))
    return 0


def _saved_summary(path: Path) -> dict:
    """A run directory's or .keras file's summary, named and kinded by run.json when present."""
    run_json = (path if path.is_dir() else path.parent) / "run.json"
    builder = {}
    if run_json.is_file():
        try:
            builder = json.loads(run_json.read_text(encoding="utf-8")).get("builder") or {}
        except ValueError:
            raise UsageError(f"{run_json}: not valid JSON") from None
    model = models.load_keras(path)
    return keras_summary(model, name=builder.get("name"), kind=builder.get("kind"))
