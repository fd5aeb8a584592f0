"""The ``ssh://[user@]host[:port]`` target: a Raspberry Pi or any Linux board with a 64-bit
Python that has numpy and ai-edge-litert (``--remote-python``, default ``python3``).

It drives the system ``ssh`` and ``scp``, so the user's ``~/.ssh/config``, keys, agent and
known_hosts apply as they do in a terminal (``MOBILEKIT_SSH_CONFIG`` names another config file,
passed as ``-F``). ``BatchMode=yes``: it never prompts, an unknown host key or a missing key fails.
Each run copies the runner and the models into a ``mktemp -d`` directory on the device, runs
one runner per model there with every word shell-quoted, and removes the directory whatever
happens. A host that goes away mid-run (powered off, sshd stopped, network gone: ssh fails, or
keep-alives go unanswered for a minute, or no runner result comes within its time limit plus
``GRACE_S``) ends the run: the model in flight and the ones after it get an error row naming the
host, finished rows stay.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from mobilekit.errors import UsageError
from mobilekit.bench.targets import GRACE_S, Target, error_row, wait_limit
from mobilekit.bench.targets.remote import (HostLost, last_line, run_each, runner_command, shell_command, shell_word,
                                      stage)

BATCH_OPTIONS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=15",
                 "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]
SSH_FAILED = 255  # ssh's own exit status: no connection or a lost one (the runner exits 0, 1 or 2)
_CHECK_RUNTIME = "import numpy, ai_edge_litert.interpreter"


def is_loopback(hostname: str) -> bool:
    """True for this machine's own addresses (the concurrency key is then "localhost")."""
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


class SshTarget(Target):
    emulated = False

    def __init__(self, spec: str, options=None):
        self.spec = spec
        parts = urlsplit(spec)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme != "ssh" or not parts.hostname or parts.password or port == -1 \
                or parts.path not in ("", "/") or parts.query or parts.fragment:
            raise UsageError(f"--target {spec!r}: expected ssh://[user@]host[:port]")
        self.destination = parts.hostname
        self.python = shlex.split(getattr(options, "remote_python", None) or "python3")
        if not self.python:
            raise UsageError("--remote-python: empty")
        self.options = list(BATCH_OPTIONS)
        config = os.environ.get("MOBILEKIT_SSH_CONFIG")
        if config:
            self.options = ["-F", config, *self.options]
        if parts.username:
            self.options += ["-o", f"User={parts.username}"]
        if port:
            self.options += ["-o", f"Port={port}"]
        for tool in ("ssh", "scp"):
            if shutil.which(tool) is None:
                raise UsageError(f"--target {spec}: {tool} not found on PATH (install openssh-client)")
        hostname = self._resolved_hostname()
        self.host = "localhost" if is_loopback(hostname) else hostname

    def _resolved_hostname(self) -> str:
        """The address ssh will connect to after its config (``ssh -G``; makes no connection)."""
        proc = subprocess.run(["ssh", "-G", *self.options, "--", self.destination],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise UsageError(f"--target {self.spec}: ssh rejects it: {last_line(proc.stderr)}")
        for line in proc.stdout.splitlines():
            key, _, value = line.partition(" ")
            if key == "hostname":
                return value.strip()
        return self.destination

    def _ssh(self, command: str, timeout: float | None = GRACE_S) -> subprocess.CompletedProcess:
        """``command`` on the host; raises HostLost (why, one line) when ssh itself fails or no
        answer comes within ``timeout`` seconds."""
        try:
            proc = subprocess.run(["ssh", *self.options, "--", self.destination, command],
                                  capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HostLost(f"no answer within {timeout:g} s") from None
        if proc.returncode == SSH_FAILED:
            raise HostLost(last_line(proc.stderr) if proc.stderr.strip() else "it stopped answering")
        return proc

    def _run_model(self, directory: str, model: str, runner_args: list[str]) -> subprocess.CompletedProcess:
        try:
            return self._ssh(shell_command(directory, runner_command(self.python, model, runner_args)),
                             wait_limit(runner_args))
        except HostLost as exc:  # the rest of this run is not tried: each would cost a timeout
            raise HostLost(f"ssh host {self.destination} went away: {exc}") from None

    def _remove(self, directory: str) -> None:
        try:
            self._ssh(f"rm -rf {shlex.quote(directory)}")
        except HostLost:
            pass  # the host is gone; its temp directory goes with its next reboot

    def _make_directory(self) -> str:
        """A fresh temp directory on the device, after checking the host and its Python."""
        python = " ".join(shell_word(word) for word in self.python)
        try:
            proc = self._ssh(f"mktemp -d && {python} -c {shlex.quote(_CHECK_RUNTIME)}")
        except HostLost as exc:
            raise UsageError(f"ssh host {self.destination} ({self.spec}): cannot connect: {exc}") from None
        directory = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
        if not directory.startswith("/"):
            raise UsageError(f"ssh host {self.destination}: mktemp -d failed: {last_line(proc.stderr)}")
        if proc.returncode != 0:
            self._remove(directory)
            if proc.returncode in (126, 127):
                raise UsageError(f"--remote-python {python}: not found on ssh host {self.destination}")
            raise UsageError(f"--remote-python {python} on ssh host {self.destination} cannot import numpy "
                             f"and ai-edge-litert ({last_line(proc.stderr)}); pip install ai-edge-litert numpy")
        return directory

    def _copy_up(self, local: Path, directory: str) -> subprocess.CompletedProcess:
        host = f"[{self.destination}]" if ":" in self.destination else self.destination
        sources = [str(path) for path in sorted(local.iterdir())]
        return subprocess.run(["scp", "-q", "-r", *self.options, "--", *sources, f"{host}:{directory}/"],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)

    def run(self, models: list[Path], runner_args: list[str]) -> list[dict]:
        directory = self._make_directory()
        try:
            with tempfile.TemporaryDirectory(prefix="mobilekit-ssh-") as local:
                placed = stage(Path(local), models)
                copied = self._copy_up(Path(local), directory)
            if copied.returncode != 0:
                failed = error_row(f"copying to ssh host {self.destination} failed: {last_line(copied.stderr)}")
                return [dict(failed) for _ in models]
            return run_each(placed, lambda model: self._run_model(directory, model, runner_args))
        finally:
            self._remove(directory)
