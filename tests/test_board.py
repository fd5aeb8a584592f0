"""The Raspberry Pi path on an emulated ARM64 board: qemu-system-aarch64 booting Debian arm64 with
sshd, driven through ``--target ssh://`` exactly as a user drives a Pi (marker ``board``, slow;
the board comes from ``.ci/make_arm_board.sh``). Fast tests: how rows learn they are emulated,
and how the ssh target ends a run whose host went away (against the local test sshd)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from test_target_qemu import DUMP_OUTPUTS

from mobilekit.bench.targets import resolve_target
from mobilekit.runtime import runner

FAST = ["--runs", "3", "--warmup", "1", "--min-secs", "0"]
REPO = Path(__file__).resolve().parent.parent
BOARD = Path(os.environ.get("MOBILEKIT_ARM_BOARD", "/var/cache/mobilekit/arm64-board"))


def _mobilekit(*args: str, env=None, timeout=1800) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mobilekit", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def _cli_errors(stderr: str) -> list[str]:
    """The CLI's own messages ("mobilekit bench: ..."), not progress or the table."""
    return [line for line in stderr.splitlines() if line.startswith("mobilekit")]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- fast: the runner labels rows on an emulated device; bench keeps the label ---------------------

def test_runner_rows_say_emulated_only_where_the_marker_is(tflite_models, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "EMULATED_MARKER", tmp_path / "absent")
    runner.main([str(tflite_models["int8"]), *FAST])
    real = json.loads(capsys.readouterr().out)
    assert "emulated" not in real and not any("emulated" in w for w in real["warnings"])

    marker = tmp_path / "mobilekit-emulated"
    marker.write_text("qemu-system-aarch64 virt board, TCG\n")
    monkeypatch.setattr(runner, "EMULATED_MARKER", marker)
    runner.main([str(tflite_models["int8"]), str(tflite_models["corrupt"]), *FAST])
    good, bad = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert good["emulated"] is True and bad["emulated"] is True and bad["error"]
    assert "emulated device (qemu-system-aarch64 virt board, TCG): times are not latency" in good["warnings"]


# A device-side Python that runs the copied runner with its marker at MARKER: an "emulated
# device" reached through the local test sshd.
MARKED_PYTHON = """\
#!{python}
import os, sys
from pathlib import Path
if sys.argv[1:3] != ["-m", "mobilekit.runtime.runner"]:  # the target's check of the device
    os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
sys.path.insert(0, os.getcwd())  # the copied runner, as `python -m` would find it
from mobilekit.runtime import runner
runner.EMULATED_MARKER = Path({marker!r})
sys.exit(runner.main(sys.argv[3:]))
"""


def test_bench_rows_from_a_marked_ssh_device_are_emulated(sshd, tflite_models, tmp_path):
    marker = tmp_path / "mobilekit-emulated"
    marker.write_text("a test device\n")
    python = tmp_path / "marked_python"
    python.write_text(MARKED_PYTHON.format(python=sys.executable, marker=str(marker)))
    python.chmod(0o755)
    results = tmp_path / "results.jsonl"
    env = {**os.environ, "MOBILEKIT_SSH_CONFIG": str(sshd.client_config)}
    proc = _mobilekit("bench", str(tflite_models["int8"]), "--target", sshd.url, "--target", "local",
                      "--remote-python", str(python), "--results", str(results), *FAST, env=env)
    assert proc.returncode == 0, proc.stderr
    by_target = {row["target"]: row for row in _rows(results)}
    assert by_target[sshd.url]["emulated"] is True and by_target["local"]["emulated"] is False
    assert "emulated device (a test device): times are not latency" in by_target[sshd.url]["warnings"]
    [ssh_line] = [line for line in proc.stderr.splitlines() if line.startswith("int8") and sshd.url in line]
    assert "EMULATED: not latency" in ssh_line


# A device-side Python whose host "goes away" at its third start (the runtime check, the first
# model, then the second): it kills the sshd process serving its session, as a power cut would.
VANISHING_PYTHON = """\
#!{python}
import os, signal, sys
with open({count!r}, "a") as f:
    f.write("x")
if os.path.getsize({count!r}) == 3:
    pid = os.getppid()
    while not open(f"/proc/{{pid}}/comm").read().startswith("sshd"):
        pid = int(open(f"/proc/{{pid}}/stat").read().rsplit(")", 1)[1].split()[1])
    os.kill(pid, signal.SIGKILL)
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""


def test_a_host_that_goes_away_ends_the_run_and_keeps_finished_rows(sshd, tflite_models, tmp_path, monkeypatch):
    count = tmp_path / "starts"
    python = tmp_path / "vanishing_python"
    python.write_text(VANISHING_PYTHON.format(python=sys.executable, count=str(count)))
    python.chmod(0o755)
    monkeypatch.setenv("MOBILEKIT_SSH_CONFIG", str(sshd.client_config))
    target = resolve_target(sshd.url, argparse.Namespace(remote_python=str(python)))
    rows = target.run([tflite_models["int8"], tflite_models["f32"], tflite_models["int8"]], FAST)

    assert rows[0]["error"] is None
    for row in rows[1:]:
        assert row["error"].startswith("ssh host 127.0.0.1 went away: ")
    assert count.read_text() == "xxx"  # the third model was not tried on a host that was gone
    assert list(sshd.remote_tmp.iterdir()) == []  # sshd itself still runs here: cleaned up


# --- slow: the board ----------------------------------------------------------------------------

@dataclass
class Board:
    """One booted board: its ssh:// spec, the run directory of .ci/boot_arm_board.sh, qemu's pid."""

    spec: str
    run: Path
    pid: int
    broken: bool = False  # sshd stopped or powered off: the next test boots another

    @property
    def env(self) -> dict:
        return {**os.environ, "MOBILEKIT_SSH_CONFIG": str(self.run / "ssh_config")}

    @property
    def port(self) -> str:
        return self.spec.rsplit(":", 1)[1]

    def ssh(self, user: str, command: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["ssh", "-F", str(self.run / "ssh_config"), "-o", "BatchMode=yes",
                               "-p", self.port, f"{user}@127.0.0.1", command],
                              capture_output=True, text=True, **kwargs)

    def alive(self) -> bool:
        return Path(f"/proc/{self.pid}").exists()

    def power_off(self) -> None:
        """Pull the plug: qemu killed at once, nothing shuts down."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        while self.alive():
            time.sleep(0.1)
        self.broken = True


def _boot(run: Path) -> Board:
    proc = subprocess.run([str(REPO / ".ci/boot_arm_board.sh"), str(BOARD), str(run)],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"board did not boot: {proc.stderr.strip()}")
    return Board(spec=proc.stdout.strip(), run=run, pid=int((run / "qemu.pid").read_text()))


class _Boards:
    """The session's boards: one at a time, booted again only after a test broke the last."""

    def __init__(self, tmp_path_factory):
        self.factory = tmp_path_factory
        self.booted: list[Board] = []

    def current(self) -> Board:
        if not self.booted or self.booted[-1].broken:
            self.booted.append(_boot(self.factory.mktemp("board")))
        return self.booted[-1]


@pytest.fixture(scope="session")
def _boards(tmp_path_factory):
    if not (BOARD / ".mobilekit-arm-board").exists() or shutil.which("qemu-system-aarch64") is None:
        pytest.skip(f"no board at {BOARD} or no qemu-system-aarch64 (.ci/board.sh builds it)")
    boards = _Boards(tmp_path_factory)
    yield boards
    for board in boards.booted:
        board.power_off()


@pytest.fixture
def board(_boards) -> Board:
    return _boards.current()


@pytest.fixture(scope="module")
def compared(_boards, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """`mobilekit compare` of fp32 and int8 MobileNetV2 bundles on the board and locally."""
    board = _boards.current()
    out = tmp_path_factory.mktemp("compare")
    proc = _mobilekit("compare", "mobilenet_v2", "--alpha", "0.35", "--resolution", "96", "--classes", "10",
                      "--kinds", "separable", "--quant", "fp32,int8", "--rounds", "1", "--runs", "3",
                      "--target", board.spec, "--target", "local", "--out", str(out), env=board.env)
    return out, proc


def _board_outputs(board: Board, model: Path, tmp_path: Path) -> list[np.ndarray]:
    """The model's outputs on the board for DUMP_OUTPUTS' seeded input."""
    script = tmp_path / "dump_outputs.py"
    script.write_text(DUMP_OUTPUTS)
    directory = board.ssh("pi", "mktemp -d", check=True).stdout.strip()
    try:
        subprocess.run(["scp", "-q", "-F", str(board.run / "ssh_config"), "-P", board.port, str(script),
                        str(model), f"pi@127.0.0.1:{directory}/"], check=True, capture_output=True)
        proc = board.ssh("pi", f"cd {directory} && python3 dump_outputs.py {model.name}", check=True)
    finally:
        board.ssh("pi", f"rm -rf {directory}")
    return [np.array(output) for output in json.loads(proc.stdout)]


def _local_outputs(model: Path, tmp_path: Path) -> list[np.ndarray]:
    script = tmp_path / "dump_outputs.py"
    script.write_text(DUMP_OUTPUTS)
    proc = subprocess.run([sys.executable, str(script), str(model)], capture_output=True, text=True, check=True)
    return [np.array(output) for output in json.loads(proc.stdout)]


@pytest.mark.slow
@pytest.mark.board
def test_compare_on_the_board_labels_it_emulated(compared, board):
    out, proc = compared
    assert proc.returncode == 0, proc.stderr
    rows = [row for row in _rows(out / "results.jsonl") if row["round"] is None]
    board_rows = [row for row in rows if row["target"] == board.spec]
    assert len(board_rows) == 2 and all(row["error"] is None for row in board_rows)
    for row in board_rows:
        assert row["emulated"] is True and row["machine"] == "aarch64"
        assert "emulated device (qemu-system-aarch64 virt board, TCG): times are not latency" in row["warnings"]
    assert all(row["emulated"] is False for row in rows if row["target"] == "local")
    report = (out / "report.md").read_text()
    assert f"{board.spec} (emulated)" in report and "Targets marked (emulated) ran under qemu" in report
    assert "local (emulated)" not in report
    assert f"{board.spec} (emulated)" in proc.stderr  # the table printed at the end


@pytest.mark.slow
@pytest.mark.board
def test_bench_on_the_board_computes_what_this_machine_does(compared, board, tmp_path):
    out, _ = compared
    bundles = {quant: next(out.glob(f"mobilenet_v2-separable-{quant}-*")) for quant in ("fp32", "int8")}
    proc = _mobilekit("bench", str(bundles["fp32"]), str(bundles["int8"]), "--target", board.spec,
                      "--target", "local", "--json", *FAST, env=board.env)
    assert proc.returncode == 0, proc.stderr
    rows = {(row["target"], row["name"].split("-")[2]): row for row in map(json.loads, proc.stdout.splitlines())}
    for quant in ("fp32", "int8"):
        on_board, local = rows[(board.spec, quant)], rows[("local", quant)]
        assert on_board["machine"] == "aarch64" and on_board["emulated"] is True
        assert on_board["xnnpack_partitions"] == local["xnnpack_partitions"] >= 1
        assert on_board["ops_outside_xnnpack"] == local["ops_outside_xnnpack"]
    assert rows[(board.spec, "int8")]["output_sha256"] == rows[("local", "int8")]["output_sha256"]  # bit-exact
    assert sum("EMULATED: not latency" in line for line in proc.stderr.splitlines()) == 2
    # float32 on ARM NEON kernels need not match x86 to the bit: compared within the tolerance
    # the qemu-user tests use for MobileNets (1e-4 of the largest output)
    model = bundles["fp32"] / "model.tflite"
    for a, b in zip(_board_outputs(board, model, tmp_path), _local_outputs(model, tmp_path), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4 * np.abs(b).max())


@pytest.mark.slow
@pytest.mark.board
def test_a_changed_host_key_is_refused(board, compared, tmp_path):
    out, _ = compared
    config = tmp_path / "ssh_config"
    known = tmp_path / "known_hosts"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    known.write_text(f"[127.0.0.1]:{board.port} {(tmp_path / 'other.pub').read_text()}")
    config.write_text((board.run / "ssh_config").read_text().replace(str(board.run / "known_hosts"), str(known)))
    proc = _mobilekit("bench", str(next(out.glob("*-int8-*"))), "--target", board.spec, *FAST,
                      env={**board.env, "MOBILEKIT_SSH_CONFIG": str(config)})
    assert proc.returncode == 2
    [line] = _cli_errors(proc.stderr)
    assert f"ssh host 127.0.0.1 ({board.spec}): cannot connect: Host key verification failed." in line


def _bench_in_background(board: Board, out: Path, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """Two bundles at two thread counts: two runs on the board, one after the other; the bench
    process and its --results file."""
    bundles = sorted(out.glob("mobilenet_v2-*"))
    results = tmp_path / "results.jsonl"
    return subprocess.Popen([sys.executable, "-m", "mobilekit", "bench", *map(str, bundles), "--target", board.spec,
                             "--threads", "1,2", "--results", str(results), *FAST],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=board.env), results


def _second_model_started_here(board: Board) -> bool:
    """True once this machine runs the ssh that starts the runner on the board's second model."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes()
        except OSError:
            continue
        if b"mobilekit.runtime.runner models/1/" in text and f"Port={board.port}".encode() in text:
            return True
    return False


def _check_kept_rows_and_one_line(proc: subprocess.Popen, results: Path, board: Board) -> list[dict]:
    _, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 1, stderr  # partial failure: the first run's rows were measured
    [line] = _cli_errors(stderr)
    assert line.startswith(f"mobilekit bench: ssh host 127.0.0.1 ({board.spec}): cannot connect: ")
    assert line.endswith("(finished rows kept)")
    rows = _rows(results)
    assert len(rows) == 2 and rows[0]["threads"] == rows[1]["threads"]  # the first thread count only
    return rows


@pytest.mark.slow
@pytest.mark.board
def test_sshd_stopped_mid_run_keeps_finished_rows(board, compared, tmp_path):
    proc, results = _bench_in_background(board, compared[0], tmp_path)
    # on the board, as root (a Pi user's sudo): once the second model's runner runs, stop the
    # listening sshd; sessions already open go on (as `systemctl stop ssh` leaves them)
    stop = board.ssh("root", "until grep -qs 'models/[1]/' /proc/[0-9]*/cmdline; do sleep 0.5; done; "
                             "kill $(cat /run/sshd.pid)", timeout=900)
    board.broken = True
    assert stop.returncode == 0, stop.stderr
    rows = _check_kept_rows_and_one_line(proc, results, board)
    assert all(row["error"] is None and row["emulated"] is True for row in rows)


@pytest.mark.slow
@pytest.mark.board
def test_board_powered_off_mid_run_keeps_finished_rows(board, compared, tmp_path):
    proc, results = _bench_in_background(board, compared[0], tmp_path)
    deadline = time.monotonic() + 900
    while not _second_model_started_here(board) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # the second model is connecting or running
    board.power_off()
    first, second = _check_kept_rows_and_one_line(proc, results, board)
    assert first["error"] is None and first["emulated"] is True
    assert second["error"].startswith("ssh host 127.0.0.1 went away: ")
