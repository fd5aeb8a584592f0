"""Dense vs sparse-weight export of the same pruned model, on emulated ARM64 and on this machine.

Builds MobileNetV2 with --padding symmetric, zeroes the smallest 80 % of every 1x1 kernel (the
sparsity a pruned model has; no training, so accuracy means nothing), exports it fp32 dense and
fp32 with sparse weights (what recipes/prune_xnnpack.py writes), and benchmarks both on
qemu-aarch64 and locally. Emulated times are not latency: their ratio only shows whether
XNNPACK's sparse kernels (built for ARM) did less work. Needs .ci/make_arm_root.sh's root.

    python benchmarks/sparse_on_arm.py [--resolution 160] [--sparsity 0.8] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mobilekit.nets.config import BuilderConfig
from mobilekit.bench.schedule import benchmark
from mobilekit.data import NORMALIZATION, embedded_arrays, normalize
from mobilekit.deploy.export import export_bundle
from mobilekit.nets.models import build_model, calibrate_batch_norm
from mobilekit.train.prune import measured_sparsity, zero_smallest_pointwise


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resolution", type=int, default=160)
    parser.add_argument("--sparsity", type=float, default=0.8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/out/sparse_on_arm")
    args = parser.parse_args()
    out = Path(args.out)
    images = normalize(embedded_arrays("val", resolution=args.resolution, count=32)[0])
    model = calibrate_batch_norm(build_model(BuilderConfig("mobilenet_v2", resolution=args.resolution,
                                             padding="symmetric")), images)
    sparsity = measured_sparsity(zero_smallest_pointwise(model, args.sparsity))
    for name, recorded in (("dense", None), ("sparse", sparsity)):
        export_bundle(model, out / name, quant="fp32", name=name,
                      labels=[str(i) for i in range(1000)], trained=False,
                      normalization=NORMALIZATION, replace=True, sparsity=recorded)
    rows = benchmark([str(out / "dense"), str(out / "sparse")],
                     targets=["qemu-aarch64", "local"], rounds=args.rounds, runs=5, warmup=1,
                     min_secs=0, results=str(out / "results.jsonl"))
    table = [{"target": r["target"], "model": r["name"], "median_ms": r["median_ms"],
              "output_sha256": r["output_sha256"]}
             for r in rows if r["round"] is None and not r["error"]]
    print(f"1x1 kernel sparsity {sparsity:.3f}")
    for row in table:
        print(f"{row['target']:14s} {row['model']:7s} {row['median_ms']:10.2f} ms  "
              f"outputs {row['output_sha256'][:12]}")
    print(json.dumps(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
