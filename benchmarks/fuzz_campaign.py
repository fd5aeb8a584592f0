"""The long fuzz campaign: thousands of mutated .tflite files through ``inspect``, ``bench`` and
``summary``, counting crashes of the mobilekit process, tracebacks, hangs and exit codes.

    python benchmarks/fuzz_campaign.py --count 2400 --work /tmp/fuzz

Seeds: three bundles made by ``mobilekit export`` (made in WORK on the first run) and the foreign
models in tests/data (plain TFLiteConverter). Mutations and the driver: tests/tflite_mutants.py.
Mutant files are deleted as they pass; those behind a finding stay in WORK/mutants. Prints a
JSON summary (also written to WORK/summary.json); docs/fuzz.md records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import tflite_mutants  # noqa: E402 - the tests folder is not a package

EXPORTS = {  # name -> mobilekit export arguments
    "v1_fp32": ["mobilenet_v1", "--alpha", "0.25", "--resolution", "32", "--quant", "fp32"],
    "v2_int8": ["mobilenet_v2", "--alpha", "0.35", "--resolution", "32", "--quant", "int8", "--io", "int8"],
    "v3s_fp16": ["mobilenet_v3_small", "--alpha", "0.75", "--resolution", "32", "--quant", "fp16"],
}


def seed_models(work: Path) -> dict[str, Path]:
    models = {}
    for name, args in EXPORTS.items():
        bundle = work / "seeds" / name
        if not (bundle / "model.tflite").exists():
            subprocess.run([sys.executable, "-m", "mobilekit", "export", *args, "--samples", "16", "--force",
                            "--out", str(bundle)], check=True, cwd=ROOT, stderr=subprocess.DEVNULL,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
        models[name] = bundle / "model.tflite"
    for path in sorted((ROOT / "tests" / "data").glob("foreign_*.tflite")):
        models[path.stem] = path
    return models


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", default="/tmp/mobilekit-fuzz")
    parser.add_argument("--time-limit", type=float, default=20.0, help="of each child (inspect, summary, bench)")
    parser.add_argument("--memory-limit", type=float, default=2048.0, help="MB, of each child")
    args = parser.parse_args()
    work = Path(args.work)
    (work / "mutants").mkdir(parents=True, exist_ok=True)
    models = seed_models(work)
    start = time.monotonic()
    known = [0]

    def progress(mutant, report):
        if len(report.problems()) == known[0]:
            Path(mutant["file"]).unlink(missing_ok=True)
        known[0] = len(report.problems())
        if (mutant["index"] + 1) % 100 == 0:
            print(f"{mutant['index'] + 1} mutants, {time.monotonic() - start:.0f} s, exit codes "
                  f"{dict(report.exit_codes)}, problems {known[0]}", file=sys.stderr, flush=True)

    mutants = tflite_mutants.make_mutants(models, args.count, args.seed, work / "mutants")
    report = tflite_mutants.run(mutants, time_limit=args.time_limit, memory_mb=args.memory_limit,
                                progress=progress)
    summary = {
        "mutants": args.count, "seed": args.seed, "models": {n: p.stat().st_size for n, p in models.items()},
        "commands": list(tflite_mutants.COMMANDS), "runs": report.runs, "seconds": round(time.monotonic() - start),
        "time_limit_s": args.time_limit, "memory_limit_mb": args.memory_limit,
        "exit_codes": {str(k): v for k, v in sorted(report.exit_codes.items(), key=str)},
        "by_kind": {kind: {str(k): v for k, v in sorted(c.items(), key=str)} for kind, c in report.by_kind.items()},
        "crashes": report.crashes, "hangs": report.hangs, "tracebacks": report.tracebacks,
        "bad_exit_codes": report.bad_codes, "slowest_command_s": round(report.slowest_s, 1),
        "contained_in_children": dict(report.contained), "contained_examples": report.contained_examples,
    }
    (work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 1 if report.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
