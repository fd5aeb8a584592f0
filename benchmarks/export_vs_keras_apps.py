"""mobilekit-built vs keras.applications-built MobileNets, fp32 and int8, same runtime, one run.

Both sides get fresh weights with batch-norm statistics from the same images (as a trained
model has; see mobilekit.nets.models.calibrate_batch_norm), the same resolution and the same
exporter; all bundles are then measured interleaved by ``mobilekit.bench.schedule.benchmark`` so drift affects both alike. Prints median
latency per model and the mobilekit / keras.applications ratio (goal: fp32 <= 1.03, V3-Small int8
<= 0.45).

    python benchmarks/export_vs_keras_apps.py [--resolution 224] [--rounds 5] [--out DIR]
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
from mobilekit.keras import keras
from mobilekit.nets.models import build_model, calibrate_batch_norm

APPS = {
    "mobilenet_v1": lambda res: keras.applications.MobileNet(input_shape=(res, res, 3), weights=None),
    "mobilenet_v2": lambda res: keras.applications.MobileNetV2(input_shape=(res, res, 3), weights=None),
    "mobilenet_v3_small": lambda res: keras.applications.MobileNetV3Small(
        input_shape=(res, res, 3), weights=None, include_preprocessing=False),
    "mobilenet_v3_large": lambda res: keras.applications.MobileNetV3Large(
        input_shape=(res, res, 3), weights=None, include_preprocessing=False),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--builders", default=",".join(APPS))
    parser.add_argument("--out", default="benchmarks/out/export_vs_keras_apps")
    args = parser.parse_args()
    out, res = Path(args.out), args.resolution
    images = normalize(embedded_arrays("val", resolution=res, count=32)[0])
    bundles = {}
    for name in args.builders.split(","):
        for source, make in (("mobilekit", lambda: build_model(BuilderConfig(name, resolution=res))),
                             ("keras_apps", lambda: APPS[name](res))):
            model = calibrate_batch_norm(make(), images)
            for quant in ("fp32", "int8"):
                key = f"{source}-{name}-{quant}"
                manifest = export_bundle(
                    model, out / key, quant=quant, name=key, labels=[str(i) for i in range(1000)],
                    builder=BuilderConfig(name, resolution=res) if source == "mobilekit" else None,
                    trained=False, normalization=NORMALIZATION, calibration=images,
                    verification=(images, None), replace=True)
                bundles[key] = out / key
                print(f"{key}: ops outside XNNPACK {manifest['delegation']['ops_outside_xnnpack']}",
                      file=sys.stderr)
    rows = benchmark([str(p) for p in bundles.values()], rounds=args.rounds, runs=args.runs,
                     results=str(out / "results.jsonl"))
    median = {r["name"]: r["median_ms"] for r in rows if r["round"] is None and not r["error"]}
    table = []
    for name in args.builders.split(","):
        for quant in ("fp32", "int8"):
            mk, ka = median.get(f"mobilekit-{name}-{quant}"), median.get(f"keras_apps-{name}-{quant}")
            table.append({"builder": name, "quant": quant, "mobilekit_ms": mk, "keras_apps_ms": ka,
                          "ratio": mk / ka if mk and ka else None})
    for row in table:
        print(f"{row['builder']:20s} {row['quant']:5s} mobilekit {row['mobilekit_ms']:8.2f} ms  "
              f"keras.applications {row['keras_apps_ms']:8.2f} ms  ratio {row['ratio']:.3f}")
    print(json.dumps(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
