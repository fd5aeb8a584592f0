"""The main job on the embedded data, offline: train, export, benchmark, compare.

One small MobileNet in a standard and a separable variant, each trained briefly on the embedded
dataset, exported as fp32 and int8 bundles, verified against Keras on the held-out test split and
benchmarked locally with XNNPACK in interleaved rounds. ``mobilekit quickstart`` and
``recipes/quickstart.py`` both call :func:`run_quickstart`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from mobilekit.fsutil import atomic_write_text, staged_dir
from mobilekit.nets.config import BuilderConfig

#: MobileNetV1 is the cleanest standard-vs-separable pair (the paper's "Conv MobileNet"): the
#: standard variant has ~8x the MACs. At alpha 0.5 and 64x64 the separable variant is the
#: narrowest that learns the embedded task within a few minutes of CPU training (alpha 0.25
#: stays under 40 % after 8 epochs); a raised learning rate makes up for the short schedule.
BUILDER = BuilderConfig("mobilenet_v1", alpha=0.5, resolution=64, classes=8)
KINDS = ("standard", "separable")
QUANTS = ("fp32", "int8")
EPOCHS = 10
LEARNING_RATE = 0.01
TRAIN_IMAGES = 5000
VAL_IMAGES = 500
TEST_IMAGES = 1200
CALIBRATION_IMAGES = 500
#: Top-1 agreement an int8 bundle must keep with its Keras model. Lower than export's 0.98: a
#: briefly trained model has many near-tied decisions, which int8 rounding flips both ways.
MIN_AGREEMENT = 0.95


def _progress(message: str) -> None:
    print(f"[quickstart {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_quickstart(out_dir: Path, *, epochs: int = EPOCHS, runs: int = 30, rounds: int = 3,
                   train_images: int = TRAIN_IMAGES, test_images: int = TEST_IMAGES) -> list[dict]:
    """Run the whole pipeline into ``out_dir``; return the comparison rows (see ``report``)."""
    from mobilekit import data
    from mobilekit.bench import schedule as bench
    from mobilekit.nets import cost, models
    from mobilekit.studies import report
    from mobilekit.train import loop as train
    from mobilekit.deploy.bundle import bundle_name
    from mobilekit.deploy.export import export_bundle

    out_dir = Path(out_dir)
    started = time.monotonic()
    resolution = BUILDER.resolution
    labels = list(data.EMBEDDED_LABELS)
    _progress(f"generating the embedded dataset ({len(labels)} classes, {resolution}x{resolution})")
    train_split = data.embedded_arrays("train", resolution=resolution, count=train_images)
    val_split = data.embedded_arrays("val", resolution=resolution, count=VAL_IMAGES)
    test_split = data.embedded_arrays("test", resolution=resolution, count=test_images)
    calibration = data.normalize(train_split[0][:CALIBRATION_IMAGES])
    verification = (data.normalize(test_split[0]), test_split[1])

    manifests, bundles = [], []
    for kind in KINDS:
        config = BUILDER.replace(kind=kind)
        model = models.build_model(config)
        if kind == "standard":
            standard = model
        run_dir = out_dir / "runs" / kind
        _progress(f"training {kind} for {epochs} epochs -> {run_dir}")
        with staged_dir(run_dir, replace=True) as staging:  # a rerun replaces the old run whole
            train.train(model, train_split, val_split, test=test_split, run_dir=staging,
                        labels=labels, epochs=epochs, builder=config, learning_rate=LEARNING_RATE,
                        dataset_info={"name": "embedded", "train": train_images,
                                      "test": test_images})
        for quant in QUANTS:
            name = bundle_name(config, quant)
            _progress(f"exporting {name}")
            manifest = export_bundle(
                model, out_dir / name, quant=quant, name=name, labels=labels, builder=config,
                trained=True, normalization=data.NORMALIZATION, calibration=calibration,
                verification=verification, replace=True, min_agreement=MIN_AGREEMENT)
            manifests.append({**manifest,
                              "analytic_macs_ratio": cost.analytic_macs_ratio(config, standard)})
            bundles.append(out_dir / name)

    _progress(f"benchmarking {len(bundles)} bundles locally, {rounds} interleaved rounds")
    rows = bench.benchmark(bundles, runs=runs, rounds=rounds, min_secs=0.3)
    atomic_write_text(out_dir / "results.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    table_rows = report.variant_rows(manifests, rows)
    minutes = (time.monotonic() - started) / 60
    notes = [f"builder {BUILDER.name} alpha {BUILDER.alpha} at {resolution}x{resolution}, "
             f"{len(labels)} classes of the embedded dataset; {epochs} epochs on {train_images} "
             f"images; accuracy on {test_images} held-out test images",
             f"local target, 1 thread, XNNPACK; {rounds} interleaved rounds of >= {runs} runs",
             f"int8: full integer with float input/output, calibrated on {CALIBRATION_IMAGES} "
             f"training images; gate: top-1 agreement with Keras >= {MIN_AGREEMENT:.0%}",
             "exported graphs end in logits (the softmax head is left out: XNNPACK has no int8 "
             "SOFTMAX)",
             f"whole run took {minutes:.1f} min"]
    path = report.write_report(out_dir, "mobilekit quickstart: standard vs separable", table_rows,
                               notes)
    _progress(f"done in {minutes:.1f} min; report: {path}")
    return table_rows
