"""Does ``mobilekit bench`` agree with LiteRT's own benchmark tool on the same file and threads?

Alternates ``mobilekit bench`` (Interpreter API and CompiledModel API) with LiteRT's
``ai_edge_litert/tools/benchmark_litert_model.py`` (CompiledModel API) ``--repeats`` times each,
each tool in its own process, and compares the medians of their medians:

    python benchmarks/bench_vs_litert.py export/mobilenet_v2-separable-fp32 --threads 1
    python benchmarks/bench_vs_litert.py --export mobilenet_v2 --quant fp32   # makes the bundle first

Prints a table and a JSON summary (``--out FILE`` also writes it). Agreement means the medians
differ by at most ``--tolerance`` (5 %).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import ai_edge_litert

LITERT_TOOL = Path(ai_edge_litert.__file__).parent / "tools" / "benchmark_litert_model.py"


def mobilekit_median(model: str, threads: int, runs: int, warmup: int, api: str) -> float:
    proc = subprocess.run([sys.executable, "-m", "mobilekit", "bench", model, "--threads", str(threads),
                           "--runs", str(runs), "--warmup", str(warmup), "--min-secs", "0", "--api", api,
                           "--json"], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.splitlines()[-1])["median_ms"]


def litert_median(model: str, threads: int, runs: int, warmup: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        subprocess.run([sys.executable, str(LITERT_TOOL), f"--model={model}", f"--num_threads={threads}",
                        f"--num_runs={runs}", f"--warmup_runs={warmup}", f"--result_json={result}"],
                       capture_output=True, text=True, check=True)
        return json.loads(result.read_text())["latency"]["median_ms"]


def tflite_of(path: str) -> str:
    """LiteRT's tool takes a file: a bundle directory's model.tflite."""
    p = Path(path)
    return str(p / "model.tflite") if p.is_dir() else str(p)


def compare(model: str, *, threads: int, runs: int, warmup: int, repeats: int) -> dict:
    """Medians of each tool over ``repeats`` alternating runs, and their ratios to LiteRT's."""
    samples: dict[str, list[float]] = {"mobilekit interpreter": [], "mobilekit compiled": [], "litert tool": []}
    for i in range(repeats):
        samples["mobilekit interpreter"].append(mobilekit_median(model, threads, runs, warmup, "interpreter"))
        samples["litert tool"].append(litert_median(tflite_of(model), threads, runs, warmup))
        samples["mobilekit compiled"].append(mobilekit_median(model, threads, runs, warmup, "compiled"))
        print(f"  repeat {i + 1}/{repeats}: " + ", ".join(f"{k} {v[-1]:.3f} ms" for k, v in samples.items()),
              file=sys.stderr)
    medians = {k: statistics.median(v) for k, v in samples.items()}
    reference = medians["litert tool"]
    return {"model": model, "threads": threads, "runs": runs, "warmup": warmup, "repeats": repeats,
            "median_ms": medians, "per_repeat_ms": samples,
            "ratio_to_litert": {k: v / reference for k, v in medians.items()}}


def export_bundle(name: str, quant: str, folder: Path) -> str:
    out = folder / f"{name}-{quant}"
    subprocess.run([sys.executable, "-m", "mobilekit", "export", name, "--quant", quant, "--out", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    return str(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help=".tflite files or bundle directories")
    parser.add_argument("--export", default=None, help="builder name to export (fresh weights) and compare")
    parser.add_argument("--quant", default="fp32", help="quantization for --export (default fp32)")
    parser.add_argument("--threads", default="1", help="thread counts, comma separated")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5, help="alternating runs of each tool")
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--out", default=None, help="also write the JSON summary here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        models = list(args.models) + ([export_bundle(args.export, args.quant, Path(tmp))] if args.export else [])
        if not models:
            parser.error("give .tflite files / bundles or --export NAME")
        results = [compare(m, threads=int(t), runs=args.runs, warmup=args.warmup, repeats=args.repeats)
                   for m in models for t in args.threads.split(",")]
    print(f"{'model':48} {'thr':>3} {'LiteRT tool':>12} {'mk interp':>10} {'mk compiled':>12}  agree")
    for r in results:
        m, ratio = r["median_ms"], r["ratio_to_litert"]
        agree = all(abs(v - 1) <= args.tolerance for v in ratio.values())
        r["agree_within_tolerance"] = agree
        print(f"{Path(r['model']).name:48} {r['threads']:>3} {m['litert tool']:>10.3f}ms "
              f"{m['mobilekit interpreter']:>8.3f}ms {m['mobilekit compiled']:>10.3f}ms  "
              f"{'yes' if agree else 'NO'} ({ratio['mobilekit interpreter']:.3f}x, "
              f"{ratio['mobilekit compiled']:.3f}x)")
    summary = json.dumps(results, indent=2)
    if args.out:
        Path(args.out).write_text(summary + "\n")
    print(summary)
    return 0 if all(r["agree_within_tolerance"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
