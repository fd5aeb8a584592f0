"""The command line of the recipes (CONTRACTS "Recipes"): the flags every recipe shares and the
glue between them and the library, so a recipe states its model, data, schedule and exports in a
few lines and all recipes agree with each other and with ``mobilekit``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from mobilekit.cli import flags, run_with_exit_codes
from mobilekit.deploy.bundle import QUANT_MODES
from mobilekit.errors import PartialFailure, UsageError
from mobilekit.nets.config import BuilderConfig
from mobilekit.nets.specs import BUILDERS
from mobilekit.train.strategy import STRATEGIES, make_strategy, scope


def parser(description: str, *, data: bool = True, model: bool = True, export: bool = True,
           out: str = "runs/recipe", epochs: int = 10, batch_size: int = 64) -> flags.Parser:
    """A parser with the shared recipe flags; recipes add their own on top."""
    p = flags.Parser(description=description)
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
    g.add_argument("--patience", type=int, default=None,
                   help="stop after N epochs without a better validation accuracy (the model "
                        "saved is always the best epoch's)")
    if data:
        g = p.add_argument_group("data (default: the embedded generated dataset)")
        g.add_argument("--data", default=None, help="image folder, one sub-folder per class")
        g.add_argument("--val-data", default=None,
                       help="separate validation folder (default: split --data by --seed)")
        g.add_argument("--val-fraction", type=float, default=0.1,
                       help="share of --data held out for validation (default 0.1)")
        g.add_argument("--on-corrupt", choices=("skip", "stop"), default="skip",
                       help="a corrupt image is skipped and counted (default) or stops the run")
        g.add_argument("--crop", choices=("none", "center"), default="none",
                       help="fit images of another aspect ratio by squeezing them (none, the "
                            "default) or by cutting the largest central box (center); bundles "
                            "record it")
        g.add_argument("--cache-dir", default=None,
                       help="keep decoded, resized images of --data in DIR (one uint8 file per "
                            "split; worth it when decoding dominates, e.g. small resolutions)")
        g.add_argument("--tfds", default=None, help="TFDS dataset name (needs mobilekit[tfds])")
        g.add_argument("--download", action="store_true", help="let TFDS download the dataset")
        g.add_argument("--train-count", type=int, default=None,
                       help="embedded data: training images (default 6000)")
    if model:
        p.add_argument("--builder", default="mobilenet_v2", help=f"one of {', '.join(BUILDERS)}")
        flags.add_builder_flags(p)
        p.add_argument("--weights", default=None,
                       help="keras.applications weights file (.h5) loaded by layer name")
    if export:
        add_export_flags(p)
    return p


def add_export_flags(p: argparse.ArgumentParser, *, min_agreement: float = 0.98,
                     quant: bool = True) -> None:
    """--export-dir and the verification gates; ``--quant`` unless the recipe fixes its modes."""
    g = p.add_argument_group("export")
    if quant:
        g.add_argument("--quant", type=flags.quant_list, default=["fp32", "int8"],
                       help=f"comma separated, of {', '.join(QUANT_MODES)} (default fp32,int8)")
    g.add_argument("--export-dir", default="export", help="bundles go here (default ./export)")
    flags.add_gate_flags(g, min_agreement=min_agreement)
    g.add_argument("--verify-samples", type=int, default=1000,
                   help="validation images each bundle is verified on (default: all up to 1000)")


def run(main: Callable[[argparse.Namespace], int | None], p: argparse.ArgumentParser,
        argv: list[str] | None = None) -> int:
    """Parse, run ``main(args)`` and map errors to the CONTRACTS exit codes (2, 1, 130); the
    exit code is returned in every case (argparse's own refusals and --help included)."""
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)

    def work():
        for flag, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size),
                            ("--verify-samples", getattr(args, "verify_samples", 1))):
            if value < 1:
                raise UsageError(f"{flag}: must be >= 1, got {value}")
        return main(args)

    return run_with_exit_codes(p.prog, work)


def setup(args: argparse.Namespace, **model_defaults):
    """(builder configuration, strategy, data) of a recipe, in that order: bad builder flags fail
    before any work, and the strategy exists before TensorFlow does anything else. The
    configuration is ``--builder`` with the recipe's ``model_defaults`` under the flags given, and
    the data's classes."""
    from mobilekit.data.sources import load_data

    config = flags.builder_config(args.builder, args, **model_defaults)
    strategy = make_strategy(args.strategy)
    counts = {"train": args.train_count} if args.train_count else None
    data = load_data(resolution=config.resolution, data=args.data, val_data=args.val_data,
                     tfds=args.tfds, download=args.download, seed=args.seed,
                     val_fraction=args.val_fraction, on_corrupt=args.on_corrupt, counts=counts,
                     crop=args.crop, cache_dir=args.cache_dir)
    classes = len(data.labels)
    if args.classes is not None and args.classes != classes:
        raise UsageError(f"--classes {args.classes}: the data has {classes} classes")
    return config.replace(classes=classes), strategy, data


def build_and_train(args: argparse.Namespace, config: BuilderConfig, data, *, run_dir=None,
                    strategy=None, **train_kwargs):
    """Build ``config`` under the strategy, train it on ``data`` into ``run_dir`` (default
    --out); returns (model, run.json)."""
    from mobilekit.nets.models import build_model
    from mobilekit.train.loop import load_pretrained, train

    with scope(strategy):
        model = build_model(config)
    if args.weights and not args.resume:
        print(f"loaded {load_pretrained(model, args.weights)} layers from {args.weights}",
              file=sys.stderr)
    run_dir = run_dir or args.out
    run = train(model, data.train, data.val, test=data.test, run_dir=run_dir,
                labels=data.labels, epochs=args.epochs, batch_size=args.batch_size,
                seed=args.seed, builder=config, dataset_info=data.info, resume=args.resume,
                strategy=strategy, learning_rate=args.learning_rate, patience=args.patience,
                **train_kwargs)
    return plain_model(model, run_dir, strategy), run


def plain_model(model, run_dir, strategy):
    """``model``, or under a tf.distribute strategy the saved copy from ``run_dir``: a model
    built in a strategy's scope traces collective ops that TFLite cannot convert."""
    from mobilekit.train.loop import writes_run
    from mobilekit.train.run_dir import load_keras

    if strategy is None or not writes_run(strategy):
        return model
    return load_keras(run_dir)


def float_model(args: argparse.Namespace, config: BuilderConfig, data, strategy):
    """The trained float model a fine-tuning recipe starts from (--float-run DIR, or a fresh
    training run in OUT/float) and its builder configuration."""
    from mobilekit.train import run_dir

    if args.float_run:
        return run_dir.load_keras(args.float_run), \
            run_dir.run_builder(run_dir.read_run(args.float_run, required=True))
    model, _ = build_and_train(args, config, data, run_dir=f"{args.out}/float", strategy=strategy)
    return model, config


def export_all(args: argparse.Namespace, model, data, config: BuilderConfig, modes: list[str], *,
               sparsity: float | None = None, strategy=None) -> list[dict]:
    """Export one bundle per quantization mode under --export-dir; a failed gate is reported
    and the others go on (PartialFailure at the end). A non-chief worker of a multi-worker run
    exports nothing: the chief does."""
    from mobilekit.data import NORMALIZATION
    from mobilekit.deploy.bundle import bundle_name
    from mobilekit.deploy.export import export_bundle, run_data_samples
    from mobilekit.train.loop import writes_run

    if not writes_run(strategy):
        return []

    calibration, verification = run_data_samples(data, args.verify_samples, seed=args.seed)
    manifests, failed = [], []
    for quant in modes:
        name = bundle_name(config, quant, sparse=sparsity is not None)
        try:
            manifests.append(export_bundle(
                model, Path(args.export_dir) / name, quant=quant, name=name, labels=data.labels,
                builder=config, trained=True, normalization=NORMALIZATION, crop=data.train.crop,
                calibration=calibration, verification=verification, replace=True,
                sparsity=sparsity, min_agreement=args.min_agreement,
                max_accuracy_drop=args.max_accuracy_drop))
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
