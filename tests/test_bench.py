"""``mobilekit bench``: local target, error rows, rounds, JSONL as rows finish, interruption."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mobilekit.bench import schedule as bench
from mobilekit.runtime import stats
from mobilekit.errors import PartialFailure, UsageError
from mobilekit.bench.targets import Target, resolve_target, rows_from_output, runtime_files
from mobilekit.bench.targets.local import LocalTarget

FAST = {"runs": 3, "warmup": 0, "min_secs": 0.0}


def _cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "mobilekit", "bench", *map(str, args)],
                          capture_output=True, text=True, timeout=300, **kwargs)


def test_bad_models_get_error_rows_while_the_others_are_measured(tflite_models, tmp_path):
    results = tmp_path / "out" / "results.jsonl"
    models = [tflite_models[n] for n in ("f32", "custom", "corrupt", "int8")] + [tmp_path / "gone.tflite"]
    proc = _cli(*models, "--runs", 3, "--warmup", 0, "--min-secs", 0, "--results", results, "--json")
    assert proc.returncode == 1
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert rows == [json.loads(line) for line in results.read_text().splitlines()]
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"f32", "custom", "corrupt", "int8", "gone"}
    assert "Igamma" in by_name["custom"]["error"]
    assert "corrupt.tflite: not a valid TFLite model" in by_name["corrupt"]["error"]
    assert "no such file" in by_name["gone"]["error"]
    for name in ("f32", "int8"):
        row = by_name[name]
        assert row["error"] is None and row["round"] is None and row["runs"] >= 3
        assert row["target"] == "local" and row["emulated"] is False and row["model"] == str(tflite_models[name])
        assert list(row)[:5] == ["model", "name", "target", "emulated", "error"]
    assert "Igamma" in proc.stderr and "median" in proc.stderr  # progress and table


def test_nothing_measurable_is_one_line_exit_2(tmp_path):
    text = tmp_path / "notes.tflite"
    text.write_text("not a model")
    proc = _cli(text, tmp_path / "missing.tflite")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "notes.tflite: not a TFLite flatbuffer" in proc.stderr


@pytest.mark.parametrize("flags, flag", [(["--threads", "1,x"], "--threads"), (["--threads", "0"], "--threads"),
                                        (["--input-shape", "1,a"], "--input-shape"), (["--runs", "0"], "--runs"),
                                        (["--target", "telnet://pi"], "--target")])
def test_bad_flags_name_the_flag(tflite_models, flags, flag):
    proc = _cli(tflite_models["f32"], *flags)
    assert proc.returncode == 2 and flag in proc.stderr and proc.stderr.count("\n") == 1


def test_rounds_rows_then_aggregates(tflite_models, tmp_path):
    results = tmp_path / "r.jsonl"
    seen = []
    rows = bench.benchmark([tflite_models["f32"], tflite_models["int8"]], threads=(1, 2), rounds=3,
                           results=results, on_row=seen.append, **FAST)
    assert rows == seen == [json.loads(line) for line in results.read_text().splitlines()]
    rounds, aggregates = rows[:12], rows[12:]
    assert sorted(r["round"] for r in rounds) == [1] * 4 + [2] * 4 + [3] * 4
    assert [r["round"] for r in rounds] == sorted(r["round"] for r in rounds)  # rounds in order
    assert len(aggregates) == 4 and all(r["round"] is None and r["rounds"] == 3 for r in aggregates)
    for agg in aggregates:
        mine = [r for r in rounds if (r["name"], r["threads"]) == (agg["name"], agg["threads"])]
        assert agg["samples_ms"] == [s for r in mine for s in r["samples_ms"]]
        assert agg["round_medians_ms"] == [r["median_ms"] for r in mine]
        assert agg["output_sha256"] == mine[0]["output_sha256"]
        assert agg["median_ci95_ms"][0] <= agg["median_ms"] <= agg["median_ci95_ms"][1]


def test_bundle_dir_named_by_its_manifest(tflite_models, tmp_path):
    named, plain = tmp_path / "export" / "a", tmp_path / "export" / "plain_bundle"
    for folder in (named, plain):
        folder.mkdir(parents=True)
        shutil.copy(tflite_models["f32"], folder / "model.tflite")
    (named / "manifest.json").write_text(json.dumps({"name": "tiny-separable-fp32", "model_file": "model.tflite"}))
    rows = bench.benchmark([named, plain], **FAST)
    assert sorted(r["name"] for r in rows) == ["plain_bundle", "tiny-separable-fp32"]
    assert {r["model"] for r in rows} == {str(named), str(plain)}
    assert all(r["error"] is None for r in rows)


def test_interruption_keeps_finished_rows(tflite_models, tmp_path):
    results = tmp_path / "r.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "mobilekit", "bench", str(tflite_models["f32"]),
                             str(tflite_models["int8"]), "--rounds", "100", "--runs", "3", "--warmup", "0",
                             "--min-secs", "0", "--results", str(results)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and (not results.exists() or results.read_text().count("\n") < 3):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err
    rows = [json.loads(line) for line in results.read_text().splitlines()]  # every line whole
    assert 3 <= len(rows) < 200
    assert all(r["round"] is not None and r["error"] is None for r in rows)  # no aggregate yet


def test_runtime_crash_is_that_models_error_row(tflite_models, tmp_path, monkeypatch):
    """A segfault in the runner process (as a broken kernel would cause) spares the other models."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os, signal\n"
        "if b'crash' in open('/proc/self/cmdline', 'rb').read():\n"
        "    os.kill(os.getpid(), signal.SIGSEGV)\n")
    crash = tmp_path / "crash.tflite"
    shutil.copy(tflite_models["f32"], crash)
    monkeypatch.setenv("PYTHONPATH", str(hook))
    rows = LocalTarget().run([tflite_models["f32"], crash, tflite_models["int8"]], ["--runs", "2", "--min-secs", "0"])
    assert [r["error"] for r in rows][0] is None and rows[2]["error"] is None
    assert rows[1]["error"] == f"runtime crashed (signal {int(signal.SIGSEGV)}, SIGSEGV)"


def test_rows_from_output_pads_missing_models():
    out = json.dumps({"model": "a", "error": None}) + "\nnoise\n"
    rows = rows_from_output(3, out, -11)
    assert rows[0] == {"model": "a", "error": None}
    assert rows[1] == rows[2] == {"error": "runtime crashed (signal 11, SIGSEGV)"}
    assert rows_from_output(1, "", 127, "sh: 1: python3: not found\n") == [
        {"error": "runner exited with code 127: sh: 1: python3: not found"}]


class _SlowTarget(Target):
    """Records when it runs; stands in for targets on other hosts."""

    log: list = []
    delay = 0.3

    def __init__(self, spec, host):
        self.spec, self.host = spec, host

    def run(self, models, runner_args):
        start = time.monotonic()
        if self.delay:
            time.sleep(self.delay)
        self.log.append((self.spec, start, time.monotonic(), [m.name for m in models]))
        return [{"error": None, "samples_ms": [1.0], "median_ms": 1.0, "init_ms": 1.0, "first_ms": 1.0,
                 "peak_rss_mb": 1.0, "output_sha256": "x"} for _ in models]


def test_hosts_run_concurrently_same_host_sequentially(tflite_models, monkeypatch):
    hosts = {"ssh://pi-a": "pi-a", "adb:phone": "phone", "qemu-aarch64": "localhost", "local": "localhost"}
    monkeypatch.setattr(bench, "resolve_target", lambda spec, options: _SlowTarget(spec, hosts[spec]))
    _SlowTarget.log = []
    rows = bench.benchmark([tflite_models["f32"]], targets=list(hosts), **FAST)
    assert sorted(r["target"] for r in rows) == sorted(hosts)
    spans = {spec: (start, end) for spec, start, end, _ in _SlowTarget.log}
    overlaps = lambda a, b: spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]  # noqa: E731
    assert not overlaps("qemu-aarch64", "local")  # same machine: one after another
    assert overlaps("ssh://pi-a", "adb:phone")  # different hosts: at the same time


def test_rounds_shuffle_the_order_and_cool_down_between(tflite_models, monkeypatch):
    monkeypatch.setattr(bench, "resolve_target", lambda spec, options: _SlowTarget(spec, "here"))
    monkeypatch.setattr(_SlowTarget, "delay", 0.0)
    slept = []
    monkeypatch.setattr(bench.time, "sleep", slept.append)
    _SlowTarget.log = []
    models = [tflite_models[n] for n in ("f32", "int8", "split")]
    bench.benchmark(models, rounds=10, cooldown=2.5, **FAST)
    orders = [tuple(names) for *_, names in _SlowTarget.log]
    assert len(orders) == 10 and all(sorted(o) == ["f32.tflite", "int8.tflite", "split.tflite"] for o in orders)
    assert len(set(orders)) > 1  # 10 identical orders out of 6 possible: (1/6)^9
    assert slept == [2.5] * 9  # between rounds, not before the first


def test_failing_target_keeps_other_rows(tflite_models, monkeypatch):
    class Unreachable(_SlowTarget):
        def run(self, models, runner_args):
            raise UsageError("ssh://pi: host unreachable")

    monkeypatch.setattr(bench, "resolve_target",
                        lambda spec, options: Unreachable(spec, "pi") if spec == "ssh://pi" else LocalTarget())
    seen = []
    with pytest.raises(PartialFailure, match="host unreachable"):
        bench.benchmark([tflite_models["f32"]], targets=["ssh://pi", "local"], on_row=seen.append, **FAST)
    assert [r["target"] for r in seen] == ["local"] and seen[0]["error"] is None
    with pytest.raises(UsageError, match="host unreachable"):
        bench.benchmark([tflite_models["f32"]], targets=["ssh://pi"], **FAST)


def test_resolve_target_and_runtime_files():
    assert resolve_target("local").host == "localhost"
    with pytest.raises(UsageError, match="--target 'bogus'"):
        resolve_target("bogus")
    rel = [r for _, r in runtime_files()]
    assert "mobilekit/runtime/runner.py" in rel and "mobilekit/errors.py" in rel
    assert all(Path(p).is_file() for p, _ in runtime_files())
    assert not any("bench" in r or "keras" in r for r in rel)


def test_aggregate_keeps_target_warnings_and_recomputes_statistics():
    samples = [1.0] * 4
    stats_warning = stats.warnings_for(samples)
    assert any("only 4" in w for w in stats_warning)
    rounds = [{"name": "m", "target": "qemu-aarch64", "threads": 1, "error": None, "median_ms": 1.0,
               "init_ms": 5.0, "first_ms": 2.0, "peak_rss_mb": 50.0, "output_sha256": "x",
               "samples_ms": samples,
               "warnings": ["emulated: times are not latency", *stats_warning]}] * 2
    row = bench.aggregate(rounds)
    assert row["warnings"] == ["emulated: times are not latency"], "8 pooled runs: no 'only 4'"
    assert row["runs"] == 8


def test_aggregate_passes_through_rows_without_samples():
    """benchmark_model on adb reports summary numbers only: no pooled CI, but no crash either."""
    rounds = [{"name": "m", "target": "adb", "threads": 1, "error": None, "median_ms": m,
               "warnings": ["no per-run samples from benchmark_model"]} for m in (2.0, 3.0)]
    row = bench.aggregate(rounds)
    assert row["round"] is None and row["round_medians_ms"] == [2.0, 3.0]
    assert row["warnings"] == ["no per-run samples from benchmark_model"]
    assert "m" in bench.format_table([row]) and "[no samples]" in bench.format_table([row])
