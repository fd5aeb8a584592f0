"""``mobilekit compare``: the same builder in several conv kinds and quantizations, side by side.

Each variant is built once with fresh weights (latency does not depend on what the weights
learned; batch-norm statistics come from data so int8 graphs are a trained model's), exported
through the export module, and all variants are benchmarked interleaved in randomised rounds on
every target, so drift and heat hit them equally. Existing ``.tflite`` files or bundles can be
compared as they are.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mobilekit.nets.config import BuilderConfig

CALIBRATION_IMAGES = 64


def compare(config: BuilderConfig, *, kinds: list, quants: list[str], out_dir: str | Path,
            **timing) -> list[dict]:
    """Export ``config`` in every kind of ``kinds`` (kind names or per-stage lists) and quant of
    ``quants`` into ``out_dir``, benchmark them (``timing``: ``bench.schedule.benchmark``'s
    keywords) and write the report; returns the report's rows."""
    variants = list(dict.fromkeys(config.replace(kind=kind) for kind in kinds))
    out_dir = Path(out_dir)
    manifests = build_variants(variants, quants, out_dir)
    title = f"mobilekit compare: {config.name} " + ", ".join(v.kind_label for v in variants)
    notes = ["fresh (untrained) weights with batch-norm statistics from data: latency and MACs "
             "do not depend on what the weights learned"]
    return _measure_and_report(manifests, [out_dir / m["name"] for m in manifests], out_dir,
                               title, notes, timing)


def compare_files(paths: list[str | Path], *, out_dir: str | Path, **timing) -> list[dict]:
    """Benchmark existing bundles or .tflite files side by side and write the report."""
    from mobilekit.errors import UsageError

    paths = [Path(p) for p in paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"{missing[0]}: no such builder, bundle or file")
    manifests = describe_existing(paths)
    title = "mobilekit compare: " + ", ".join(m["name"] for m in manifests)
    return _measure_and_report(manifests, paths, Path(out_dir), title, [], timing)


def build_variants(variants: list[BuilderConfig], quants: list[str], out_dir: Path) -> list[dict]:
    """One bundle per configuration x quantization in ``out_dir``; their manifests, each with
    the analytic MAC ratio of its kind against the standard build."""
    from mobilekit import data
    from mobilekit.deploy.bundle import bundle_name
    from mobilekit.deploy.export import export_bundle
    from mobilekit.nets import cost, models

    images = data.normalize(data.embedded_arrays("train", resolution=variants[0].resolution,
                                                 count=CALIBRATION_IMAGES)[0])
    built = {v: models.build_model(v) for v in variants}
    standard = next((m for v, m in built.items() if v.kind == "standard"), None) \
        or models.build_model(variants[0].replace(kind="standard"))
    manifests = []
    for config, model in built.items():
        models.calibrate_batch_norm(model, images)  # fresh weights, trained-like int8 ranges
        for quant in quants:
            name = bundle_name(config, quant)
            print(f"[compare] exporting {name}", file=sys.stderr, flush=True)
            manifest = export_bundle(
                model, out_dir / name, quant=quant, name=name,
                labels=[f"class_{i}" for i in range(config.classes)], builder=config,
                trained=False, normalization=data.NORMALIZATION, calibration=images, replace=True)
            manifest["analytic_macs_ratio"] = cost.analytic_macs_ratio(config, standard)
            manifests.append(manifest)
    return manifests


def describe_existing(paths: list[Path]) -> list[dict]:
    """Manifest-like records for bundles or bare .tflite files compared as they are."""
    from mobilekit.deploy.bundle import read_bundle
    from mobilekit.runtime import graph, isolate

    records = []
    for path in paths:
        if path.is_dir():
            records.append(read_bundle(path))
            continue
        costs = isolate.call("mobilekit.runtime.graph:op_costs", graph.check_tflite(path), what=path)  # untrusted
        records.append({"name": path.stem, "quantization": "as-is", "builder": None,
                        "params": sum(c["params"] for c in costs),
                        "macs": sum(c["macs"] for c in costs)})
    return records


def _measure_and_report(manifests: list[dict], paths: list[Path], out_dir: Path, title: str,
                        notes: list[str], timing: dict) -> list[dict]:
    from mobilekit.bench import schedule
    from mobilekit.studies import report

    results = out_dir / "results.jsonl"
    out_dir.mkdir(parents=True, exist_ok=True)
    results.unlink(missing_ok=True)
    rows = schedule.benchmark(paths, results=results, **timing)
    table_rows = report.variant_rows(manifests, rows)
    targets = ", ".join(timing.get("targets") or ["local"])
    threads = ",".join(map(str, timing.get("threads", [1])))
    notes = [f"targets: {targets}; threads: {threads}; {timing.get('rounds', 1)} interleaved "
             f"rounds of >= {timing.get('runs', 50)} runs each", *notes]
    report.write_report(out_dir, title, table_rows, notes)
    return table_rows
