"""The ``qemu-aarch64[:CPU]`` target: an ARM64 Python with ai-edge-litert under qemu user-mode.

It runs LiteRT's ARM code paths (XNNPACK's NEON kernels) on this x86 machine, so the ARM side of
the runner is proven end to end without a board; outputs equal the x86 ones (int8 bit-exact).
Emulated times are NOT latency: rows say ``"emulated": true`` and carry a warning. The root file
system (``--arm-root DIR`` or ``MOBILEKIT_ARM_ROOT``) comes from ``.ci/make_arm_root.sh DIR``;
see ``docs/targets.md`` for the two qemu traps this module guards against (host cpuinfo, -cpu max).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from mobilekit.errors import UsageError
from mobilekit.bench.targets import Target, error_row, wait_limit
from mobilekit.bench.targets.remote import run_each, runner_command, runner_options, spec_argument, stage

DEFAULT_CPU = "neoverse-n1"
EMULATED_WARNING = "emulated ARM64 (qemu user-mode): times are not latency, only outputs and op coverage count"
XNNPACK_CREATED = "Created TensorFlow Lite XNNPACK delegate"
# variables of this process that would point the ARM Python at x86 files
_HOST_ONLY_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "LD_PRELOAD")


def arm_root(options) -> Path:
    """The ARM64 root from --arm-root or MOBILEKIT_ARM_ROOT (UsageError when missing or empty)."""
    given = getattr(options, "arm_root", None) or os.environ.get("MOBILEKIT_ARM_ROOT")
    if not given:
        raise UsageError("--target qemu-aarch64 needs --arm-root DIR or MOBILEKIT_ARM_ROOT "
                         "(make one with .ci/make_arm_root.sh DIR)")
    root = Path(given).resolve()
    if not (root / "usr/bin/python3").exists():
        raise UsageError(f"--arm-root {given}: no usr/bin/python3 in it (make one with .ci/make_arm_root.sh DIR)")
    return root


class QemuTarget(Target):
    host = "localhost"
    emulated = True

    def __init__(self, spec: str, options=None):
        self.spec = spec
        self.cpu = spec_argument(spec, "qemu-aarch64", "CPU") or DEFAULT_CPU
        if self.cpu.split(",")[0] == "max" and "sme=off" not in self.cpu:
            raise UsageError(f"--target {spec}: qemu's -cpu max computes wrong int8 results (SME emulation); "
                             "name a CPU model such as neoverse-n1 or cortex-a76, or use max,sme=off")
        self.root = arm_root(options)
        qemu = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
        if qemu is None:
            raise UsageError(f"--target {spec}: qemu-aarch64-static not found on PATH (apt-get install qemu-user-static)")
        self.qemu = qemu

    def python_command(self) -> list[str]:
        """argv prefix that runs the root's ARM64 Python under qemu."""
        return [self.qemu, "-cpu", self.cpu, "-L", str(self.root), str(self.root / "usr/bin/python3")]

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in _HOST_ONLY_ENV}
        env["PYTHONNOUSERSITE"] = "1"  # the host user's site-packages hold x86 wheels
        return env

    def run(self, models: list[Path], runner_args: list[str]) -> list[dict]:
        flags = runner_options(runner_args)
        scratch = self.root / "tmp"
        scratch.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="mobilekit-", dir=scratch) as directory:
            placed = stage(Path(directory), models)

            def run_one(model: str) -> subprocess.CompletedProcess:
                return subprocess.run(runner_command(self.python_command(), model, runner_args), cwd=directory,
                                      env=self.environment(), capture_output=True, text=True,
                                      timeout=wait_limit(runner_args))

            def finish(row: dict, proc: subprocess.CompletedProcess) -> dict:
                return self._checked(row, proc.stderr, flags.kernels)

            rows = run_each(placed, run_one, finish)
        return rows

    def _checked(self, row: dict, stderr: str, kernels: str) -> dict:
        """Label the row as emulated; refuse it when XNNPACK silently did not apply.

        Without a usable ``/proc/cpuinfo`` LiteRT prints "Error in cpuinfo" and runs without the
        delegate, which would measure the wrong kernels under an "xnnpack" label.
        """
        if row.get("error"):
            return row
        if kernels == "xnnpack" and (XNNPACK_CREATED not in stderr or "Error in cpuinfo" in stderr):
            return error_row(f"XNNPACK delegate not created under qemu (LiteRT's CPU detection failed; "
                             f"check {self.root / 'proc/cpuinfo'})")
        row["emulated"] = True
        row["qemu_cpu"] = self.cpu
        row["warnings"] = [*row.get("warnings", []), EMULATED_WARNING]
        return row
