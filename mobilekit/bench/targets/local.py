"""The ``local`` target: the device runner on this machine, one subprocess per model.

A model that crashes the runtime (a segfault in a kernel, an abort in the delegate) kills only its
own subprocess and becomes that model's error row.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mobilekit.bench.targets import PACKAGE_ROOT, Target, rows_from_output


def runner_env() -> dict[str, str]:
    """This environment with the package's parent on PYTHONPATH, so the runner imports this copy."""
    env = dict(os.environ)
    paths = [str(PACKAGE_ROOT.parent)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


class LocalTarget(Target):
    host = "localhost"
    emulated = False

    def __init__(self, spec: str = "local", options=None):
        self.spec = spec

    def run(self, models: list[Path], runner_args: list[str]) -> list[dict]:
        rows = []
        for model in models:
            proc = subprocess.run([sys.executable, "-m", "mobilekit.runtime.runner", str(model), *runner_args],
                                  capture_output=True, text=True, env=runner_env())
            rows += rows_from_output(1, proc.stdout, proc.returncode, proc.stderr)
        return rows
