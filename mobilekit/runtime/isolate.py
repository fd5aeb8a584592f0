"""Untrusted models are read and run in a child Python, never in the caller's process.

A malformed ``.tflite`` can crash LiteRT's native code, loop forever or allocate without bound. So
``inspect``, ``summary`` and ``predict`` hand the work to ``call``, which runs ``module:function``
in a fresh interpreter under an address-space limit and a wall-clock limit: whatever happens
there costs the caller one line naming the file (``ChildFailed``, exit code 1), or the child's
own ``UsageError`` (exit code 2). ``bench`` gets the same isolation from the runner subprocess
per model (``python -m mobilekit.runtime.runner --time-limit --memory-limit``).

TF-free, like the rest of mobilekit.runtime.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

from mobilekit.errors import PartialFailure, UsageError

TIME_LIMIT_S = 300.0  # inspect, summary, predict; a normal model needs seconds
RUN_TIME_LIMIT_S = 600.0  # per model in bench's runner; a normal model at the default --runs needs seconds
MEMORY_LIMIT_MB = 8192  # address space of a child; a MobileNet runner peaks near 200 MB
PACKAGE_PARENT = Path(__file__).resolve().parent.parent.parent
_RESULT = "mobilekit-child-result "  # prefix of the child's one result line on stdout


class ChildFailed(PartialFailure):
    """The child died, hung or ran out of memory; the message is one line naming the file."""


def child_env() -> dict[str, str]:
    """This environment with the package's parent on PYTHONPATH, so the child imports this copy."""
    env = dict(os.environ)
    paths = [str(PACKAGE_PARENT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def limit_memory(megabytes: float) -> None:
    """Cap this process's address space (0: no cap), so a runaway allocation fails here."""
    if megabytes > 0:
        cap = int(megabytes * 2**20)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def death_reason(returncode: int, stderr: str = "") -> str:
    """Why a child (runner or ``call``) ended without its result, as a phrase for one line."""
    if "bad_alloc" in stderr or "MemoryError" in stderr:
        return "out of memory (over the memory limit)"
    if returncode == -signal.SIGALRM:
        return "stopped at the time limit (--time-limit)"
    if returncode < 0:
        try:
            name = f", {signal.Signals(-returncode).name}"
        except ValueError:
            name = ""
        return f"runtime crashed (signal {-returncode}{name})"
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return f"exited with code {returncode}: {lines[-1] if lines else 'no output'}"


def call(target: str, *args, what: str | os.PathLike, time_limit: float | None = None,
         memory_mb: float | None = None):
    """``module:function(*args)`` in a child; its JSON-able result.

    Raises the child's UsageError as a UsageError, and ChildFailed ("WHAT: reason") when the
    child crashed, hung past ``time_limit`` seconds, ran out of ``memory_mb`` or failed otherwise.
    """
    time_limit = TIME_LIMIT_S if time_limit is None else time_limit
    memory_mb = MEMORY_LIMIT_MB if memory_mb is None else memory_mb
    request = json.dumps({"call": target, "args": [str(a) if isinstance(a, Path) else a for a in args],
                          "memory_mb": memory_mb})
    try:
        proc = subprocess.run([sys.executable, "-m", "mobilekit.runtime.isolate"], input=request,
                              capture_output=True, text=True, env=child_env(), timeout=time_limit or None)
    except subprocess.TimeoutExpired:
        raise ChildFailed(f"{what}: no result within {time_limit:g} s (time limit): stopped") from None
    results = [line[len(_RESULT):] for line in proc.stdout.splitlines() if line.startswith(_RESULT)]
    if not results:
        raise ChildFailed(f"{what}: {death_reason(proc.returncode, proc.stderr)}")
    answer = json.loads(results[-1])
    if "usage_error" in answer:
        raise UsageError(answer["usage_error"])
    if "memory_error" in answer:
        raise ChildFailed(f"{what}: out of memory (over the {memory_mb:g} MB memory limit)")
    if "error" in answer:
        raise ChildFailed(f"{what}: {answer['error']}")
    return answer["result"]


def _serve() -> None:
    """The child's side of ``call``: one request on stdin, one result line on stdout."""
    from mobilekit.runtime.graph import one_line

    request = json.loads(sys.stdin.read())
    limit_memory(request["memory_mb"])
    module, name = request["call"].split(":")
    try:
        answer = {"result": getattr(importlib.import_module(module), name)(*request["args"])}
    except UsageError as exc:
        answer = {"usage_error": str(exc)}
    except MemoryError:
        answer = {"memory_error": True}
    except Exception as exc:  # anything else is this file's failure, reported in one line
        answer = {"error": one_line(exc)}
    print(_RESULT + json.dumps(answer), flush=True)


if __name__ == "__main__":
    _serve()
