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

from pathlib import Path

import numpy as np

from mobilekit.errors import UsageError
from mobilekit.keras import keras, layers
from mobilekit.nets import models
from mobilekit.nets.config import KINDS, BuilderConfig


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


def keras_summary(model: keras.Model, config: BuilderConfig | None = None) -> dict:
    """The CONTRACTS ``summary --json`` document of a Keras model; with the ``config`` it was
    built from, every layer also carries its stage (``stages`` names them in order)."""
    stages = models.layer_stages(model)
    if config is not None and stages is None:  # a loaded model: its builder knows the stages
        stages = models.layer_stages(models.build_model(config))
    rows = []
    for layer in _leaf_layers(model):
        row = layer_cost(layer)
        row["stage"] = stages.get(layer.name) if stages else None
        rows.append(row)
    summary = {"model": config.name if config else model.name,
               "kind": config.kind if config else None,
               "input_shape": _shape(model.input_shape),
               "params": int(sum(r["params"] for r in rows)),
               "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
               "kernel_params": int(sum(r["kernel_params"] for r in rows)),
               "macs": int(sum(r["macs"] for r in rows)), "layers": rows}
    if config is not None:
        summary["stages"] = [{"stage": i, "name": name, "kind": kind,
                              "macs": sum(r["macs"] for r in rows if r["stage"] == i)}
                             for i, (name, kind) in enumerate(zip(config.stage_names(),
                                                                  config.stage_kinds))]
    return summary


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
                     "kernel_params": kernel, "macs": cost["macs"], "stage": None})
    inputs = facts["inputs"]
    return {"model": path.stem, "kind": None, "input_shape": inputs[0]["shape"][1:] if inputs else [],
            "params": facts["weights"], "trainable_params": None,
            "kernel_params": int(sum(r["kernel_params"] for r in rows)),
            "macs": int(sum(r["macs"] for r in rows)), "layers": rows}


def summarize_builder(config: BuilderConfig) -> dict:
    """The summary of a fresh build of ``config``, with the kind comparison (``kinds``)."""
    summary = keras_summary(models.build_model(config), config)
    summary["kinds"] = kind_comparison(config)
    return summary


def kind_comparison(config: BuilderConfig) -> list[dict]:
    """Measured totals of ``config`` in every kind (and as given, when per stage) beside the
    per-layer formulas' prediction (``analytic_vs_standard``, see ``analytic_macs_ratio``)."""
    variants = {kind: config.replace(kind=kind) for kind in KINDS}
    if config.kind not in variants:
        variants[config.kind_label] = config
    built = {label: models.build_model(c) for label, c in variants.items()}
    standard = built["standard"]
    rows = []
    for label, model in built.items():
        measured = keras_summary(model)
        rows.append({"kind": label, "params": measured["params"],
                     "kernel_params": measured["kernel_params"], "macs": measured["macs"],
                     "macs_vs_standard": measured["macs"] / keras_summary(standard)["macs"],
                     "analytic_vs_standard": analytic_macs_ratio(variants[label], standard)})
    return rows


def analytic_macs_ratio(config: BuilderConfig, standard: keras.Model) -> float:
    """The MACs of ``config`` over its standard build's, predicted from the standard build alone:
    each full KxK M->N conv in a stage the kind switch changes scaled by 1/N + 1/K^2
    (separable) or (1 + N/M)/K (spatial), by the kind of its stage."""
    stages = models.layer_stages(standard)
    kinded = config.kinded_stages()
    total = predicted = 0
    for layer in _leaf_layers(standard):
        cost = layer_cost(layer)
        total += cost["macs"]
        stage = stages[layer.name]
        if cost["kind"] != "standard" or stage not in kinded:
            predicted += cost["macs"]
            continue
        k, _, m, n = layer.kernel.shape
        ratio = {"standard": 1.0, "separable": 1 / n + 1 / k**2,
                 "spatial": (1 + n / m) / k}[config.stage_kinds[stage]]
        predicted += cost["macs"] * ratio
    return predicted / total


def _millions(n: int) -> str:
    return f"{n / 1e6:,.2f}M"


def format_table(summary: dict) -> str:
    """Human per-layer table (layers without params or MACs are left out)."""
    lines = [f"{'layer':<44} {'stage':>5} {'type':<22} {'kind':<10} {'output':<16} "
             f"{'params':>10} {'MACs':>14}"]
    for r in summary["layers"]:
        if r["params"] or r["macs"]:
            shape = "x".join(str(d) for d in r["output_shape"])
            stage = "" if r.get("stage") is None else r["stage"]
            lines.append(f"{r['name'][:44]:<44} {stage:>5} {r['type'][:22]:<22} "
                         f"{r['kind'] or '':<10} {shape:<16} {r['params']:>10,} {r['macs']:>14,}")
    for stage in summary.get("stages", []):
        lines.append(f"stage {stage['stage']} ({stage['name']}): {stage['kind']}, "
                     f"{_millions(stage['macs'])} MACs")
    kind = summary["kind"]
    kind = "kind n/a" if kind is None else kind if isinstance(kind, str) else ",".join(kind)
    lines.append(f"{summary['model']} ({kind}), input "
                 f"{'x'.join(str(d) for d in summary['input_shape'])}: params "
                 f"{summary['params']:,} (kernels {summary['kernel_params']:,}), MACs "
                 f"{summary['macs']:,} ({_millions(summary['macs'])})")
    return "\n".join(lines)


def format_kinds(rows: list[dict]) -> str:
    lines = ["kind comparison (analytic per KxK layer M->N: separable/standard = 1/N + 1/K^2, "
             "spatial/standard = (1 + N/M)/K)",
             f"{'kind':<16} {'params':>12} {'kernel params':>14} {'MACs':>12} "
             f"{'measured/std':>13} {'analytic/std':>13}"]
    for r in rows:
        lines.append(f"{r['kind']:<16} {r['params']:>12,} {r['kernel_params']:>14,} "
                     f"{_millions(r['macs']):>12} {r['macs_vs_standard']:>13.4f} "
                     f"{r['analytic_vs_standard']:>13.4f}")
    return "\n".join(lines)


def summarize(model: str | BuilderConfig, *, trust: bool = False) -> dict:
    """The ``summary --json`` document of a builder configuration, a .tflite file or bundle, or a
    run directory / .keras file (named and staged by its run.json when present)."""
    if isinstance(model, BuilderConfig):
        return summarize_builder(model)
    path = Path(model)
    if not path.exists():
        raise UsageError(f"{model}: not a builder name ({', '.join(models.BUILDERS)}) "
                         f"nor an existing file or run directory")
    if path.suffix == ".tflite" or (path / "manifest.json").is_file():
        return tflite_summary(path)
    from mobilekit.train import run_dir

    config = run_dir.run_builder(run_dir.read_run(path))
    return keras_summary(run_dir.load_keras(path, trust=trust), config)
