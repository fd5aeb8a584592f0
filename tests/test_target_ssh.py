"""The ssh:// target against a real OpenSSH server on 127.0.0.1 (the ``sshd`` fixture): no mocks."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys

import pytest
from conftest import SSH_ALIAS

from mobilekit.errors import UsageError
from mobilekit.bench.targets import resolve_target
from mobilekit.bench.targets.local import LocalTarget
from mobilekit.bench.targets.ssh import SshTarget

FAST = ["--runs", "3", "--warmup", "1", "--min-secs", "0"]


def options(remote_python: str = sys.executable) -> argparse.Namespace:
    return argparse.Namespace(remote_python=remote_python, arm_root=None, benchmark_binary=None, taskset=None)


@pytest.fixture
def ssh_config(sshd, monkeypatch):
    monkeypatch.setenv("MOBILEKIT_SSH_CONFIG", str(sshd.client_config))
    return sshd


def test_benchmarks_through_sshd_with_error_rows_in_place(ssh_config, tflite_models, tmp_path):
    # a file name that runs code or splits into other words if any remote word is left unquoted
    weird = tmp_path / "my model $(exit 3); `exit 4` 'x\" $HOME &.tflite"
    shutil.copyfile(tflite_models["f32"], weird)
    models = [weird, tflite_models["custom"], tflite_models["corrupt"], tflite_models["int8"]]

    target = resolve_target(ssh_config.url, options())
    assert isinstance(target, SshTarget) and target.host == "localhost" and not target.emulated
    rows = target.run(models, FAST)

    assert len(rows) == 4
    assert rows[0]["error"] is None and rows[3]["error"] is None
    assert rows[1]["error"] and rows[2]["error"]
    assert rows[0]["model"].endswith(weird.name)  # the runner saw the whole name as one word
    assert rows[0]["machine"] == platform.machine() and rows[0]["runs"] >= 3
    local = LocalTarget().run([tflite_models["f32"], tflite_models["int8"]], FAST)
    assert [rows[0]["output_sha256"], rows[3]["output_sha256"]] == [r["output_sha256"] for r in local]
    assert list(ssh_config.remote_tmp.iterdir()) == []  # the device's temp directory is gone


def test_host_alias_and_options_from_the_users_ssh_config(ssh_config, tflite_models):
    target = resolve_target(f"ssh://{SSH_ALIAS}", options())
    assert target.host == "localhost"  # HostName 127.0.0.1 from the config, read by `ssh -G`
    [row] = target.run([tflite_models["int8"]], FAST)
    assert row["error"] is None and row["xnnpack_partitions"] >= 1


def test_remote_hosts_are_their_own_concurrency_key():
    assert resolve_target("ssh://pi@raspberrypi.example:2200", options()).host == "raspberrypi.example"


@pytest.mark.parametrize("spec", ["ssh://", "ssh://host:port", "ssh://user:secret@host", "ssh://host/path"])
def test_malformed_specs_are_usage_errors(spec):
    with pytest.raises(UsageError, match="ssh://"):
        resolve_target(spec, options())


def test_unreachable_host_is_one_line_naming_it(ssh_config, tflite_models):
    closed = ssh_config.port + 1 if ssh_config.port < 65535 else ssh_config.port - 1
    target = resolve_target(f"ssh://127.0.0.1:{closed}", options())
    with pytest.raises(UsageError, match="127.0.0.1") as error:
        target.run([tflite_models["f32"]], FAST)
    assert "\n" not in str(error.value)


def test_unknown_host_key_fails_instead_of_prompting(sshd, tflite_models, tmp_path, monkeypatch):
    config = tmp_path / "ssh_config"
    text = sshd.client_config.read_text().replace(str(sshd.client_config.parent / "known_hosts"),
                                                  str(tmp_path / "empty_known_hosts"))
    config.write_text(text)
    monkeypatch.setenv("MOBILEKIT_SSH_CONFIG", str(config))
    with pytest.raises(UsageError, match="cannot connect"):
        resolve_target(sshd.url, options()).run([tflite_models["f32"]], FAST)


@pytest.mark.parametrize("python, message", [
    ("/nonexistent/python3", "not found"),
    # a real Python that cannot see numpy / ai-edge-litert (no site-packages)
    (f"{shlex.quote(sys.executable)} -I -S", "cannot import"),
])
def test_wrong_remote_python_is_one_line_naming_it(ssh_config, tflite_models, python, message):
    target = resolve_target(ssh_config.url, options(python))
    with pytest.raises(UsageError, match=message) as error:
        target.run([tflite_models["f32"]], FAST)
    assert "--remote-python" in str(error.value) and "\n" not in str(error.value)
    assert list(ssh_config.remote_tmp.iterdir()) == []


def test_missing_model_file_gets_an_error_row(ssh_config, tflite_models, tmp_path):
    rows = resolve_target(ssh_config.url, options()).run([tmp_path / "absent.tflite", tflite_models["f32"]], FAST)
    assert rows[0]["error"] and rows[1]["error"] is None


def test_remote_python_may_be_a_command_with_arguments(ssh_config, tflite_models):
    target = resolve_target(ssh_config.url, options(f"env PYTHONDONTWRITEBYTECODE=1 {shlex.quote(sys.executable)}"))
    [row] = target.run([tflite_models["int8"]], FAST)
    assert row["error"] is None


def test_remote_python_under_the_device_users_home(ssh_config, tflite_models):
    python = ssh_config.remote_home / "venv bin" / "python"  # a space, to prove the rest stays quoted
    python.parent.mkdir(exist_ok=True)
    python.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} \"$@\"\n")
    python.chmod(0o755)
    target = resolve_target(ssh_config.url, options(f"'~/venv bin/python'"))
    [row] = target.run([tflite_models["int8"]], FAST)
    assert row["error"] is None


def _bench(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mobilekit", "bench", *args, *FAST], capture_output=True,
                          text=True, env=env)


def _error_lines(stderr: str) -> list[str]:
    """The CLI's own messages ("mobilekit bench: ..."), not progress or the table."""
    return [line for line in stderr.splitlines() if line.startswith("mobilekit")]


def test_cli_unreachable_host_exits_2_with_one_line(sshd, tflite_models):
    closed = sshd.port + 1 if sshd.port < 65535 else sshd.port - 1
    proc = _bench(str(tflite_models["f32"]), "--target", f"ssh://127.0.0.1:{closed}")
    assert proc.returncode == 2
    [line] = _error_lines(proc.stderr)
    assert "127.0.0.1" in line


def test_cli_wrong_remote_python_keeps_finished_rows(sshd, tflite_models, tmp_path):
    env = {**os.environ, "MOBILEKIT_SSH_CONFIG": str(sshd.client_config)}
    results = tmp_path / "results.jsonl"
    proc = _bench(str(tflite_models["f32"]), "--target", "local", "--target", f"ssh://{SSH_ALIAS}",
                  "--remote-python", "/nonexistent/python3", "--results", str(results), env=env)
    assert proc.returncode != 0
    [line] = _error_lines(proc.stderr)
    assert "--remote-python /nonexistent/python3" in line
    rows = [json.loads(row) for row in results.read_text().splitlines()]
    assert [(row["target"], row["error"]) for row in rows] == [("local", None)]
