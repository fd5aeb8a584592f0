"""One handler per sub-command: parsed flags -> one library call -> tables on stderr, JSON on
stdout. The functions called here are the Python API (``mobilekit.export``, ``mobilekit.bench``
...); heavy modules are imported inside each handler so that ``inspect`` and ``bench`` never load
TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mobilekit.cli import flags
from mobilekit.errors import UsageError
from mobilekit.nets.specs import BUILDERS


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def quickstart(args: argparse.Namespace) -> int:
    from mobilekit.studies import report
    from mobilekit.studies.quickstart import run_quickstart

    options = {k: v for k, v in (("epochs", args.epochs), ("runs", args.runs)) if v is not None}
    rows = run_quickstart(Path(args.out), **options)
    _err(report.format_table(rows))
    if args.json:
        print(json.dumps(rows))
    return 1 if any(r.get("error") for r in rows) else 0


def summary(args: argparse.Namespace) -> int:
    from mobilekit.nets import cost

    if args.model in BUILDERS:
        result = cost.summarize(flags.builder_config(args.model, args))
    else:
        flags.refuse_builder_flags(args, args.model)
        result = cost.summarize(args.model)
    _err(cost.format_table(result))
    if result.get("kinds"):
        _err(cost.format_kinds(result["kinds"]))
    if args.json:
        print(json.dumps(result))
    return 0


def export(args: argparse.Namespace) -> int:
    from mobilekit.deploy.export import export as export_model
    from mobilekit.deploy.export import format_export

    if args.model in BUILDERS:
        model = flags.builder_config(args.model, args)
    else:
        flags.refuse_builder_flags(args, args.model)
        model = args.model
    result = export_model(model, quant=args.quant, io=args.io, out=args.out, force=args.force,
                          trust_model=args.trust_model, samples=args.samples,
                          min_agreement=args.min_agreement, max_rel_diff=args.max_rel_diff)
    _err(format_export(result["bundle"], result["manifest"]))
    if args.json:
        print(json.dumps(result))
    return 0


def bench(args: argparse.Namespace) -> int:
    from mobilekit.bench import schedule
    from mobilekit.runtime.runner import parse_shape

    try:
        input_shape = parse_shape(args.input_shape)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--input-shape: {exc}") from None
    rows = schedule.benchmark(args.paths, input_shape=input_shape, input_seed=args.input_seed,
                              results=args.results, on_row=schedule.print_progress,
                              **flags.timing(args))
    _err(schedule.format_table(rows))
    if args.json:
        for row in rows:
            print(json.dumps(row))
    return 1 if any(r.get("error") for r in rows if r.get("round") is None) else 0


def compare(args: argparse.Namespace) -> int:
    from mobilekit.studies import compare as study
    from mobilekit.studies import report

    if len(args.model) == 1 and args.model[0] in BUILDERS:
        config = flags.builder_config(args.model[0], args)
        for kind in args.kinds:  # every kind is checked before anything is exported
            config.replace(kind=kind)
        rows = study.compare(config, kinds=args.kinds, quants=args.quant, out_dir=args.out,
                             **flags.timing(args))
    else:
        flags.refuse_builder_flags(args, args.model[0])
        rows = study.compare_files(args.model, out_dir=args.out, **flags.timing(args))
    _err(report.format_table(rows))
    if args.json:
        print(json.dumps(rows))
    return 1 if any(r.get("error") for r in rows) else 0


def inspect(args: argparse.Namespace) -> int:
    from mobilekit.runtime.inspect import describe, format_table

    info = describe(args.file)
    _err(format_table(info))
    if args.json:
        print(json.dumps(info, indent=2))
    return 0


def predict(args: argparse.Namespace) -> int:
    from mobilekit.deploy.predict import predict as classify

    result = classify(args.bundle, args.images, top=args.top)
    for item in result["results"]:
        _err(f"{item['image']}: " + ", ".join(f"{t['label']} {t['score']:.3f}" for t in item["top"]))
    if args.json:
        print(json.dumps(result))
    return 0


def web(args: argparse.Namespace) -> int:
    from mobilekit.web import serve

    return serve(args.bundles, args.port, args.demo_dir)
