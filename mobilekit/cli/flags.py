"""Flag groups shared by several commands and recipes, each defined once, and their parsing.

Everything here is TensorFlow-free (``--help`` and argument checks stay instant): the choices
come from the TF-free vocabulary modules of the library (nets.config, nets.specs, deploy.bundle).
"""

from __future__ import annotations

import argparse

from mobilekit.bench.targets import TargetOptions
from mobilekit.deploy.bundle import IO_TYPES, QUANT_MODES
from mobilekit.errors import UsageError
from mobilekit.nets.config import KINDS, PADDINGS, BuilderConfig, parse_kind
from mobilekit.nets.specs import BUILDERS
from mobilekit.runtime.isolate import MEMORY_LIMIT_MB, RUN_TIME_LIMIT_S

BUILDER_FLAGS = ("kind", "alpha", "resolution", "classes", "depth_multiplier", "minimalistic",
                 "padding")
KIND_HELP = (f"conv kind: {', '.join(KINDS)} (default: the builder's native kind), or one per "
             "stage as a comma list or a code such as SSDDDDD (S standard, D separable, "
             "P spatial); `summary` lists the stages")


class Parser(argparse.ArgumentParser):
    """argparse that reports bad usage in one line (exit 2) instead of usage + error."""

    def error(self, message: str):  # noqa: D102 - argparse hook
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine output on stdout")


def add_gate_flags(group, *, min_agreement: float = 0.98) -> None:
    """The gates a trained quantized export must pass (deploy.verify), for export and recipes."""
    group.add_argument("--max-accuracy-drop", type=float, default=0.01,
                       help="fail a trained quantized export that is less accurate than its "
                            "Keras model by more than this on labelled validation images "
                            "(default 0.01 = 1 point)")
    group.add_argument("--min-agreement", type=float, default=min_agreement,
                       help="without labelled images: fail a trained quantized export below this "
                            f"top-1 agreement with its Keras model (default {min_agreement})")


def add_builder_flags(parser: argparse.ArgumentParser, *, kind: bool = True) -> None:
    """The builder knobs (summary, export, compare, recipes); ``None`` = not given."""
    group = parser.add_argument_group("builder flags")
    if kind:
        group.add_argument("--kind", type=parse_kind, default=None, help=KIND_HELP)
    group.add_argument("--alpha", type=float, default=None, help="width multiplier (default 1.0)")
    group.add_argument("--resolution", type=int, default=None, help="input height = width")
    group.add_argument("--classes", type=int, default=None, help="number of output classes")
    group.add_argument("--depth-multiplier", type=int, default=None,
                       help="depthwise channel multiplier (mobilenet_v1)")
    group.add_argument("--minimalistic", action="store_true", default=None,
                       help="MobileNetV3 without SE, hard-swish and 5x5 kernels")
    group.add_argument("--padding", choices=PADDINGS, default=None,
                       help="stride-2 convs: TF 'same' (default) or 'symmetric' (k // 2 on every "
                            "side; what XNNPACK sparse inference needs)")


def given_builder_flags(args: argparse.Namespace) -> dict:
    """The builder flags the user gave (not their defaults)."""
    return {k: getattr(args, k) for k in BUILDER_FLAGS if getattr(args, k, None) is not None}


def builder_config(name: str, args: argparse.Namespace, **defaults) -> BuilderConfig:
    """The validated configuration of builder ``name``: ``defaults`` (a recipe's), then the flags
    given. Every entry point makes its configuration here, so a bad kind, alpha or resolution
    gives the same one-line error everywhere."""
    return BuilderConfig(name, **{**defaults, **given_builder_flags(args)})


def refuse_builder_flags(args: argparse.Namespace, model: str) -> None:
    given = given_builder_flags(args)
    if given:
        flag = "--" + next(iter(given)).replace("_", "-")
        raise UsageError(f"{flag}: builder flags apply only to builder names "
                         f"({', '.join(BUILDERS)}), not to {model}")


def add_target_flags(parser: argparse.ArgumentParser) -> None:
    """Where and how models run (bench, compare, profile)."""
    group = parser.add_argument_group("targets")
    group.add_argument("--target", action="append", default=None,
                       help="local | ssh://[user@]host[:port] | qemu-aarch64[:CPU] | adb[:SERIAL] | browser "
                            "(repeatable; default local)")
    group.add_argument("--threads", type=thread_list, default=[1],
                       help="thread counts, comma separated (default 1)")
    group.add_argument("--kernels", choices=("xnnpack", "builtin"), default="xnnpack")
    group.add_argument("--api", choices=("interpreter", "compiled"), default="interpreter",
                       help="LiteRT API the runner uses (default interpreter)")
    group.add_argument("--remote-python", default="python3", help="python on an ssh or adb target")
    group.add_argument("--arm-root", default=None, help="arm64 root file system for qemu-aarch64")
    group.add_argument("--benchmark-binary", default=None,
                       help="benchmark_model binary for adb targets")
    group.add_argument("--taskset", default=None, help="CPU mask for adb targets, e.g. f0")


def add_timing_flags(parser: argparse.ArgumentParser, *, runs: int, rounds: int) -> None:
    group = parser.add_argument_group("timing")
    group.add_argument("--runs", type=int, default=runs, help=f"minimum timed runs (default {runs})")
    group.add_argument("--warmup", type=int, default=5, help="warm-up runs (default 5)")
    group.add_argument("--min-secs", type=float, default=1.0,
                       help="minimum timed seconds (default 1)")
    group.add_argument("--rounds", type=int, default=rounds,
                       help=f"interleaved rounds over all models, in random order (default {rounds})")
    group.add_argument("--cooldown", type=float, default=0.0, help="seconds to rest between rounds")
    group.add_argument("--time-limit", type=float, default=RUN_TIME_LIMIT_S,
                       help=f"seconds per model run before it is stopped and gets an error row "
                            f"(0: none; default {RUN_TIME_LIMIT_S:g})")
    group.add_argument("--memory-limit", type=float, default=MEMORY_LIMIT_MB,
                       help=f"address space cap of each model's runner in MB (0: none; default "
                            f"{MEMORY_LIMIT_MB}); inputs and tensors over half of it are refused")


def target_options(args: argparse.Namespace) -> TargetOptions:
    return TargetOptions(remote_python=args.remote_python, arm_root=args.arm_root,
                         benchmark_binary=args.benchmark_binary, taskset=args.taskset)


def timing(args: argparse.Namespace) -> dict:
    """The keyword arguments of ``bench.schedule.benchmark`` that the target and timing flags set."""
    return {"targets": args.target or ["local"], "threads": args.threads, "kernels": args.kernels,
            "api": args.api, "runs": args.runs, "warmup": args.warmup, "min_secs": args.min_secs,
            "rounds": args.rounds, "cooldown": args.cooldown, "options": target_options(args),
            "time_limit": args.time_limit, "memory_limit": args.memory_limit}


def thread_list(value: str) -> list[int]:
    """``--threads 1,2,4`` -> [1, 2, 4]."""
    try:
        threads = [int(t) for t in value.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: expected comma separated integers like 1,2,4") from None
    if not threads or min(threads) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: thread counts must be >= 1")
    return threads


def choice_list(allowed: tuple[str, ...]):
    """An argparse type: a comma list whose items are all in ``allowed``."""
    def parse(value: str) -> list[str]:
        items = [v.strip() for v in value.split(",") if v.strip()]
        bad = [v for v in items if v not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"unknown value {','.join(bad) or repr(value)} "
                                             f"(choose from {', '.join(allowed)})")
        return items
    return parse


quant_list = choice_list(QUANT_MODES)


def kind_list(value: str) -> list:
    """``--kinds standard,separable,SSDDDDD``: kind names and per-stage codes (checked against
    the builder when its configurations are made)."""
    return [parse_kind(v) for v in value.split(",") if v.strip()]
