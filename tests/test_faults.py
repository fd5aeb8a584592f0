"""Faults mid-run: children that crash, hang or run out of memory, kill -9 and two writers at once,
and a device that refuses, drops or freezes. Nothing crashes the caller, nothing is half-written,
finished rows stay on disk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import running_sshd
from tflite_fixtures import tflite_models  # noqa: F401 (fixture)

import mobilekit.bench.targets
from mobilekit.bench import schedule
from mobilekit.bench.schedule import append_line
from mobilekit.bench.targets import TargetOptions, ssh
from mobilekit.bench.targets.local import LocalTarget
from mobilekit.deploy.bundle import read_bundle
from mobilekit.errors import PartialFailure, UsageError
from mobilekit.runtime import isolate, runner

DATA = Path(__file__).parent / "data"
FAST = ["--runs", "2", "--warmup", "0", "--min-secs", "0"]
ROOT = Path(__file__).resolve().parent.parent


def _rows(path: Path, torn_tail: bool = False) -> list[dict]:
    """Every line of a results file, each of which must be a whole JSON row; with ``torn_tail``
    an unterminated last line (a writer killed in the middle of it: not a finished row) is left out."""
    text = path.read_text("utf-8")
    if torn_tail and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
    return [json.loads(line) for line in text.splitlines()]


# --- children that crash, hang or run out of memory ---------------------------------------------

def test_isolated_call_turns_child_deaths_into_one_line():
    with pytest.raises(isolate.ChildFailed, match=r"^m.tflite: runtime crashed \(signal 6, SIGABRT\)$"):
        isolate.call("os:abort", what="m.tflite")
    with pytest.raises(isolate.ChildFailed, match=r"^m.tflite: no result within 1 s"):
        isolate.call("time:sleep", 60, what="m.tflite", time_limit=1)
    with pytest.raises(isolate.ChildFailed, match=r"^m.tflite: out of memory \(over the 600 MB memory limit\)$"):
        isolate.call("os:urandom", 2**30, what="m.tflite", memory_mb=600)
    with pytest.raises(UsageError, match="gone.tflite: no such file"):
        isolate.call("mobilekit.runtime.graph:check_tflite", "gone.tflite", what="gone.tflite")
    assert isolate.call("os.path:join", "a", "b", what="-") == "a/b"


HANG_IN_INVOKE = ("import time\nfrom ai_edge_litert import interpreter\n"
                  "interpreter.Interpreter.invoke = lambda self: time.sleep(600)")


def _hang_model(tmp_path: Path, monkeypatch, model: Path, code: str = HANG_IN_INVOKE) -> Path:
    """A copy of ``model`` whose runner runs ``code`` first (a sitecustomize on PYTHONPATH that acts
    when its command line names the copy); by default LiteRT's invoke then never returns."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text("if b'hang.tflite' in open('/proc/self/cmdline', 'rb').read():\n"
                                          + "".join(f"    {line}\n" for line in code.splitlines()))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]))
    return Path(shutil.copy(model, tmp_path / "hang.tflite"))


def test_hanging_model_is_stopped_at_the_time_limit(tflite_models, tmp_path, monkeypatch):
    hang = _hang_model(tmp_path, monkeypatch, tflite_models["f32"])
    start = time.monotonic()
    rows = LocalTarget().run([tflite_models["f32"], hang, tflite_models["int8"]], [*FAST, "--time-limit", "3"])
    assert rows[1] == {"error": "stopped at the time limit (--time-limit)"}
    assert rows[0]["error"] is None and rows[2]["error"] is None
    assert time.monotonic() - start < 60


def test_runner_ignoring_its_alarm_is_stopped_by_the_caller(tflite_models, tmp_path, monkeypatch):
    monkeypatch.setattr(mobilekit.bench.targets, "GRACE_S", 2.0)
    hang = _hang_model(tmp_path, monkeypatch, tflite_models["f32"],
                       f"import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n{HANG_IN_INVOKE}")
    [row] = LocalTarget().run([hang], [*FAST, "--time-limit", "1"])
    assert row == {"error": "no result within 3 s: stopped (raise --time-limit)"}


def _with_input_dims(path: Path, dims: list[int]) -> bytes:
    """The model with its first input's shape vector overwritten (same rank)."""
    from ai_edge_litert import schema_py_generated as schema

    data = bytearray(path.read_bytes())
    graph = schema.Model.GetRootAs(data, 0).Subgraphs(0)
    tensor = graph.Tensors(graph.Inputs(0))
    start = tensor._tab.Vector(tensor._tab.Offset(4))
    data[start:start + 4 * len(dims)] = b"".join(d.to_bytes(4, "little", signed=True) for d in dims)
    return bytes(data)


def test_inputs_that_cannot_run_safely_are_refused_before_allocation(tflite_models, tmp_path):
    dynamic = DATA / "foreign_dynamic.tflite"
    with pytest.raises(UsageError, match=r"input 'image' has dynamic dimensions \[1, -1, -1, 3\]: give its shape"):
        runner.measure(dynamic, runs=1, min_secs=0)
    assert runner.measure(dynamic, runs=1, min_secs=0, input_shape=[1, 8, 8, 3])["error"] is None
    with pytest.raises(UsageError, match=r"needs 768 MB, over half the memory limit of 1000 MB \(--memory-limit\)"):
        runner.measure(dynamic, runs=1, min_secs=0, input_shape=[1, 8192, 8192, 3], memory_mb=1000)
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(_with_input_dims(DATA / "foreign_mixer.tflite", [1, 0, 16, 3]))
    with pytest.raises(UsageError, match=r"empty.tflite: input 'pixels' has a zero dimension \[1, 0, 16, 3\]"):
        runner.measure(empty, runs=1, min_secs=0)
    assert runner.measure(tflite_models["two_inputs"], runs=1, min_secs=0)["error"] is None  # batch -1 runs as 1


def test_memory_limit_is_a_clear_row():
    proc = subprocess.run([sys.executable, "-m", "mobilekit.runtime.runner", str(DATA / "foreign_dynamic.tflite"),
                           *FAST, "--input-shape", "1,4096,4096,3", "--memory-limit", "400"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    [row] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 1 and "of the --memory-limit of 400 MB" in row["error"]


# --- kill -9 and two writers at once -------------------------------------------------------------

RACE = """
import random, sys, time
from pathlib import Path
from mobilekit.fsutil import staged_dir
final, who, replace, start = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1", float(sys.argv[4])
time.sleep(max(0.0, start - time.time()))
try:
    with staged_dir(final, replace=replace) as tmp:
        for name in ("model.tflite", "labels.txt", "manifest.json"):
            (tmp / name).write_text(who)
            time.sleep(random.random() * 0.05)
    print("won")
except FileExistsError:
    print("refused")
"""


@pytest.mark.parametrize("replace", [False, True])
def test_writers_racing_for_one_directory_leave_one_whole_result(tmp_path, replace):
    final, start = tmp_path / "bundle", time.time() + 3
    procs = [subprocess.Popen([sys.executable, "-c", RACE, str(final), f"w{i}", str(int(replace)), str(start)],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT) for i in range(4)]
    outcomes = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outcomes.count("won") == (4 if replace else 1) and outcomes.count("refused") == 4 - outcomes.count("won")
    writers = {(final / name).read_text() for name in ("model.tflite", "labels.txt", "manifest.json")}
    assert len(writers) == 1, "the three files come from one writer"
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"], "no temp or old directories left"


@pytest.mark.slow
def test_two_cli_exports_to_one_path_one_wins_the_other_is_refused(tmp_path):
    out = tmp_path / "b"
    argv = [sys.executable, "-m", "mobilekit", "export", "mobilenet_v1", "--alpha", "0.25", "--resolution", "32",
            "--classes", "4", "--quant", "fp32", "--samples", "8", "--out", str(out)]
    procs = [subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True) for _ in range(2)]
    results = [(p.wait(timeout=900), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in results) == [0, 2]
    [refusal] = [err for code, err in results if code == 2]
    assert "already exists (use --force to replace it)" in refusal
    assert read_bundle(out)["quantization"] == "fp32"
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


def _bench_cli(*args) -> list[str]:
    return [sys.executable, "-m", "mobilekit", "bench", *map(str, args)]


def test_kill_9_during_bench_keeps_whole_rows_and_a_rerun_appends(tflite_models, tmp_path):
    results = tmp_path / "r.jsonl"
    models = [tflite_models["f32"], tflite_models["int8"]]
    proc = subprocess.Popen(_bench_cli(*models, "--rounds", "100", "--runs", "2000", "--warmup", "0",
                                       "--min-secs", "0", "--results", results), stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not results.exists() or results.read_text().count("\n") < 3):
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    finished = _rows(results, torn_tail=True)
    assert len(finished) >= 3 and all(r["round"] and r["runs"] >= 2000 for r in finished)
    with results.open("a") as f:  # what a kill in the middle of writing a long row leaves
        f.write(json.dumps(finished[0])[:5000])
    rerun = subprocess.run(_bench_cli(*models, *FAST, "--results", results), capture_output=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    rows = _rows(results)
    assert rows[:len(finished)] == finished and len(rows) == len(finished) + 2
    assert [r["round"] for r in rows[len(finished):]] == [None, None]


def test_two_benches_appending_to_one_file_leave_whole_rows(tflite_models, tmp_path):
    results = tmp_path / "r.jsonl"
    procs = [subprocess.Popen(_bench_cli(tflite_models[name], "--rounds", "4", "--runs", "3000", "--warmup", "0",
                                         "--min-secs", "0", "--results", results), stderr=subprocess.DEVNULL)
             for name in ("f32", "int8")]
    assert [p.wait(timeout=600) for p in procs] == [0, 0]
    rows = _rows(results)
    assert sorted((r["name"], r["round"] or 0) for r in rows) == sorted(
        (name, k) for name in ("f32", "int8") for k in range(5))
    assert len(results.read_bytes()) > 4 * 8 * 3000, "rows long enough to need more than one pipe-sized write"


def test_append_line_cuts_a_torn_last_line_first(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\n{"b": ')
    append_line(path, '{"c": 3}')
    assert path.read_text() == '{"a": 1}\n{"c": 3}\n'
    path.write_text('{"torn')
    append_line(path, '{"d": 4}')
    assert path.read_text() == '{"d": 4}\n'


# --- a device that refuses, drops or freezes ----------------------------------------------------

def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (processes this test started)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo += children.get(found[-1], [])
    return found


def _signal_tree(pid: int, sig: int) -> None:
    for p in _tree(pid):
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def _signal_when_running(pid: int, sig: int) -> None:
    """Send ``sig`` to the tree of ``pid`` once a runner process is part of it (for 30 s at most)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for p in _tree(pid):
            try:
                if b"mobilekit.runtime.runner" in Path(f"/proc/{p}/cmdline").read_bytes():
                    _signal_tree(pid, sig)
                    return
            except OSError:
                continue
        time.sleep(0.05)


@pytest.fixture
def quick_ssh(monkeypatch):
    """ssh options that give up in seconds, not minutes."""
    monkeypatch.setattr(ssh, "BATCH_OPTIONS", ["-o", "BatchMode=yes", "-o", "ConnectTimeout=2",
                                               "-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2"])


def test_port_that_accepts_and_never_answers_is_one_line(tflite_models, quick_ssh):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(UsageError, match=f"ssh host 127.0.0.1 .*:{port}.*cannot connect") as error:
            schedule.benchmark([tflite_models["f32"]], targets=[f"ssh://127.0.0.1:{port}"], runs=1, min_secs=0)
    assert "\n" not in str(error.value) and time.monotonic() - start < 30


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["drop", "freeze"])
def test_host_lost_mid_run_keeps_finished_rows(tflite_models, tmp_path, monkeypatch, quick_ssh, fault):
    (tmp_path / "sshd").mkdir()
    with running_sshd(tmp_path / "sshd") as server:
        monkeypatch.setenv("MOBILEKIT_SSH_CONFIG", str(server.client_config))
        results = tmp_path / "r.jsonl"

        def strike(row):  # once round 1 is on disk, the host fails while round 2's runner runs
            if row["round"] == 1 and len(_rows(results)) == 2:
                sig = signal.SIGKILL if fault == "drop" else signal.SIGSTOP
                threading.Thread(target=_signal_when_running, args=(server.pid, sig), daemon=True).start()

        options = TargetOptions(remote_python=sys.executable)
        start = time.monotonic()
        try:
            with pytest.raises(PartialFailure, match=r"ssh host 127.0.0.1 .*\(finished rows kept\)$") as error:
                schedule.benchmark([tflite_models["f32"], tflite_models["int8"]], targets=[server.url], rounds=3,
                                runs=2, warmup=0, min_secs=2.0, results=results, options=options, on_row=strike)
        finally:
            _signal_tree(server.pid, signal.SIGCONT)
    assert "\n" not in str(error.value) and time.monotonic() - start < 120
    rows = _rows(results)
    assert [(r["round"], r["error"]) for r in rows[:2]] == [(1, None), (1, None)]
    lost = [r["error"] for r in rows if r["round"] == 2]
    assert len(lost) == 2 and all("ssh host 127.0.0.1 went away: " in e for e in lost), "round 2 was cut: its rows say so"
