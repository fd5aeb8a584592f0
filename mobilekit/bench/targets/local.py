"""The ``local`` target: the device runner on this machine, one subprocess per model.

A model that crashes the runtime (a segfault in a kernel, an abort in the delegate) or hangs
past the time limit kills only its own subprocess and becomes that model's error row.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mobilekit.runtime.isolate import child_env
from mobilekit.bench.targets import Target, wait_limit
from mobilekit.bench.targets.remote import RUNNER_MODULE, run_each


class LocalTarget(Target):
    host = "localhost"
    emulated = False

    def __init__(self, spec: str = "local", options=None):
        self.spec = spec

    def run(self, models: list[Path], runner_args: list[str]) -> list[dict]:
        def run_one(model: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", RUNNER_MODULE, model, *runner_args], capture_output=True,
                                  text=True, env=child_env(), timeout=wait_limit(runner_args))

        return run_each([str(model) for model in models], run_one)
