"""The device runner: deterministic inputs, timing until both limits, rows for every model."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from mobilekit.runtime import runner
from tflite_fixtures import RES

FAST = {"runs": 5, "warmup": 1, "min_secs": 0.0}
TIMING_FIELDS = ("init_ms", "first_ms", "median_ms", "mean_ms", "std_ms", "min_ms", "max_ms",
                 "p5_ms", "p90_ms", "p95_ms")


def test_row_has_the_contract_fields(tflite_models):
    row = runner.measure(tflite_models["f32"], **FAST)
    for field in TIMING_FIELDS + ("peak_rss_mb",):
        assert isinstance(row[field], float) and row[field] >= 0, field
    assert row["error"] is None
    assert row["runs"] == len(row["samples_ms"]) == 5
    assert row["warmup_runs"] == 1 and row["threads"] == 1 and row["kernels"] == "xnnpack"
    assert row["min_ms"] <= row["median_ci95_ms"][0] <= row["median_ms"] <= row["median_ci95_ms"][1] <= row["max_ms"]
    assert row["runtime"].startswith("ai-edge-litert 2.")
    assert row["machine"] and row["ops_total"] == 6
    assert row["xnnpack_partitions"] == 1 and row["ops_outside_xnnpack"] == []
    assert len(row["output_sha256"]) == 64 and isinstance(row["warnings"], list)
    assert row["peak_rss_mb"] > 10  # the interpreter alone is tens of MB


def test_runs_until_min_secs_even_past_runs(tflite_models):
    start = time.perf_counter()
    row = runner.measure(tflite_models["f32"], runs=3, warmup=0, min_secs=0.3, max_runs=10**7)
    assert time.perf_counter() - start >= 0.3
    assert row["runs"] > 3  # a tiny model runs far more than 3 times in 0.3 s


def test_max_runs_caps_min_secs(tflite_models):
    row = runner.measure(tflite_models["f32"], runs=3, warmup=0, min_secs=30, max_runs=20)
    assert row["runs"] == 20


@pytest.mark.parametrize("name", ["f32", "int8", "two_inputs"])
def test_output_digest_depends_on_seed_only(tflite_models, name):
    a = runner.measure(tflite_models[name], input_seed=1, **FAST)["output_sha256"]
    b = runner.measure(tflite_models[name], input_seed=1, threads=2, **FAST)["output_sha256"]
    c = runner.measure(tflite_models[name], input_seed=2, **FAST)["output_sha256"]
    assert a == b != c


def test_compiled_api_gives_the_same_outputs(tflite_models):
    for name in ("f32", "int8"):
        interp = runner.measure(tflite_models[name], api="interpreter", **FAST)
        compiled = runner.measure(tflite_models[name], api="compiled", **FAST)
        assert compiled["api"] == "compiled" and compiled["runs"] == 5
        assert compiled["output_sha256"] == interp["output_sha256"]
        assert compiled["xnnpack_partitions"] == 1
    batch2 = [runner.measure(tflite_models["f32"], api=api, input_shape=[2, RES, RES, 3], **FAST)
              for api in ("interpreter", "compiled")]
    assert batch2[0]["output_sha256"] == batch2[1]["output_sha256"] != interp["output_sha256"]


def test_builtin_kernels_leave_every_op_outside_xnnpack(tflite_models):
    row = runner.measure(tflite_models["split"], kernels="builtin", **FAST)
    assert row["kernels"] == "builtin" and row["xnnpack_partitions"] == 0
    assert row["ops_outside_xnnpack"] == ["CONV_2D", "CUMSUM", "CONV_2D"]
    assert runner.measure(tflite_models["split"], **FAST)["ops_outside_xnnpack"] == ["CUMSUM"]


def test_make_input_covers_dtypes_deterministically():
    for dtype in (np.float32, np.float16, np.int8, np.uint8, np.int16, np.int32, np.int64, np.bool_):
        a = runner.make_input([2, 3], dtype, np.random.default_rng(0))
        b = runner.make_input([2, 3], dtype, np.random.default_rng(0))
        assert a.dtype == dtype and a.shape == (2, 3) and np.array_equal(a, b)
    floats = runner.make_input([1000], np.float32, np.random.default_rng(0))
    assert floats.min() >= -1 and floats.max() <= 1
    assert runner.make_input([1000], np.int8, np.random.default_rng(0)).min() < -100


def test_input_shape_override(tflite_models):
    row = runner.measure(tflite_models["two_inputs"], input_shape=[1, 4], **FAST)
    assert row["error"] is None
    with pytest.raises(Exception):
        runner.measure(tflite_models["two_inputs"], input_shape=[1, 9], **FAST)


def test_cli_prints_a_row_per_model_and_error_rows(tflite_models, tmp_path):
    missing = tmp_path / "missing.tflite"
    models = [tflite_models["f32"], tflite_models["custom"], tflite_models["corrupt"], missing,
              tflite_models["int8"]]
    proc = subprocess.run([sys.executable, "-m", "mobilekit.runtime.runner", *map(str, models),
                           "--runs", "3", "--warmup", "0", "--min-secs", "0"],
                          capture_output=True, text=True, timeout=120)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 1
    assert [r["model"] for r in rows] == [str(m) for m in models]
    assert [r["error"] is None for r in rows] == [True, False, False, False, True]
    assert "Igamma" in rows[1]["error"]
    assert "not a valid TFLite model" in rows[2]["error"]
    assert "no such file" in rows[3]["error"]
    assert all("\n" not in r["error"] for r in rows[1:4])


def test_cli_rejects_bad_shape():
    proc = subprocess.run([sys.executable, "-m", "mobilekit.runtime.runner", "x.tflite",
                           "--input-shape", "1,a,3"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--input-shape" in proc.stderr
