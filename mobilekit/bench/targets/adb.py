"""The ``adb[:SERIAL]`` target: an Android phone over adb.

Two ways to measure, both from a ``mktemp -d`` directory under /data/local/tmp that is removed
afterwards:

- ``--benchmark-binary PATH``: the official TFLite ``benchmark_model`` (built for the phone's
  ABI by the user) is pushed and run with the runner's settings translated to its flags
  (``--num_threads``, ``--use_xnnpack``, ``--num_runs``, ``--warmup_runs``, ``--min_secs``),
  optionally under ``taskset MASK`` to pin the big cores; its text output becomes the row. The
  tool prints summary statistics only, so such rows have no samples, no confidence interval and
  no output digest; their warnings say so.
- otherwise the device runner with the phone's own Python (``--remote-python``, e.g. Termux's).

No phone is attached where this is tested: the tests drive it through a stand-in ``adb``.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from mobilekit.errors import UsageError
from mobilekit.bench.targets import GRACE_S, Target, error_row, wait_limit
from mobilekit.bench.targets.benchmark_model_output import parse_benchmark_output
from mobilekit.bench.targets.remote import (last_line, run_each, runner_command, runner_options, shell_command,
                                      spec_argument, stage)

DEVICE_TMP = "/data/local/tmp"
BINARY_NAME = "benchmark_model"
NO_SAMPLES = ("benchmark_model reports summary statistics only: no per-run samples, so no median CI, "
              "p90, variation or throttling checks, and no output digest")


class AdbTarget(Target):
    emulated = False

    def __init__(self, spec: str, options=None):
        self.spec = spec
        serial = spec_argument(spec, "adb", "SERIAL")
        self.serial = serial or None
        self.host = f"adb:{serial}" if serial else "adb"
        adb = shutil.which("adb")
        if adb is None:
            raise UsageError(f"--target {spec}: adb not found on PATH (install Android platform-tools)")
        self.adb = adb
        binary = getattr(options, "benchmark_binary", None)
        self.binary = Path(binary) if binary else None
        if self.binary and not self.binary.is_file():
            raise UsageError(f"--benchmark-binary {binary}: no such file")
        self.taskset = getattr(options, "taskset", None)
        if self.taskset and not re.fullmatch(r"(0x)?[0-9a-fA-F]+", self.taskset):
            raise UsageError(f"--taskset {self.taskset}: expected a hexadecimal CPU mask such as f0")
        self.python = shlex.split(getattr(options, "remote_python", None) or "python3")

    def _adb(self, *args: str, timeout: float | None = GRACE_S) -> subprocess.CompletedProcess:
        """adb with ``args``; subprocess.TimeoutExpired when the device gives no answer in time."""
        serial = ["-s", self.serial] if self.serial else []
        return subprocess.run([self.adb, *serial, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=timeout)

    def _device(self) -> str:
        """The serial, or a description of the default device, for messages."""
        return f"adb device {self.serial}" if self.serial else "the adb device"

    def _make_directory(self) -> str:
        try:
            return self._new_directory()
        except subprocess.TimeoutExpired as exc:
            raise UsageError(f"--target {self.spec}: {self._device()} gave no answer within "
                             f"{exc.timeout:g} s") from None

    def _new_directory(self) -> str:
        state = self._adb("get-state")
        if state.returncode != 0 or state.stdout.strip() != "device":
            raise UsageError(f"--target {self.spec}: {self._device()} is not available: "
                             f"{last_line(state.stderr or state.stdout)}")
        made = self._adb("shell", f"mktemp -d {DEVICE_TMP}/mobilekit.XXXXXX")
        directory = made.stdout.strip()
        if made.returncode != 0 or not directory.startswith(DEVICE_TMP):
            raise UsageError(f"--target {self.spec}: cannot make a directory on {self._device()}: "
                             f"{last_line(made.stderr or made.stdout)}")
        return directory

    def _push(self, local: Path, directory: str) -> subprocess.CompletedProcess:
        return self._adb("push", *[str(path) for path in sorted(local.iterdir())], f"{directory}/", timeout=None)

    def run(self, models: list[Path], runner_args: list[str]) -> list[dict]:
        directory = self._make_directory()
        try:
            with tempfile.TemporaryDirectory(prefix="mobilekit-adb-") as local:
                placed = stage(Path(local), models, runner=self.binary is None)
                if self.binary:
                    shutil.copyfile(self.binary, Path(local) / BINARY_NAME)
                pushed = self._push(Path(local), directory)
            if pushed.returncode != 0:
                failed = error_row(f"adb push to {self._device()} failed: {last_line(pushed.stderr or pushed.stdout)}")
                return [dict(failed) for _ in models]
            if self.binary:
                return self._run_benchmark_model(directory, placed, runner_args)
            return run_each(placed, lambda model: self._adb(
                "shell", shell_command(directory, self._pinned(runner_command(self.python, model, runner_args))),
                timeout=wait_limit(runner_args)))
        finally:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._adb("shell", f"rm -rf {shlex.quote(directory)}")

    def _pinned(self, argv: list[str]) -> list[str]:
        return ["taskset", self.taskset, *argv] if self.taskset else argv

    def benchmark_command(self, model: str, runner_args: list[str]) -> list[str]:
        """The ``benchmark_model`` argv (in the pushed directory) for the runner's flags."""
        flags = runner_options(runner_args)
        return self._pinned([
            f"./{BINARY_NAME}", f"--graph={model}", f"--num_threads={flags.threads}",
            f"--use_xnnpack={'true' if flags.kernels == 'xnnpack' else 'false'}",
            f"--num_runs={flags.runs}", f"--warmup_runs={flags.warmup}", "--warmup_min_secs=0",
            f"--min_secs={flags.min_secs}", "--report_peak_memory_footprint=true",
        ])

    def _run_benchmark_model(self, directory: str, placed: list[str | None], runner_args: list[str]) -> list[dict]:
        flags = runner_options(runner_args)
        self._adb("shell", f"chmod 755 {shlex.quote(f'{directory}/{BINARY_NAME}')}")
        machine = self._adb("shell", "uname -m").stdout.strip() or None
        warnings = [NO_SAMPLES]
        if flags.input_shape:
            warnings.append("--input-shape is not passed to benchmark_model: it runs the model's own input shape")
        if flags.api != "interpreter":
            warnings.append(f"--api {flags.api} ignored: benchmark_model uses the Interpreter API")
        rows = []
        for model in placed:
            if model is None:
                rows.append(error_row("model file not found"))
                continue
            try:
                proc = self._adb("shell", shell_command(directory, self.benchmark_command(model, runner_args)),
                                 timeout=wait_limit(runner_args))
            except subprocess.TimeoutExpired as exc:
                rows.append(error_row(f"benchmark_model gave no result within {exc.timeout:g} s: stopped"))
                continue
            fields = parse_benchmark_output(proc.stdout + "\n" + proc.stderr)
            if "mean_ms" not in fields:
                rows.append(error_row(f"benchmark_model printed no timings (exit code {proc.returncode}): "
                                      f"{last_line(proc.stderr or proc.stdout)}"))
                continue
            rows.append({"error": None, "machine": machine, "threads": flags.threads, "kernels": flags.kernels,
                         "api": BINARY_NAME, "runtime": f"TFLite {BINARY_NAME} ({self.binary.name})",
                         "warmup_runs": flags.warmup, **fields, "input_seed": None,
                         "taskset": self.taskset, "warnings": list(warnings)})
        return rows
