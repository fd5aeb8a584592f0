"""The flags every recipe shares (CONTRACTS "Recipes") and the glue recipes have in common.

A recipe states its model, data, schedule and exports in a few lines; parsing, the distribution
strategy, loading data and turning errors into exit codes live here so the recipes stay short and
agree with each other.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Callable

from mobilekit.cli import (BUILDER_NAMES, QUANT_MODES, add_builder_flags, builder_kwargs,
                           run_with_exit_codes)
from mobilekit.errors import PartialFailure, UsageError

STRATEGIES = ("default", "mirrored", "multi-worker")


class _Parser(argparse.ArgumentParser):
    """Bad usage in one line, exit 2 (as the mobilekit command line)."""

    def error(self, message: str):  # noqa: D102 - argparse hook
        self.exit(2, f"{self.prog}: error: {message}\n")


def parser(description: str, *, data: bool = True, model: bool = True, export: bool = True,
           out: str = "runs/recipe", epochs: int = 10, batch_size: int = 64) -> argparse.ArgumentParser:
    """An argparse parser with the shared recipe flags; recipes add their own on top."""
    p = _Parser(description=description)
    g = p.add_argument_group("training")
    g.add_argument("--out", default=out, help=f"run directory (default {out})")
    g.add_argument("--epochs", type=int, default=epochs, help=f"training epochs (default {epochs})")
    g.add_argument("--batch-size", type=int, default=batch_size,
                   help=f"global batch size (default {batch_size})")
    g.add_argument("--seed", type=int, default=0, help="seed of data order, augmentation, init")
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its "
                   "last completed epoch")
    g.add_argument("--strategy", choices=STRATEGIES, default="default",
                   help="tf.distribute strategy: mirrored = all local GPUs (or logical CPUs); "
                        "multi-worker reads TF_CONFIG")
    g.add_argument("--learning-rate", type=float, default=None, help="peak learning rate")
    if data:
        g = p.add_argument_group("data (default: the embedded generated dataset)")
        g.add_argument("--data", default=None, help="image folder, one sub-folder per class")
        g.add_argument("--val-data", default=None,
                       help="separate validation folder (default: split --data by --seed)")
        g.add_argument("--val-fraction", type=float, default=0.1,
                       help="share of --data held out for validation (default 0.1)")
        g.add_argument("--on-corrupt", choices=("skip", "stop"), default="skip",
                       help="a corrupt image is skipped and counted (default) or stops the run")
        g.add_argument("--tfds", default=None, help="TFDS dataset name (needs mobilekit[tfds])")
        g.add_argument("--download", action="store_true", help="let TFDS download the dataset")
        g.add_argument("--train-count", type=int, default=None,
                       help="embedded data: training images (default 6000)")
    if model:
        p.add_argument("--builder", default="mobilenet_v2", help=f"one of {', '.join(BUILDER_NAMES)}")
        add_builder_flags(p)
        p.add_argument("--weights", default=None,
                       help="keras.applications weights file (.h5) loaded by layer name")
    if export:
        g = p.add_argument_group("export")
        g.add_argument("--quant", default="fp32,int8",
                       help=f"comma separated, of {', '.join(QUANT_MODES)} (default fp32,int8)")
        g.add_argument("--export-dir", default="export", help="bundles go here (default ./export)")
        add_verification_flags(g)
    return p


def add_verification_flags(group, min_agreement: float = 0.98) -> None:
    group.add_argument("--min-agreement", type=float, default=min_agreement,
                       help="export gate: least top-1 agreement of TFLite with Keras "
                            f"(default {min_agreement})")
    group.add_argument("--verify-samples", type=int, default=256,
                       help="test images each bundle is verified on (default 256)")


def quant_modes(args: argparse.Namespace) -> list[str]:
    modes = [q.strip() for q in args.quant.split(",") if q.strip()]
    bad = [q for q in modes if q not in QUANT_MODES]
    if bad or not modes:
        raise UsageError(f"--quant: unknown mode {bad[0] if bad else '(empty)'} "
                         f"(choose from {', '.join(QUANT_MODES)})")
    return modes


def make_strategy(name: str):
    """The tf.distribute strategy for --strategy, or None for TensorFlow's default."""
    from mobilekit.keras import tf

    if name == "default":
        return None
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi-worker":
        if not os.environ.get("TF_CONFIG"):
            print("--strategy multi-worker: TF_CONFIG is not set; running as a single worker",
                  file=sys.stderr)
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UsageError(f"--strategy: choose from {', '.join(STRATEGIES)}, not {name!r}")


def load_data(args: argparse.Namespace, resolution: int):
    """The data of --data / --tfds / the embedded default, at ``resolution``."""
    from mobilekit.data.sources import load_data as load

    counts = {"train": args.train_count} if getattr(args, "train_count", None) else None
    return load(resolution=resolution, data=args.data, val_data=args.val_data, tfds=args.tfds,
                download=args.download, seed=args.seed, val_fraction=args.val_fraction,
                on_corrupt=args.on_corrupt, counts=counts)


def model_kwargs(args: argparse.Namespace, **defaults) -> dict:
    """Builder keyword arguments: the recipe's defaults overridden by the flags given."""
    return {**defaults, **builder_kwargs(args)}


def check_common(args: argparse.Namespace) -> None:
    if args.epochs < 1:
        raise UsageError(f"--epochs: must be >= 1, got {args.epochs}")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size: must be >= 1, got {args.batch_size}")
    if getattr(args, "verify_samples", 1) < 1:
        raise UsageError(f"--verify-samples: must be >= 1, got {args.verify_samples}")


def run(main: Callable[[argparse.Namespace], int | None], p: argparse.ArgumentParser,
        argv: list[str] | None = None) -> int:
    """Parse, run ``main(args)`` and map errors to the CONTRACTS exit codes (2, 1, 130)."""
    args = p.parse_args(argv)

    def work():
        check_common(args)
        if getattr(args, "builder", None) is not None:
            from mobilekit.nets.models import builder_config
            builder_config(args.builder, **builder_kwargs(args))  # bad flags fail before any work
        return main(args)

    return run_with_exit_codes(p.prog, work)


def build_and_train(args: argparse.Namespace, data, *, run_dir=None, strategy=None,
                    model_defaults: dict | None = None, **train_kwargs):
    """Build ``--builder`` (flags over ``model_defaults``) under the strategy, train it on
    ``data`` into ``run_dir`` (default --out) and return (model, builder config, run.json)."""
    from mobilekit.nets.models import build_model, builder_config
    from mobilekit.train.loop import load_pretrained, train

    kwargs = model_defaults_for(args, data, model_defaults)
    config = builder_config(args.builder, **kwargs)
    with scope(strategy):
        model = build_model(args.builder, **kwargs)
    if getattr(args, "weights", None) and not args.resume:
        print(f"loaded {load_pretrained(model, args.weights)} layers from {args.weights}",
              file=sys.stderr)
    run_dir = run_dir or args.out
    run = train(model, data.train, data.val, test=data.test, run_dir=run_dir,
                labels=data.labels, epochs=args.epochs, batch_size=args.batch_size,
                seed=args.seed, builder=config, dataset_info=data.info, resume=args.resume,
                strategy=strategy, learning_rate=args.learning_rate, **train_kwargs)
    return plain_model(model, run_dir, strategy), config, run


def plain_model(model, run_dir, strategy):
    """``model``, or under a tf.distribute strategy the saved copy from ``run_dir``: a model
    built in a strategy's scope traces collective ops that TFLite cannot convert."""
    from mobilekit.nets.models import load_keras
    from mobilekit.train.loop import writes_run

    if strategy is None or not writes_run(strategy):
        return model
    return load_keras(run_dir)


def float_model(args: argparse.Namespace, data, strategy, *, model_defaults: dict):
    """The trained float model a fine-tuning recipe starts from: --float-run DIR, or a fresh
    training run in OUT/float. Returns (model, builder config)."""
    if args.float_run:
        from mobilekit.nets.models import load_keras
        return load_keras(args.float_run), read_run(args.float_run)["builder"]
    model, config, _ = build_and_train(args, data, run_dir=f"{args.out}/float", strategy=strategy,
                                       model_defaults=model_defaults)
    return model, config


def model_defaults_for(args: argparse.Namespace, data, defaults: dict | None) -> dict:
    """Builder kwargs: recipe defaults, then the flags, with classes taken from the data."""
    kwargs = model_kwargs(args, **(defaults or {}))
    if kwargs.setdefault("classes", len(data.labels)) != len(data.labels):
        raise UsageError(f"--classes {kwargs['classes']}: the data has {len(data.labels)} classes")
    return kwargs


def export_all(args: argparse.Namespace, model, data, config: dict, modes: list[str], *,
               sparsity: float | None = None, strategy=None) -> list[dict]:
    """Export one bundle per quantization mode under --export-dir; a failed gate is reported
    and the others go on (PartialFailure at the end). A non-chief worker of a multi-worker run
    exports nothing: the chief does."""
    from pathlib import Path

    from mobilekit.data import NORMALIZATION, normalize
    from mobilekit.deploy.bundle import bundle_name
    from mobilekit.deploy.export import export_bundle
    from mobilekit.deploy.quantize import MAX_CALIBRATION_SAMPLES
    from mobilekit.train.loop import writes_run

    if not writes_run(strategy):
        return []

    split = data.test if data.test is not None else data.val
    images = normalize(split[0][:args.verify_samples])
    labels = split[1][:args.verify_samples]
    calibration = normalize(data.train[0][:MAX_CALIBRATION_SAMPLES])
    manifests, failed = [], []
    for quant in modes:
        name = bundle_name(config, quant) + ("-sparse" if sparsity is not None else "")
        try:
            manifests.append(export_bundle(
                model, Path(args.export_dir) / name, quant=quant, name=name, labels=data.labels,
                builder=config, trained=True, normalization=NORMALIZATION,
                calibration=calibration, verification=(images, labels), replace=True,
                sparsity=sparsity, min_agreement=args.min_agreement))
        except PartialFailure as exc:
            print(f"export: {exc}", file=sys.stderr)
            failed.append(name)
    for m in manifests:
        v = m["verification"]
        print(f"  {m['name']:<48} {m['model_bytes'] / 1e3:8.1f} kB  keras "
              f"{_pct(v.get('keras_accuracy'))}  tflite {_pct(v.get('tflite_accuracy'))}  "
              f"agreement {_pct(v.get('top1_agreement'))}", file=sys.stderr)
    if failed:
        raise PartialFailure(f"{len(failed)} of {len(modes)} exports failed: {', '.join(failed)}")
    return manifests


def _pct(value) -> str:
    return "   n/a" if value is None else f"{100 * value:5.1f}%"


def scope(strategy):
    """``strategy.scope()``, or nothing for the default strategy."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def read_run(run_dir) -> dict:
    """run.json of a run directory (UsageError when it is not one)."""
    import json
    from pathlib import Path

    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise UsageError(f"{run_dir}: not a run directory (no run.json)")
    return json.loads(path.read_text())


def update_run(run_dir, **fields) -> None:
    """Add fields to run.json, atomically."""
    import json
    from pathlib import Path

    from mobilekit.fsutil import atomic_write_text

    run = {**read_run(run_dir), **fields}
    atomic_write_text(Path(run_dir) / "run.json", json.dumps(run, indent=2) + "\n")
