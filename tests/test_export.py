"""export_bundle: converted with batch 1, verified against Keras, audited, written whole or not at all."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mobilekit.nets.config import BuilderConfig
from mobilekit.data import NORMALIZATION
from mobilekit.deploy.bundle import read_bundle
from mobilekit.deploy.export import export_bundle
from mobilekit.errors import PartialFailure, UsageError
from mobilekit.keras import keras, layers

RES, CLASSES = 24, 5
LABELS = [f"c{i}" for i in range(CLASSES)]


def tiny_model(seed: int = 0) -> keras.Model:
    """A conv / depthwise / pointwise / head stack: the op kinds a MobileNet is made of."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((RES, RES, 3))
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(inp)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(6.0)(x)
    x = layers.DepthwiseConv2D(3, padding="same")(x)
    x = layers.ReLU(6.0)(x)
    x = layers.Conv2D(16, 1)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, layers.Dense(CLASSES)(x), name="tiny")


def images(count: int = 32, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (count, RES, RES, 3)).astype(np.float32)


def export(model, out, **kw):
    kw.setdefault("quant", "fp32")
    kw.setdefault("verification", (images(), np.zeros(32, np.int64)))
    defaults = {"name": "tiny-" + kw["quant"], "labels": LABELS, "trained": False,
                "normalization": NORMALIZATION}
    return export_bundle(model, out, **{**defaults, **kw})


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def test_fp32_bundle_matches_keras_and_is_fully_delegated(model, tmp_path):
    manifest = export(model, tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["labels.txt", "manifest.json", "model.tflite"]
    assert read_bundle(tmp_path / "b") == manifest
    assert (tmp_path / "b" / "labels.txt").read_text().splitlines() == LABELS
    assert manifest["input"]["shape"] == [1, RES, RES, 3] and manifest["input"]["dtype"] == "float32"
    assert manifest["output"]["shape"] == [1, CLASSES] and manifest["output"]["semantics"] == "logits"
    check = manifest["verification"]
    assert check["samples"] == 32 and check["passed"]
    assert check["max_abs_diff"] <= 1e-4 * check["output_scale"]
    assert check["skipped"].startswith("untrained") and check["keras_accuracy"] is None
    assert manifest["delegation"]["xnnpack_fully_delegated"]
    assert manifest["delegation"]["ops_outside_xnnpack"] == []
    assert manifest["params"] == model.count_params()
    assert manifest["macs"] == 12 * 12 * 8 * 27 + 12 * 12 * 8 * 9 + 12 * 12 * 16 * 8 + 16 * CLASSES


@pytest.mark.parametrize("io", ["float", "int8", "uint8"])
def test_int8_is_full_integer_with_the_chosen_io(model, tmp_path, io):
    manifest = export(model, tmp_path / "b", quant="int8", io=io, calibration=images(64, seed=2))
    dtype = "float32" if io == "float" else io
    assert manifest["input"]["dtype"] == dtype and manifest["output"]["dtype"] == dtype
    assert (manifest["input"]["quantization"] is None) == (io == "float")
    # uint8 io adds uint8<->int8 requantize ops at both ends, which XNNPACK does not take
    outside = ["QUANTIZE", "QUANTIZE"] if io == "uint8" else []
    assert manifest["delegation"]["ops_outside_xnnpack"] == outside
    assert manifest["verification"]["max_abs_diff"] < 0.05 * manifest["verification"]["output_scale"]
    assert manifest["model_bytes"] == (tmp_path / "b" / "model.tflite").stat().st_size


def test_existing_bundle_is_replaced_only_when_asked(model, tmp_path):
    export(model, tmp_path / "b")
    with pytest.raises(UsageError, match="--force"):
        export(model, tmp_path / "b", quant="int8")
    assert read_bundle(tmp_path / "b")["quantization"] == "fp32"
    export(model, tmp_path / "b", quant="int8", replace=True)
    assert read_bundle(tmp_path / "b")["quantization"] == "int8"
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


def test_failed_verification_writes_no_bundle(model, tmp_path):
    with pytest.raises(PartialFailure, match="agreement"):
        export(model, tmp_path / "b", quant="int8", trained=True, min_agreement=1.01)
    assert list(tmp_path.iterdir()) == []


def test_fp32_diff_is_checked_even_for_untrained_weights(model, tmp_path):
    with pytest.raises(PartialFailure, match="diff"):
        export(model, tmp_path / "b", max_rel_diff=0.0 - 1e-12)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad, message", [
    ({"calibration": np.zeros((4, RES, RES + 1, 3), np.float32), "quant": "int8"}, "calibration"),
    ({"verification": (np.zeros((4, 8, 8, 3), np.float32), None)}, "verification"),
    ({"labels": LABELS[:-1]}, "labels"),
    ({"quant": "fp16", "io": "int8"}, "--io"),
])
def test_bad_input_is_one_usage_error_and_writes_nothing(model, tmp_path, bad, message):
    with pytest.raises(UsageError, match=message):
        export(model, tmp_path / "b", **bad)
    assert list(tmp_path.iterdir()) == []


KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {tests!r})
import mobilekit.deploy.bundle as bundle
from test_export import export, tiny_model
real = bundle.atomic_write_text
def dying_write(path, text):
    if path.name == "manifest.json":
        os.kill(os.getpid(), signal.SIGKILL)
    real(path, text)
bundle.atomic_write_text = dying_write
export(tiny_model(), {out!r}, quant="fp32", replace=True)  # fp32: int8 proves nothing more here
"""


def test_kill_during_export_leaves_the_old_bundle_or_nothing(model, tmp_path):
    out = tmp_path / "b"
    for existing in (False, True):
        if existing:
            export(model, out, quant="fp16")
        script = KILL_SCRIPT.format(tests=os.path.dirname(__file__), out=str(out))
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
        assert proc.returncode == -9, proc.stderr.decode()[-2000:]
        if existing:
            assert read_bundle(out)["quantization"] == "fp16", "the old bundle is untouched"
        else:
            assert not out.exists()
        assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == (["b"] if existing else [])


def test_manifest_is_json_with_numbers_as_numbers(model, tmp_path):
    export(model, tmp_path / "b", quant="int8", io="int8")
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert isinstance(manifest["input"]["quantization"]["scale"], float)
    assert isinstance(manifest["input"]["quantization"]["zero_point"], int)
    assert isinstance(manifest["verification"]["top1_agreement"], float)


def run_cli(*argv) -> int:
    from mobilekit.cli import main

    return main(["export", *argv])


def test_export_command_builder_name_force_and_json(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flags = ["mobilenet_v1", "--alpha", "0.25", "--resolution", "32", "--classes", "8",
             "--quant", "int8", "--samples", "16"]
    assert run_cli(*flags, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    bundle = tmp_path / "export" / "mobilenet_v1-separable-int8-a0.25-r32-c8"
    assert out["bundle"] == str(bundle.relative_to(tmp_path)) and read_bundle(bundle) == out["manifest"]
    assert out["manifest"]["builder"]["name"] == "mobilenet_v1" and not out["manifest"]["trained"]
    assert out["manifest"]["verification"]["samples"] == 16
    assert run_cli(*flags) == 2 and "--force" in capsys.readouterr().err
    assert run_cli(*flags, "--force") == 0


def test_export_command_reads_a_run_directory(model, tmp_path, capsys):
    run = tmp_path / "my_run"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "labels.txt").write_text("".join(f"{label}\n" for label in LABELS))
    (run / "run.json").write_text(json.dumps({"builder": None, "qat": False, "input": {
        "shape": [RES, RES, 3], "normalization": NORMALIZATION, "resize": "bilinear", "crop": "center"}}))
    assert run_cli(str(run), "--quant", "fp32", "--out", str(tmp_path / "b"), "--samples", "8") == 0
    manifest = read_bundle(tmp_path / "b")
    assert manifest["name"] == "my_run-fp32" and manifest["input"]["crop"] == "center"
    assert manifest["trained"] and manifest["verification"]["passed"]
    assert (tmp_path / "b" / "labels.txt").read_text().splitlines() == LABELS
    # a run that was not trained with QAT cannot be exported as qat-int8
    assert run_cli(str(run), "--quant", "qat-int8", "--out", str(tmp_path / "q")) == 2
    assert "QAT" in capsys.readouterr().err and not (tmp_path / "q").exists()


@pytest.mark.parametrize("argv, culprit", [
    (["no_such_thing", "--quant", "fp32"], "no_such_thing"),
    (["model.h5", "--quant", "fp32"], "model.h5"),
    (["notes.txt", "--quant", "fp32"], "notes.txt"),
    (["mobilenet_v2", "--quant", "fp32", "--alpha", "-1"], "--alpha"),
    (["mobilenet_v2", "--quant", "fp32", "--samples", "0"], "--samples"),
])
def test_export_command_bad_input_is_one_line_exit_2(tmp_path, capsys, monkeypatch, argv, culprit):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.h5").write_bytes(b"\x89HDF\r\n")
    (tmp_path / "notes.txt").write_text("not a model")
    assert run_cli(*argv) == 2
    err = capsys.readouterr().err.strip()
    assert culprit in err and len(err.splitlines()) == 1
    assert not (tmp_path / "export").exists()


@pytest.mark.parametrize("builder", ["mobilenet_v1", "mobilenet_v2"])
def test_builder_int8_exports_logits_fully_inside_xnnpack(builder, tmp_path):
    """XNNPACK has no int8 SOFTMAX: the softmax head is left out of the exported graph."""
    from mobilekit.nets import models

    model = models.build_model(BuilderConfig(builder, alpha=0.25, resolution=32, classes=CLASSES))
    assert model.layers[-1].get_config()["activation"] == "softmax"
    x = np.random.default_rng(0).uniform(-1, 1, (16, 32, 32, 3)).astype(np.float32)
    manifest = export(model, tmp_path / builder, quant="int8", verification=(x, None))
    assert manifest["output"]["semantics"] == "logits"
    assert manifest["delegation"]["xnnpack_fully_delegated"], manifest["delegation"]
