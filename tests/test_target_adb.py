"""The adb target without a phone: a stand-in ``adb`` on PATH that logs its argv and plays a device
whose /data/local/tmp is a local folder and whose shell is this machine's ``sh``. The device's
``benchmark_model`` is a script that logs its argv and prints the tool's published output."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mobilekit.errors import UsageError
from mobilekit.bench.targets import resolve_target
from mobilekit.bench.targets.adb import NO_SAMPLES, AdbTarget
from mobilekit.bench.targets.local import LocalTarget

FAST = ["--threads", "2", "--runs", "7", "--warmup", "2", "--min-secs", "0.5"]
SERIAL = "R58M12ABCDE"

FAKE_ADB = """\
#!{python}
import json, os, shutil, subprocess, sys
argv = sys.argv[1:]
with open(os.environ["FAKE_ADB_LOG"], "a") as log:
    log.write(json.dumps(argv) + "\\n")
if argv[:1] == ["-s"]:
    if argv[1] != os.environ.get("FAKE_ADB_SERIAL"):
        sys.exit("adb: device '%s' not found" % argv[1])
    argv = argv[2:]
device = os.environ["FAKE_ADB_DEVICE"]  # plays /data/local/tmp
on_device = lambda text: text.replace("/data/local/tmp", device)
if argv == ["get-state"]:
    if os.environ.get("FAKE_ADB_OFFLINE"):
        sys.exit("error: no devices/emulators found")
    print("device")
elif argv[0] == "push":
    for source in argv[1:-1]:
        dest = os.path.join(on_device(argv[-1]), os.path.basename(source))
        (shutil.copytree if os.path.isdir(source) else shutil.copyfile)(source, dest)
elif argv[0] == "shell":
    proc = subprocess.run(["sh", "-c", on_device(" ".join(argv[1:]))], capture_output=True, text=True)
    sys.stdout.write(proc.stdout.replace(device, "/data/local/tmp"))
    sys.stderr.write(proc.stderr)
    sys.exit(proc.returncode)
else:
    sys.exit("fake adb: unknown command %r" % argv)
"""

FAKE_BENCHMARK_MODEL = """\
#!/bin/sh
echo "$@" >> "$FAKE_BM_LOG"
case "$*" in
  *corrupt*) echo "ERROR: Failed to load model" >&2; exit 1 ;;
esac
cat <<'EOF'
INFO: STARTING!
INFO: Num threads: [2]
INFO: count=2 first=64791 curr=57000 min=56000 max=64791 avg=60395.5 std=4395
INFO: count=50 first=58154 curr=53809 min=53077 max=60727 avg=55043.2 std=1562 p5=53100 median=54900 p95=58000
INFO: Inference timings in us: Init: 18777, First inference: 64791, Warmup (avg): 57758.2, Inference (avg): 55043.2
INFO: Memory footprint delta from the start of the tool (MB): init=8.97656 overall=18.7227
INFO: Overall peak memory footprint (MB) via periodic monitoring: 29.1836
EOF
"""

FAKE_TASKSET = """\
#!/bin/sh
echo "$1" >> "$FAKE_TASKSET_LOG"
shift
exec "$@"
"""


def options(**given) -> argparse.Namespace:
    values = {"remote_python": None, "arm_root": None, "benchmark_binary": None, "taskset": None}
    return argparse.Namespace(**{**values, **given})


def _script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def phone(tmp_path, monkeypatch):
    """The stand-in device; returns its folders and logs."""
    bin_dir, device = tmp_path / "bin", tmp_path / "device"
    bin_dir.mkdir()
    device.mkdir()
    _script(bin_dir / "adb", FAKE_ADB.format(python=sys.executable))
    _script(bin_dir / "taskset", FAKE_TASKSET)
    logs = {name: tmp_path / f"{name}.log" for name in ("adb", "bm", "taskset")}
    for log in logs.values():
        log.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ADB_LOG", str(logs["adb"]))
    monkeypatch.setenv("FAKE_BM_LOG", str(logs["bm"]))
    monkeypatch.setenv("FAKE_TASKSET_LOG", str(logs["taskset"]))
    monkeypatch.setenv("FAKE_ADB_DEVICE", str(device))
    monkeypatch.setenv("FAKE_ADB_SERIAL", SERIAL)
    binary = _script(tmp_path / "benchmark_model_arm64", FAKE_BENCHMARK_MODEL)
    return argparse.Namespace(device=device, binary=binary, **logs)


def adb_calls(phone) -> list[list[str]]:
    return [json.loads(line) for line in phone.adb.read_text().splitlines()]


def test_benchmark_binary_pushed_run_with_translated_flags_and_parsed(phone, tflite_models):
    target = resolve_target(f"adb:{SERIAL}", options(benchmark_binary=str(phone.binary), taskset="f0"))
    assert isinstance(target, AdbTarget) and target.host == f"adb:{SERIAL}" and not target.emulated
    rows = target.run([tflite_models["f32"], tflite_models["corrupt"], tflite_models["int8"]], FAST)

    calls = adb_calls(phone)
    assert all(call[:2] == ["-s", SERIAL] for call in calls)
    [push] = [call for call in calls if call[2] == "push"]
    assert [Path(p).name for p in push[3:-1]] == ["benchmark_model", "models"]
    assert push[-1].startswith("/data/local/tmp/mobilekit.")
    runs = phone.bm.read_text().splitlines()
    assert runs[0].split() == ["--graph=models/0/f32.tflite", "--num_threads=2", "--use_xnnpack=true",
                               "--num_runs=7", "--warmup_runs=2", "--warmup_min_secs=0",
                               "--min_secs=0.5", "--report_peak_memory_footprint=true"]
    assert runs[2].startswith("--graph=models/2/int8.tflite")
    assert phone.taskset.read_text().split() == ["f0"] * 3  # every run pinned to the big cores

    good = rows[0]
    assert good["error"] is None and rows[2]["error"] is None
    assert "benchmark_model printed no timings" in rows[1]["error"] and "Failed to load model" in rows[1]["error"]
    assert good["runs"] == 50 and good["threads"] == 2 and good["kernels"] == "xnnpack"
    assert good["median_ms"] == pytest.approx(54.9) and good["mean_ms"] == pytest.approx(55.0432)
    assert good["init_ms"] == pytest.approx(18.777) and good["first_ms"] == pytest.approx(64.791)
    assert good["peak_rss_mb"] == pytest.approx(29.1836)
    assert good["machine"] == os.uname().machine  # `uname -m` on the device
    assert "samples_ms" not in good and NO_SAMPLES in good["warnings"]
    assert list(phone.device.iterdir()) == []  # the device directory is removed


def test_builtin_kernels_turn_xnnpack_off(phone, tflite_models):
    target = resolve_target(f"adb:{SERIAL}", options(benchmark_binary=str(phone.binary)))
    [row] = target.run([tflite_models["f32"]], FAST + ["--kernels", "builtin"])
    assert "--use_xnnpack=false" in phone.bm.read_text().split()
    assert row["kernels"] == "builtin" and phone.taskset.read_text() == ""  # no --taskset: not pinned


def test_flags_benchmark_model_cannot_honour_are_warned_about(phone, tflite_models):
    target = resolve_target(f"adb:{SERIAL}", options(benchmark_binary=str(phone.binary)))
    [row] = target.run([tflite_models["f32"]], FAST + ["--input-shape", "1,16,16,3", "--api", "compiled"])
    assert any("--input-shape" in w for w in row["warnings"]) and any("--api compiled" in w for w in row["warnings"])


def test_phone_side_python_runner(phone, tflite_models):
    target = resolve_target(f"adb:{SERIAL}", options(remote_python=sys.executable, taskset="1"))
    rows = target.run([tflite_models["int8"], tflite_models["corrupt"]], FAST)
    [local] = LocalTarget().run([tflite_models["int8"]], FAST)
    assert rows[0]["error"] is None and rows[0]["output_sha256"] == local["output_sha256"]
    assert len(rows[0]["samples_ms"]) >= 7 and rows[0]["threads"] == 2
    assert rows[1]["error"]
    assert phone.taskset.read_text().split() == ["1", "1"]
    pushed = next(call for call in adb_calls(phone) if call[2] == "push")
    assert [Path(p).name for p in pushed[3:-1]] == ["mobilekit", "models"]
    assert list(phone.device.iterdir()) == []


def test_default_device_gets_no_serial(phone, tflite_models):
    target = resolve_target("adb", options(benchmark_binary=str(phone.binary)))
    assert target.host == "adb"
    [row] = target.run([tflite_models["f32"]], FAST)
    assert row["error"] is None and all(call[0] != "-s" for call in adb_calls(phone))


def test_missing_adb_is_a_usage_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UsageError, match="adb not found"):
        resolve_target("adb", options())


@pytest.mark.parametrize("serial, offline", [("OTHER123", False), (SERIAL, True)])
def test_absent_device_is_one_line_naming_it(phone, tflite_models, monkeypatch, serial, offline):
    if offline:
        monkeypatch.setenv("FAKE_ADB_OFFLINE", "1")
    with pytest.raises(UsageError, match=f"adb:{serial}") as error:
        resolve_target(f"adb:{serial}", options(benchmark_binary=str(phone.binary))).run([tflite_models["f32"]], FAST)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("given, message", [
    ({"benchmark_binary": "/nonexistent/benchmark_model"}, "--benchmark-binary"),
    ({"taskset": "big"}, "--taskset"),
])
def test_bad_flags_are_usage_errors(phone, given, message):
    with pytest.raises(UsageError, match=message):
        resolve_target("adb", options(**given))


def test_cli_without_adb_exits_2_naming_it(tflite_models, tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "mobilekit", "bench", str(tflite_models["f32"]), "--target", "adb"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert [line for line in proc.stderr.splitlines() if line.startswith("mobilekit")] == [
        "mobilekit bench: error: --target adb: adb not found on PATH (install Android platform-tools)"]
