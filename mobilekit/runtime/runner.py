"""The device-side benchmark: time one or more ``.tflite`` files and print one JSON row each.

Runs anywhere ai-edge-litert and numpy run (no TensorFlow), e.g. copied to a Raspberry Pi:

    python -m mobilekit.runtime.runner MODEL [MODEL...] [--threads N] [--kernels xnnpack|builtin]
        [--runs N] [--warmup N] [--min-secs S] [--input-shape 1,H,W,C] [--input-seed N]
        [--api interpreter|compiled] [--time-limit S] [--memory-limit MB]

Per model: load (``init_ms``), fill the inputs from ``--input-seed``, one first run
(``first_ms``), ``--warmup`` untimed runs, then timed runs until BOTH ``--runs`` runs and
``--min-secs`` seconds are reached (at most ``--max-runs``). Only the inference call is timed;
inputs are written once. A model that cannot run gets ``{"model": ..., "error": "one line"}``
and the others go on. Rows are flushed as each model finishes; exit code 1 if any row is an error.

Untrusted models are bounded: the process's address space is capped at ``--memory-limit`` MB,
each model gets ``--time-limit`` seconds before SIGALRM ends the process (a hang inside native
code included), and a model whose input is empty or dynamic beyond the batch dimension (without
``--input-shape``), or that has a tensor larger than half the memory limit, is refused before
anything is allocated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import resource
import signal
import sys
import time
from pathlib import Path

import numpy as np

from mobilekit.errors import UsageError
from mobilekit.runtime import graph, isolate, stats

KERNELS = ("xnnpack", "builtin")
APIS = ("interpreter", "compiled")
# Present only on emulated devices (the qemu board of .ci/make_arm_board.sh): its first line says
# what emulates them. A real board never has it, so its rows stay latency.
EMULATED_MARKER = Path("/etc/mobilekit-emulated")


def runtime_version() -> str:
    """"ai-edge-litert X.Y.Z" of the installed runtime."""
    try:
        from importlib.metadata import version

        return f"ai-edge-litert {version('ai-edge-litert')}"
    except Exception:  # not installed as a distribution (e.g. copied onto a device)
        import ai_edge_litert

        return f"ai-edge-litert {getattr(ai_edge_litert, '__version__', 'unknown')}"


def make_input(shape: list[int], dtype, rng: np.random.Generator) -> np.ndarray:
    """A deterministic input: floats uniform in [-1, 1] (the normalized pixel range), 8/16-bit
    integers over their whole range, wider integers in [0, 128) (usually indices), booleans 0/1."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.floating):
        return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        low, high = (info.min, info.max) if dtype.itemsize <= 2 else (0, 127)
        return rng.integers(low, high, size=shape, endpoint=True).astype(dtype)
    raise ValueError(f"cannot make an input of type {dtype}")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


class _InterpreterSession:
    """The classic Interpreter API; kernels chosen through the op resolver."""

    def __init__(self, path: Path, threads: int, kernels: str, input_shape: list[int] | None):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        resolver = OpResolverType.AUTO if kernels == "xnnpack" else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        self.interpreter = Interpreter(model_path=str(path), num_threads=threads,
                                       experimental_op_resolver_type=resolver)
        if input_shape:
            self.interpreter.resize_tensor_input(self.interpreter.get_input_details()[0]["index"], input_shape)
        self.interpreter.allocate_tensors()
        self.inputs = [(d["shape"].tolist(), d["dtype"]) for d in self.interpreter.get_input_details()]

    def set_inputs(self, arrays: list[np.ndarray]) -> None:
        for detail, array in zip(self.interpreter.get_input_details(), arrays):
            self.interpreter.set_tensor(detail["index"], array)

    def run(self) -> None:
        self.interpreter.invoke()

    def outputs(self) -> list[np.ndarray]:
        return [self.interpreter.get_tensor(d["index"]) for d in self.interpreter.get_output_details()]

    def delegation(self, path: Path, ops: list[dict]) -> dict:
        return graph.delegation_summary(ops, graph.delegated_nodes(ops, self.interpreter._get_ops_details()))


class _CompiledSession:
    """The CompiledModel API (what LiteRT's benchmark_litert_model.py uses), CPU accelerator."""

    def __init__(self, path: Path, threads: int, kernels: str, input_shape: list[int] | None):
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.cpu_kernel_mode import CpuKernelMode
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator
        from ai_edge_litert.options import CpuOptions, Options

        mode = CpuKernelMode.XNNPACK if kernels == "xnnpack" else CpuKernelMode.BUILTIN
        options = Options(hardware_accelerators=HardwareAccelerator.CPU,
                          cpu_options=CpuOptions(num_threads=threads, kernel_mode=mode))
        self.model = CompiledModel.from_file(str(path), options=options)
        if input_shape:
            self.model.resize_input_tensor(0, input_shape, strict=False)  # as the Interpreter allows
        signature = self.model.get_signature_by_index(0)
        self.key = signature.get("key", next(iter(self.model.get_signature_list())))
        self.input_details = list(self.model.get_input_tensor_details(self.key).values())
        self.output_details = list(self.model.get_output_tensor_details(self.key).values())
        self.inputs = [(list(d["shape"]), np.dtype(d["dtype"])) for d in self.input_details]
        self.input_buffers = self.model.create_input_buffers(0)
        self.output_buffers = self.model.create_output_buffers(0)

    def set_inputs(self, arrays: list[np.ndarray]) -> None:
        for buffer, array in zip(self.input_buffers, arrays):
            buffer.write(array)

    def run(self) -> None:
        self.model.run_by_index(0, self.input_buffers, self.output_buffers)

    def outputs(self) -> list[np.ndarray]:
        arrays = []
        for buffer, detail in zip(self.output_buffers, self.output_details):
            shape = list(detail["shape"])
            arrays.append(buffer.read(int(np.prod(shape)), np.dtype(detail["dtype"])).reshape(shape))
        return arrays

    def delegation(self, path: Path, ops: list[dict]) -> dict:
        return graph.delegation(path)  # CompiledModel does not expose its graph: ask an Interpreter


def _megabytes(shape: list[int], dtype: str) -> float:
    try:
        itemsize = np.dtype(dtype.lower()).itemsize
    except TypeError:  # string, resource, int4, ...: count a byte per element
        itemsize = 1
    return int(np.prod(shape, dtype=object)) * itemsize / 2**20


def check_resources(path: Path, tensors: list[dict], input_shape: list[int] | None, memory_mb: float) -> None:
    """Refuse (UsageError) a model that cannot run safely before anything is allocated: an input
    with a zero dimension, or dynamic beyond the batch (which runs as 1) without
    ``--input-shape``, or an input or intermediate tensor (``read_graph``'s ``tensors``) bigger
    than half the memory limit (``memory_mb``; 0: no limit)."""
    too_big = f"over half the memory limit of {memory_mb:g} MB (--memory-limit)"
    inputs, _ = graph.io_tensors(path)
    for i, entry in enumerate(inputs):
        name, given = entry["name"], input_shape if i == 0 and input_shape else None
        dims = list(given or entry["shape_signature"])
        if dims and dims[0] == -1:
            dims[0] = 1
        if -1 in dims:
            which = "give its shape with --input-shape" if i == 0 else "only the first input's shape can be given"
            raise UsageError(f"{path}: input {name!r} has dynamic dimensions {entry['shape_signature']}: {which}")
        if 0 in dims:
            raise UsageError(f"{path}: input {name!r} has a zero dimension {dims}: nothing to run")
        if memory_mb and _megabytes(dims, entry["dtype"]) > memory_mb / 2:
            raise UsageError(f"{path}: input {name!r} {dims} {entry['dtype']} needs "
                             f"{_megabytes(dims, entry['dtype']):,.0f} MB, {too_big}")
    for i, tensor in enumerate(tensors):
        if memory_mb and not tensor["constant"] and _megabytes(tensor["shape"], tensor["type"]) > memory_mb / 2:
            raise UsageError(f"{path}: tensor {i} {tensor['shape']} {tensor['type'].lower()} needs "
                             f"{_megabytes(tensor['shape'], tensor['type']):,.0f} MB, {too_big}")


def _timed(call) -> float:
    start = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - start) / 1e6


def measure(path: str | Path, *, threads: int = 1, kernels: str = "xnnpack", runs: int = 50,
            warmup: int = 5, min_secs: float = 1.0, input_shape: list[int] | None = None,
            input_seed: int = 0, api: str = "interpreter", max_runs: int = 10000,
            memory_mb: float = isolate.MEMORY_LIMIT_MB) -> dict:
    """Time one model; the row's device-side fields (CONTRACTS bench row). Raises on failure.

    ``memory_mb`` only bounds tensor sizes here (check_resources); ``main`` also caps the process."""
    if kernels not in KERNELS or api not in APIS:
        raise UsageError(f"kernels must be one of {KERNELS} and api one of {APIS}, got {kernels!r}, {api!r}")
    path = graph.check_tflite(path)
    ops, tensors = graph.read_graph(path)
    check_resources(path, tensors, input_shape, memory_mb)
    session_cls = _InterpreterSession if api == "interpreter" else _CompiledSession
    start = time.perf_counter_ns()
    session = session_cls(path, threads, kernels, input_shape)
    init_ms = (time.perf_counter_ns() - start) / 1e6
    rng = np.random.default_rng(input_seed)
    session.set_inputs([make_input(shape, dtype, rng) for shape, dtype in session.inputs])

    first_ms = _timed(session.run)
    digest = hashlib.sha256()
    for array in session.outputs():
        digest.update(np.ascontiguousarray(array).tobytes())
    for _ in range(warmup):
        session.run()
    samples: list[float] = []
    deadline = time.perf_counter() + min_secs
    while len(samples) < max(runs, 1) or (time.perf_counter() < deadline and len(samples) < max_runs):
        samples.append(_timed(session.run))
    peak = peak_rss_mb()

    # with built-in kernels no op runs in XNNPACK; asked after timing, so it cannot disturb it
    delegated = session.delegation(path, ops) if kernels == "xnnpack" else graph.delegation_summary(ops, [])
    return {
        "model": str(path), "error": None,
        "machine": platform.machine(), "threads": threads, "kernels": kernels, "api": api,
        "runtime": runtime_version(),
        "warmup_runs": warmup, "runs": len(samples),
        "init_ms": init_ms, "first_ms": first_ms,
        **stats.summarize(samples),
        "peak_rss_mb": peak,
        "ops_total": len(ops),
        "xnnpack_partitions": delegated["xnnpack_partitions"],
        "ops_outside_xnnpack": delegated["ops_outside_xnnpack"],
        "input_seed": input_seed, "output_sha256": digest.hexdigest(),
        "samples_ms": samples,
        "warnings": stats.warnings_for(samples),
    }


def emulation() -> str | None:
    """What emulates this device (EMULATED_MARKER's first line), or None on real hardware."""
    try:
        text = EMULATED_MARKER.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    return text.splitlines()[0] if text else "emulated"


def parse_shape(text: str | None) -> list[int] | None:
    """"1,224,224,3" -> [1, 224, 224, 3]."""
    if not text:
        return None
    try:
        shape = [int(part) for part in text.replace("x", ",").split(",") if part.strip()]
    except ValueError:
        shape = []
    if not shape or any(d < 1 for d in shape):
        raise argparse.ArgumentTypeError(f"expected positive integers like 1,224,224,3, got {text!r}")
    return shape


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mobilekit.runtime.runner",
                                     description="Time .tflite files; one JSON row per model on stdout.")
    parser.add_argument("models", nargs="+", metavar="MODEL")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--kernels", choices=KERNELS, default="xnnpack")
    parser.add_argument("--runs", type=int, default=50, help="minimum timed runs")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs after the first run")
    parser.add_argument("--min-secs", type=float, default=1.0, help="minimum timed seconds")
    parser.add_argument("--max-runs", type=int, default=10000, help="stop --min-secs after this many runs")
    parser.add_argument("--input-shape", type=parse_shape, default=None, help="shape of the first input")
    parser.add_argument("--input-seed", type=int, default=0)
    parser.add_argument("--api", choices=APIS, default="interpreter")
    parser.add_argument("--time-limit", type=float, default=isolate.RUN_TIME_LIMIT_S,
                        help=f"seconds per model before the process is stopped (0: none; "
                             f"default {isolate.RUN_TIME_LIMIT_S:g})")
    parser.add_argument("--memory-limit", type=float, default=isolate.MEMORY_LIMIT_MB,
                        help=f"address space cap in MB (0: none; default {isolate.MEMORY_LIMIT_MB})")
    return parser


def _memory_hint(memory_mb: float) -> str:
    """" (...--memory-limit...)" when this process's peak address space passed half the cap:
    LiteRT reports a refused allocation only as a failed prepare or "no message"."""
    try:
        with open("/proc/self/status") as status:
            peak_mb = next(int(line.split()[1]) for line in status if line.startswith("VmPeak:")) / 1024
    except (OSError, StopIteration, ValueError):  # not Linux
        return ""
    if memory_mb and peak_mb > memory_mb / 2:
        return f" (address space reached {peak_mb:,.0f} MB of the --memory-limit of {memory_mb:g} MB)"
    return ""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    isolate.limit_memory(args.memory_limit)
    emulated = emulation()
    failed = False
    for model in args.models:
        if args.time_limit > 0:  # SIGALRM's default action ends the process, even inside native code
            signal.setitimer(signal.ITIMER_REAL, args.time_limit)
        try:
            row = measure(model, threads=args.threads, kernels=args.kernels, runs=args.runs,
                          warmup=args.warmup, min_secs=args.min_secs, input_shape=args.input_shape,
                          input_seed=args.input_seed, api=args.api, max_runs=args.max_runs,
                          memory_mb=args.memory_limit)
        except MemoryError:
            row = {"model": model, "error": f"out of memory (over the --memory-limit of {args.memory_limit:g} MB)"}
            failed = True
        except Exception as exc:  # one bad model must not stop the others
            row = {"model": model, "error": graph.one_line(exc) + _memory_hint(args.memory_limit)}
            failed = True
        signal.setitimer(signal.ITIMER_REAL, 0)
        if emulated:
            row["emulated"] = True
            if not row["error"]:
                row["warnings"].append(f"emulated device ({emulated}): times are not latency")
        print(json.dumps(row), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
