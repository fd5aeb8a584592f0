"""What the ssh, qemu and adb targets share: one directory that holds the device runner and the
models, and one runner process per model inside it.

The directory mirrors the package (``mobilekit/runtime/...``, see ``runtime_files``) so that
``cd DIR && PY -m mobilekit.runtime.runner`` imports the copied runner and nothing else. Models go
to ``models/<i>/<file name>``: bundles all call their model ``model.tflite``, and the runner's
rows still carry the file's own name.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from mobilekit.errors import UsageError
from mobilekit.bench.targets import error_row, rows_from_output, runtime_files

RUNNER_MODULE = "mobilekit.runtime.runner"


def spec_argument(spec: str, scheme: str, placeholder: str) -> str:
    """ARG of a ``scheme[:ARG]`` target ("" when absent); UsageError for any other spelling."""
    name, _, argument = spec.partition(":")
    if name != scheme:
        raise UsageError(f"--target {spec!r}: expected {scheme}[:{placeholder}]")
    return argument


def _place(source: Path, dest: Path) -> None:
    """A hard link when possible (models can be large), else a copy."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def stage(directory: Path, models: list[Path], *, runner: bool = True) -> list[str | None]:
    """Fill ``directory`` with the runner (unless ``runner`` is False) and the models.

    Returns each model's path relative to ``directory`` (None for a model that is not a file:
    its row becomes an error without running anything).
    """
    if runner:
        for source, relative in runtime_files():
            _place(source, directory / relative)
    placed: list[str | None] = []
    for index, model in enumerate(models):
        model = Path(model)
        if not model.is_file():
            placed.append(None)
            continue
        relative = f"models/{index}/{model.name}"
        _place(model, directory / relative)
        placed.append(relative)
    return placed


def runner_command(python: list[str], model: str, runner_args: list[str]) -> list[str]:
    """argv of the device runner for one model (relative to the staged directory)."""
    return [*python, "-m", RUNNER_MODULE, model, *runner_args]


def shell_word(word: str) -> str:
    """``word`` quoted for a POSIX shell, except that a leading ``~/`` still means the device
    user's home (``--remote-python ~/venv/bin/python``)."""
    if word.startswith("~/"):
        return "~/" + shlex.quote(word[2:])
    return shlex.quote(word)


def shell_command(directory: str, argv: list[str]) -> str:
    """A POSIX shell line running ``argv`` inside ``directory``, every word quoted."""
    return f"cd {shlex.quote(directory)} && {' '.join(shell_word(word) for word in argv)}"


def runner_options(runner_args: list[str]) -> argparse.Namespace:
    """The runner's flags as the runner itself reads them (threads, kernels, runs, ...)."""
    from mobilekit.runtime.runner import build_parser

    return build_parser().parse_args(["MODEL", *runner_args])


def shell_returncode(code: int) -> int:
    """A remote shell reports a child killed by signal N as 128+N; rows_from_output wants -N."""
    return -(code - 128) if 128 < code < 160 else code


class HostLost(Exception):
    """The device stopped answering; the message (one line) is the error of every model left."""


def run_each(placed: list[str | None], run_one: Callable[[str], subprocess.CompletedProcess],
             finish: Callable[[dict, subprocess.CompletedProcess], dict] | None = None) -> list[dict]:
    """One runner process per model, so a crash or a hang costs only that model's row.

    ``run_one(relative model path)`` runs it (raising subprocess.TimeoutExpired past the time
    limit, HostLost when the device is gone); ``finish(row, process)`` may amend a row.
    """
    rows = []
    for index, relative in enumerate(placed):
        if relative is None:
            rows.append(error_row("model file not found"))
            continue
        try:
            proc = run_one(relative)
        except subprocess.TimeoutExpired as exc:
            rows.append(error_row(f"no result within {exc.timeout:g} s: stopped (raise --time-limit)"))
            continue
        except HostLost as exc:
            rows += [error_row(str(exc)) for _ in placed[index:]]
            break
        row = rows_from_output(1, proc.stdout, shell_returncode(proc.returncode), proc.stderr)[0]
        rows.append(finish(row, proc) if finish else row)
    return rows


def last_line(text: str) -> str:
    """The last non-empty line of a tool's output (its error, usually), for one-line messages."""
    return error_row(text)["error"] if text.strip() else "no output"
