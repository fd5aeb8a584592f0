"""The ``mobilekit`` command line (contract: ../shared/CONTRACTS.md), on top of the library.

The sub-command table below names each command's handler in ``mobilekit.cli.commands``; a handler
turns the parsed flags into one library call and prints its result. Handlers import the library
when they run, so ``--help`` is instant and ``inspect``/``bench`` never pull in TensorFlow. The
library never imports this package. A handler returns the exit code; ``UsageError`` means bad
input (exit 2), ``PartialFailure`` that some items failed (exit 1).
"""

from __future__ import annotations

import sys
from typing import Callable

from mobilekit import __version__
from mobilekit.cli import flags
from mobilekit.cli.flags import Parser
from mobilekit.deploy.bundle import IO_TYPES, QUANT_MODES
from mobilekit.errors import PartialFailure, UsageError


def _quickstart(p):
    p.add_argument("--out", default="export", help="where bundles and report.md go (default ./export)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs per variant")
    p.add_argument("--runs", type=int, default=None, help="timed runs per model and round")
    flags.add_json(p)


def _summary(p):
    p.add_argument("model", help="builder name, run directory, .keras file or .tflite file")
    flags.add_builder_flags(p)
    flags.add_json(p)


def _export(p):
    p.add_argument("model", help="run directory, .keras file or builder name (fresh weights)")
    p.add_argument("--quant", choices=QUANT_MODES, required=True)
    p.add_argument("--io", choices=IO_TYPES, default="float",
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
    flags.add_builder_flags(p)
    flags.add_json(p)


def _bench(p):
    p.add_argument("paths", nargs="+", metavar="PATH", help=".tflite file or bundle directory")
    flags.add_target_flags(p)
    flags.add_timing_flags(p, runs=50, rounds=1)
    p.add_argument("--input-shape", default=None, help="override the input shape, e.g. 1,224,224,3")
    p.add_argument("--input-seed", type=int, default=0, help="seed of the random input (default 0)")
    p.add_argument("--results", default=None, help="append rows to this JSON Lines file")
    flags.add_json(p)


def _compare(p):
    p.add_argument("model", nargs="+", help="builder name (or bundles / .tflite files to compare "
                                            "as they are)")
    flags.add_builder_flags(p, kind=False)
    p.add_argument("--kinds", "--kind", type=flags.kind_list, default=["standard", "separable"],
                   help="comma separated conv kinds or per-stage codes such as SSDDDDD "
                        "(default standard,separable)")
    p.add_argument("--quant", type=flags.quant_list, default=["fp32"],
                   help=f"comma separated, of {', '.join(QUANT_MODES)} (default fp32)")
    flags.add_target_flags(p)
    flags.add_timing_flags(p, runs=30, rounds=5)
    p.add_argument("--out", default="compare", help="output directory (default ./compare)")
    flags.add_json(p)


def _inspect(p):
    p.add_argument("file", help=".tflite file or bundle directory")
    flags.add_json(p)


def _predict(p):
    p.add_argument("bundle", help="bundle directory")
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--top", type=int, default=5)
    flags.add_json(p)


def _web(p):
    p.add_argument("--bundles", default="export", help="directory of bundles (default ./export)")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000; 0 picks a free one)")
    p.add_argument("--demo-dir", default=None,
                   help="the web_demo/ directory (default: the one beside the mobilekit package)")


#: name -> (help, flags) ; the handler is ``mobilekit.cli.commands.<name>``
COMMANDS: dict[str, tuple[str, Callable]] = {
    "quickstart": ("the whole pipeline on the embedded data, offline", _quickstart),
    "summary": ("per-layer params and MACs of a builder, Keras model or .tflite", _summary),
    "export": ("quantize, convert, verify and write one bundle", _export),
    "bench": ("latency of .tflite files or bundles on local or remote targets", _bench),
    "compare": ("build, export and benchmark conv kinds side by side", _compare),
    "inspect": ("inputs, outputs, ops and XNNPACK delegation of a .tflite", _inspect),
    "predict": ("classify images with a bundle", _predict),
    "web": ("serve the browser demo (LiteRT.js) and the bundles in a directory", _web),
}


def build_parser() -> Parser:
    parser = Parser(prog="mobilekit", description=(
        "Standard vs depthwise-separable mobile vision models: build, train, export to "
        "TFLite/LiteRT, verify and benchmark on real devices."))
    parser.add_argument("--version", action="version", version=f"mobilekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name, (text, add_flags) in COMMANDS.items():
        add_flags(sub.add_parser(name, help=text))
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

    def work():
        from mobilekit.cli import commands

        return getattr(commands, args.command)(args)

    return run_with_exit_codes(f"mobilekit {args.command}", work)


if __name__ == "__main__":
    sys.exit(main())
