"""Shared fixtures. Each owner keeps to its own section."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tflite_fixtures import tflite_models  # noqa: F401 - the tiny .tflite files every runtime test uses

# --- a real sshd on 127.0.0.1 (owner: remote targets) --------------------------------------------

SSH_ALIAS = "mk-device"  # a Host entry of the client config below, pointing at the test sshd


@dataclass
class Sshd:
    port: int
    user: str
    client_config: Path  # an ssh_config with the key, known_hosts and the SSH_ALIAS host
    remote_tmp: Path  # TMPDIR of the server's sessions: where `mktemp -d` puts device directories
    remote_home: Path  # HOME of the server's sessions (what a remote `~/` means)
    log: Path
    pid: int  # the listening sshd; each connection is served by a child of it

    @property
    def url(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with code {proc.returncode}: {log.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"sshd did not listen on port {port}: {log.read_text()}")


@pytest.fixture(scope="session")
def sshd(tmp_path_factory) -> Sshd:
    """An OpenSSH server on 127.0.0.1, a free port, with a private config, host key and client key.

    The client side is a private ssh_config (``Sshd.client_config``): point ssh at it with
    ``-F`` or ``MOBILEKIT_SSH_CONFIG``. Stopped by its PID at the end of the session.
    """
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@contextlib.contextmanager
def running_sshd(folder: Path):
    """The ``sshd`` fixture's server in ``folder``, for a test that stops or kills it (``Sshd.pid``)."""
    sshd_bin = shutil.which("sshd") or next(
        (p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if os.access(p, os.X_OK)), None)
    if sshd_bin is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH server/client not installed (apt-get install openssh-server openssh-client)")
    host_key, client_key = folder / "host_key", folder / "client_key"
    host_public = _keygen(host_key)
    (folder / "authorized_keys").write_text(_keygen(client_key) + "\n")
    port = _free_port()
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_public}\n")
    remote_tmp, remote_home = folder / "remote_tmp", folder / "remote_home"
    remote_tmp.mkdir()
    remote_home.mkdir()
    config = folder / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}",
        f"AuthorizedKeysFile {folder / 'authorized_keys'}", f"PidFile {folder / 'sshd.pid'}",
        "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no",
        "Subsystem sftp internal-sftp", f"SetEnv TMPDIR={remote_tmp} HOME={remote_home}", "",
    ]))
    user = getpass.getuser()
    client_config = folder / "ssh_config"
    client_config.write_text("\n".join([
        f"Host {SSH_ALIAS}", "    HostName 127.0.0.1", f"    Port {port}", f"    User {user}",
        "Host *", f"    IdentityFile {client_key}", "    IdentitiesOnly yes",
        f"    UserKnownHostsFile {folder / 'known_hosts'}", "    StrictHostKeyChecking yes",
        "    LogLevel ERROR", "",
    ]))
    try:  # the privilege separation directory; the image's policy-rc.d never makes it
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    except PermissionError:
        pass
    log = folder / "sshd.log"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen([sshd_bin, "-D", "-e", "-f", str(config)], stdout=log_file,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_for_port(port, proc, log)
        yield Sshd(port=port, user=user, client_config=client_config, remote_tmp=remote_tmp,
                   remote_home=remote_home, log=log, pid=proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
