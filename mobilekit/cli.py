"""The ``mobilekit`` command line (contract: ../shared/CONTRACTS.md).

Each sub-command names the function that runs it as "module:function"; the module is imported
only when that sub-command runs, so ``--help`` is instant and ``inspect``/``bench`` never pull in
TensorFlow. A handler takes the parsed arguments and returns the exit code; it raises
``UsageError`` for bad input (exit 2) and ``PartialFailure`` when some items failed (exit 1).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable

from mobilekit import __version__
from mobilekit.errors import PartialFailure, UsageError
from mobilekit.runtime.isolate import MEMORY_LIMIT_MB, RUN_TIME_LIMIT_S

BUILDER_NAMES = ("mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large")
KINDS = ("separable", "standard", "spatial")
PADDINGS = ("same", "symmetric")
QUANT_MODES = ("fp32", "fp16", "dynamic", "int8", "int16x8", "qat-int8")


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage in one line (exit 2) instead of usage + error."""

    def error(self, message: str):  # noqa: D102 - argparse hook
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_builder_flags(parser: argparse.ArgumentParser) -> None:
    """The builder knobs shared by summary, export and compare."""
    group = parser.add_argument_group("builder flags")
    group.add_argument("--alpha", type=float, default=None, help="width multiplier (default 1.0)")
    group.add_argument("--resolution", type=int, default=None, help="input height = width")
    group.add_argument("--kind", choices=KINDS, default=None,
                       help="conv kind of the builder's spatial convolutions (default separable)")
    group.add_argument("--classes", type=int, default=None, help="number of output classes")
    group.add_argument("--depth-multiplier", type=int, default=None,
                       help="depthwise channel multiplier (mobilenet_v1)")
    group.add_argument("--minimalistic", action="store_true", default=None,
                       help="MobileNetV3 without SE, hard-swish and 5x5 kernels")
    group.add_argument("--padding", choices=PADDINGS, default=None,
                       help="stride-2 convs: TF 'same' (default) or 'symmetric' (k // 2 on every "
                            "side; what XNNPACK sparse inference needs)")


def builder_kwargs(args: argparse.Namespace) -> dict:
    """The builder flags the user actually gave, as keyword arguments for ``models.build_model``."""
    keys = ("alpha", "resolution", "kind", "classes", "depth_multiplier", "minimalistic", "padding")
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def _add_json(parser):
    parser.add_argument("--json", action="store_true", help="machine output on stdout")


def _add_quickstart(sub):
    p = sub.add_parser("quickstart", help="the whole pipeline on the embedded data, offline")
    p.add_argument("--out", default="export", help="where bundles and report.md go (default ./export)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs per variant")
    p.add_argument("--runs", type=int, default=None, help="timed runs per model and round")
    _add_json(p)
    p.set_defaults(handler="mobilekit.quickstart:quickstart_command")


def _add_summary(sub):
    p = sub.add_parser("summary", help="per-layer params and MACs of a builder, Keras model or .tflite")
    p.add_argument("model", help="builder name, run directory, .keras file or .tflite file")
    add_builder_flags(p)
    _add_json(p)
    p.set_defaults(handler="mobilekit.cost:summary_command")


def _add_export(sub):
    p = sub.add_parser("export", help="quantize, convert, verify and write one bundle")
    p.add_argument("model", help="run directory, .keras file or builder name (fresh weights)")
    p.add_argument("--quant", choices=QUANT_MODES, required=True)
    p.add_argument("--io", choices=("float", "int8", "uint8"), default="float",
                   help="input/output type of integer models (default float)")
    p.add_argument("--out", default=None, help="bundle directory (default ./export/<bundle name>)")
    p.add_argument("--force", action="store_true", help="replace an existing bundle")
    p.add_argument("--trust-model", action="store_true",
                   help="allow loading .h5 / SavedModel files (they can run arbitrary code)")
    p.add_argument("--samples", type=int, default=256,
                   help="verification samples from the validation data (default 256)")
    p.add_argument("--min-agreement", type=float, default=0.98,
                   help="fail a trained quantized export below this top-1 agreement (default 0.98)")
    p.add_argument("--max-rel-diff", type=float, default=1e-4,
                   help="fail an fp32 export when max |diff| > this x max |output| (default 1e-4)")
    add_builder_flags(p)
    _add_json(p)
    p.set_defaults(handler="mobilekit.deploy.export:export_command")


def _add_bench(sub):
    p = sub.add_parser("bench", help="latency of .tflite files or bundles on local or remote targets")
    p.add_argument("paths", nargs="+", metavar="PATH", help=".tflite file or bundle directory")
    p.add_argument("--target", action="append", default=None,
                   help="local | ssh://[user@]host[:port] | qemu-aarch64[:CPU] | adb[:SERIAL] (repeatable)")
    p.add_argument("--threads", default="1", help="thread counts, comma separated (default 1)")
    p.add_argument("--kernels", choices=("xnnpack", "builtin"), default="xnnpack")
    p.add_argument("--runs", type=int, default=50, help="minimum timed runs (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="warm-up runs (default 5)")
    p.add_argument("--min-secs", type=float, default=1.0, help="minimum timed seconds (default 1)")
    p.add_argument("--rounds", type=int, default=1,
                   help="interleaved rounds over all models, in random order (default 1)")
    p.add_argument("--cooldown", type=float, default=0.0, help="seconds to rest between rounds")
    p.add_argument("--input-shape", default=None, help="override the input shape, e.g. 1,224,224,3")
    p.add_argument("--input-seed", type=int, default=0, help="seed of the random input (default 0)")
    p.add_argument("--api", choices=("interpreter", "compiled"), default="interpreter",
                   help="LiteRT API the runner uses (default interpreter)")
    p.add_argument("--results", default=None, help="append rows to this JSON Lines file")
    p.add_argument("--time-limit", type=float, default=RUN_TIME_LIMIT_S,
                   help=f"seconds per model run before it is stopped and gets an error row "
                        f"(0: none; default {RUN_TIME_LIMIT_S:g})")
    p.add_argument("--memory-limit", type=float, default=MEMORY_LIMIT_MB,
                   help=f"address space cap of each model's runner in MB (0: none; default "
                        f"{MEMORY_LIMIT_MB}); inputs over half of it are refused")
    p.add_argument("--remote-python", default="python3", help="python on an ssh or adb target")
    p.add_argument("--arm-root", default=None, help="arm64 root file system for qemu-aarch64")
    p.add_argument("--benchmark-binary", default=None, help="benchmark_model binary for adb targets")
    p.add_argument("--taskset", default=None, help="CPU mask for adb targets, e.g. f0 (big cores)")
    _add_json(p)
    p.set_defaults(handler="mobilekit.bench:bench_command")


def _add_compare(sub):
    p = sub.add_parser("compare", help="build, export and benchmark conv kinds side by side")
    p.add_argument("model", help="builder name (or .tflite files to compare as they are)", nargs="+")
    add_builder_flags(p)
    p.add_argument("--kinds", default="standard,separable", help="comma separated conv kinds")
    p.add_argument("--quant", default="fp32", help="comma separated quantization modes")
    p.add_argument("--target", action="append", default=None, help="as for bench (repeatable)")
    p.add_argument("--threads", default="1", help="thread counts, comma separated (default 1)")
    p.add_argument("--runs", type=int, default=30, help="timed runs per model and round")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--remote-python", default="python3")
    p.add_argument("--arm-root", default=None)
    p.add_argument("--out", default="compare", help="output directory (default ./compare)")
    _add_json(p)
    p.set_defaults(handler="mobilekit.compare:compare_command")


def _add_inspect(sub):
    p = sub.add_parser("inspect", help="inputs, outputs, ops and XNNPACK delegation of a .tflite")
    p.add_argument("file", help=".tflite file or bundle directory")
    _add_json(p)
    p.set_defaults(handler="mobilekit.runtime.inspect:inspect_command")


def _add_predict(sub):
    p = sub.add_parser("predict", help="classify images with a bundle")
    p.add_argument("bundle", help="bundle directory")
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--top", type=int, default=5)
    _add_json(p)
    p.set_defaults(handler="mobilekit.deploy.predict:predict_command")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mobilekit", description=(
        "Standard vs depthwise-separable mobile vision models: build, train, export to "
        "TFLite/LiteRT, verify and benchmark on real devices."))
    parser.add_argument("--version", action="version", version=f"mobilekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for add in (_add_quickstart, _add_summary, _add_export, _add_bench, _add_compare,
                _add_inspect, _add_predict):
        add(sub)
    return parser


def run_with_exit_codes(prog: str, work: Callable[[], int | None]) -> int:
    """Run ``work`` and map its outcome to the contract's exit codes, errors as one line."""
    try:
        return int(work() or 0)
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except PartialFailure as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module_name, func_name = args.handler.split(":")

    def work():
        return getattr(importlib.import_module(module_name), func_name)(args)

    return run_with_exit_codes(f"mobilekit {args.command}", work)


if __name__ == "__main__":
    sys.exit(main())
