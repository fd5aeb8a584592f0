"""``mobilekit inspect``: the CONTRACTS JSON of a .tflite or a bundle directory."""

import json
import shutil
import subprocess
import sys

import pytest

from mobilekit.errors import UsageError
from mobilekit.runtime.inspect import describe


def test_int8_model_described(tflite_models):
    info = describe(tflite_models["int8"])
    assert info["file"] == str(tflite_models["int8"])
    assert info["size_bytes"] == tflite_models["int8"].stat().st_size
    assert info["macs"] == sum(op["macs"] for op in info["ops"]) > 0
    assert info["weights"] > 1000
    (inp,), (out,) = info["inputs"], info["outputs"]
    assert inp["shape"] == [1, 16, 16, 3] and inp["dtype"] == "int8"
    assert out["shape"] == [1, 5] and out["dtype"] == "int8"
    assert inp["quantization"]["scale"] == pytest.approx(2 / 255, rel=1e-3)  # calibrated on [-1, 1]
    assert isinstance(inp["quantization"]["zero_point"], int)
    assert [op["index"] for op in info["ops"]] == list(range(len(info["ops"])))
    assert all(op["xnnpack"] for op in info["ops"])
    assert info["xnnpack_partitions"] == 1 and info["ops_outside_xnnpack"] == []


def test_float_model_has_no_quantization(tflite_models):
    info = describe(tflite_models["f32"])
    assert info["inputs"][0]["dtype"] == "float32" and info["inputs"][0]["quantization"] is None


def test_bundle_directory_is_accepted(tflite_models, tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    shutil.copy(tflite_models["split"], bundle / "model.tflite")
    (bundle / "manifest.json").write_text(json.dumps({"name": "x", "model_file": "model.tflite"}))
    info = describe(bundle)
    assert info["file"] == str(bundle / "model.tflite")
    assert info["ops_outside_xnnpack"] == ["CUMSUM"] and info["xnnpack_partitions"] == 2


def test_directory_without_model_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not a bundle"):
        describe(tmp_path)


def test_cli_json_and_exit_codes(tflite_models, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mobilekit", "inspect", str(tflite_models["custom"]), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    info = json.loads(proc.stdout)
    assert info["ops"][-1] == {**info["ops"][-1], "op": "Igamma", "xnnpack": False}
    assert "Igamma" in info["error"]
    assert "Igamma" in proc.stderr  # the human table
    bad = tmp_path / "notes.tflite"
    bad.write_text("hello")
    proc = subprocess.run([sys.executable, "-m", "mobilekit", "inspect", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith("notes.tflite: not a TFLite flatbuffer (no TFL3 identifier)")
