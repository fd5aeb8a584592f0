"""The device side runs without TensorFlow: runner and inspect need only numpy and ai-edge-litert."""

import json
import subprocess
import sys

from tflite_fixtures import no_tf_env


def _run(args, env):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=120)


def test_the_blocker_really_blocks_tensorflow(tmp_path):
    proc = _run(["-c", "import tf_keras"], no_tf_env(tmp_path))
    assert proc.returncode != 0 and "not available on this device" in proc.stderr
    proc = _run(["-c", "import tensorflow"], no_tf_env(tmp_path))
    assert proc.returncode != 0


def test_runner_measures_without_tensorflow(tflite_models, tmp_path):
    proc = _run(["-m", "mobilekit.runtime.runner", str(tflite_models["f32"]), str(tflite_models["int8"]),
                 "--runs", "3", "--min-secs", "0", "--warmup", "0"], no_tf_env(tmp_path))
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0, proc.stderr
    assert len(rows) == 2 and all(r["error"] is None and r["runs"] == 3 for r in rows)


def test_runner_compiled_api_without_tensorflow(tflite_models, tmp_path):
    proc = _run(["-m", "mobilekit.runtime.runner", str(tflite_models["int8"]), "--api", "compiled",
                 "--runs", "3", "--min-secs", "0"], no_tf_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["api"] == "compiled"


def test_inspect_without_tensorflow(tflite_models, tmp_path):
    proc = _run(["-m", "mobilekit", "inspect", str(tflite_models["f32"]), "--json"], no_tf_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["macs"] > 0 and [op["op"] for op in info["ops"]][0] == "CONV_2D"
