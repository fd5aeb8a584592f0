"""``mobilekit compare``: the same builder in several conv kinds and quantizations, side by side.

Each variant is built with fresh weights (latency does not depend on what the weights learned),
exported through the export module, and all variants are benchmarked interleaved in randomised
rounds on every target, so drift and heat hit them equally. Existing ``.tflite`` files or bundles
can be compared as they are.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mobilekit.errors import UsageError

CALIBRATION_IMAGES = 64


def _split(value: str, flag: str, allowed: tuple[str, ...]) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        raise UsageError(f"{flag}: unknown value {','.join(bad) or value!r} "
                         f"(choose from {', '.join(allowed)})")
    return items


def build_variants(builder: str, knobs: dict, kinds: list[str], quants: list[str],
                   out_dir: Path) -> list[dict]:
    """Export one bundle per kind x quantization into ``out_dir``; return their manifests."""
    from mobilekit import cost, data, models
    from mobilekit.deploy.bundle import bundle_name
    from mobilekit.deploy.export import export_bundle

    analytic = {r["kind"]: r["analytic_vs_standard"] for r in cost.kind_comparison(builder, **knobs)}
    manifests = []
    for kind in kinds:
        config = models.builder_config(builder, **dict(knobs, kind=kind))
        images, _ = data.embedded_arrays("train", resolution=config["resolution"],
                                         count=CALIBRATION_IMAGES)
        images = data.normalize(images)
        model = models.calibrate_batch_norm(  # fresh weights, trained-like int8 ranges
            models.build_model(builder, **dict(knobs, kind=kind)), images)
        for quant in quants:
            name = bundle_name(config, quant)
            print(f"[compare] exporting {name}", file=sys.stderr, flush=True)
            manifest = export_bundle(
                model, out_dir / name, quant=quant, name=name, labels=_labels(config),
                builder=config, trained=False, normalization=data.NORMALIZATION,
                calibration=images, replace=True)
            manifest["analytic_macs_ratio"] = analytic[kind]
            manifests.append(manifest)
    return manifests


def _labels(config: dict) -> list[str]:
    return [f"class_{i}" for i in range(config["classes"])]


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


def compare_command(args: argparse.Namespace) -> int:
    from mobilekit import bench, models, report
    from mobilekit.cli import KINDS, QUANT_MODES, builder_kwargs

    out_dir = Path(args.out)
    targets = args.target or ["local"]
    threads = bench.parse_threads(args.threads)
    if len(args.model) == 1 and args.model[0] in models.BUILDERS:
        builder = args.model[0]
        kinds = _split(args.kinds, "--kinds", KINDS)
        quants = _split(args.quant, "--quant", QUANT_MODES)
        knobs = {k: v for k, v in builder_kwargs(args).items() if k != "kind"}
        models.builder_config(builder, **knobs)  # bad knobs fail here, before any export
        manifests = build_variants(builder, knobs, kinds, quants, out_dir)
        title = f"mobilekit compare: {builder} " + ", ".join(kinds)
        paths = [out_dir / m["name"] for m in manifests]
    else:
        paths = [Path(p) for p in args.model]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise UsageError(f"{missing[0]}: no such builder, bundle or file "
                             f"(builders: {', '.join(models.BUILDERS)})")
        manifests = describe_existing(paths)
        title = "mobilekit compare: " + ", ".join(m["name"] for m in manifests)

    results = out_dir / "results.jsonl"
    results.unlink(missing_ok=True)
    rows = bench.benchmark(paths, targets=targets, threads=threads, runs=args.runs,
                           rounds=args.rounds, results=results, options=args)
    table_rows = report.variant_rows(manifests, rows)
    notes = [f"targets: {', '.join(targets)}; threads: {args.threads}; {args.rounds} "
             f"interleaved rounds of >= {args.runs} runs each",
             "fresh (untrained) weights: latency and MACs do not depend on what the weights learned"]
    report.write_report(out_dir, title, table_rows, notes)
    print(report.format_table(table_rows), file=sys.stderr)
    if args.json:
        print(json.dumps(table_rows))
    return 1 if any(r.get("error") for r in rows) else 0
