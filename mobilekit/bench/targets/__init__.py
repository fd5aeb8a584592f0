"""Where ``mobilekit bench`` runs the device runner: this machine, an SSH host, qemu, a phone or a browser.

A target takes local ``.tflite`` paths and the runner's flags (``python -m
mobilekit.runtime.runner --help``) and returns one bench row per model, in order. Rows come from
the runner's JSON lines; a model whose run crashed the runtime gets an ``error`` row and the
others go on. ``bench`` adds the fields only it knows (model, name, target, emulated, round).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path

from mobilekit.errors import UsageError
from mobilekit.runtime.isolate import death_reason

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
GRACE_S = 60.0  # starting a runner (and reaching a device) on top of the runner's own --time-limit

# scheme prefix -> "module:class" of the remote targets, imported only when used
_SCHEMES = (
    ("ssh://", "mobilekit.bench.targets.ssh:SshTarget"),
    ("qemu-aarch64", "mobilekit.bench.targets.qemu:QemuTarget"),
    ("adb", "mobilekit.bench.targets.adb:AdbTarget"),
    ("browser", "mobilekit.bench.targets.browser:BrowserTarget"),
)


@dataclass(frozen=True)
class TargetOptions:
    """What targets other than ``local`` need to know (the command line's target flags)."""

    remote_python: str = "python3"        # python on an ssh or adb target
    arm_root: str | None = None           # arm64 root file system of qemu-aarch64
    benchmark_binary: str | None = None   # benchmark_model binary for adb targets
    taskset: str | None = None            # CPU mask for adb targets


class Target:
    """One place to run models. Subclasses set the attributes and implement ``run``.

    ``spec`` is the string the user gave, ``host`` the concurrency key (targets with the same
    host run one after another; "localhost" for everything on this machine), ``emulated`` marks
    timings that are not latency (qemu).
    """

    spec: str
    host: str
    emulated: bool = False

    def run(self, models: list[Path], runner_args: list[str]) -> list[dict]:
        """One row per model, in order, error rows included (never raises for one bad model)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


def resolve_target(spec: str, options: TargetOptions | None = None) -> Target:
    """The target for a ``--target`` string."""
    if spec == "local":
        from mobilekit.bench.targets.local import LocalTarget

        return LocalTarget(spec)
    for prefix, where in _SCHEMES:
        if spec.startswith(prefix):
            module_name, class_name = where.split(":")
            cls = getattr(importlib.import_module(module_name), class_name)
            return cls(spec, options or TargetOptions())
    raise UsageError(
        f"--target {spec!r}: expected local, ssh://[user@]host[:port], qemu-aarch64[:CPU], adb[:SERIAL] "
        f"or browser")


def runtime_files() -> list[tuple[Path, str]]:
    """(local file, relative path) of everything a device needs for ``python -m
    mobilekit.runtime.runner``: the TF-free runtime package and the few modules it imports."""
    files = [PACKAGE_ROOT / name for name in ("__init__.py", "errors.py", "fsutil.py")]
    files += sorted((PACKAGE_ROOT / "runtime").glob("*.py"))
    return [(path, path.relative_to(PACKAGE_ROOT.parent).as_posix()) for path in files]


def error_row(message: str) -> dict:
    """The row of a model that could not be measured (one line of text)."""
    lines = [line.strip() for line in str(message).strip().splitlines() if line.strip()]
    return {"error": lines[-1] if lines else "failed without a message"}


def rows_from_output(count: int, stdout: str, returncode: int, stderr: str = "") -> list[dict]:
    """The runner's JSON rows from its stdout, padded with error rows for models it never reached.

    A runner killed by a signal (negative ``returncode``; SIGALRM at its ``--time-limit``) or
    exiting without a row names that in the first missing row; the rows it printed before stay
    valid.
    """
    rows = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    rows = rows[:count]
    if len(rows) < count:
        reason = death_reason(returncode, stderr)
        reason = f"runner {reason}" if reason.startswith("exited") else reason
        rows += [error_row(reason) for _ in range(count - len(rows))]
    return rows


def wait_limit(runner_args: list[str]) -> float | None:
    """Seconds to wait for one runner process: its ``--time-limit`` plus GRACE_S (None: no limit)."""
    from mobilekit.bench.targets.remote import runner_options

    limit = runner_options(runner_args).time_limit
    return limit + GRACE_S if limit > 0 else None
