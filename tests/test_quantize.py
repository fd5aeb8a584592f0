"""Quantization modes on a briefly trained builder: each converts, runs, and keeps the answers."""

import numpy as np
import pytest

from mobilekit.nets.config import BuilderConfig
from mobilekit.data import EMBEDDED_LABELS, NORMALIZATION, normalize
from mobilekit.deploy.bundle import read_bundle
from mobilekit.deploy.export import export_bundle
from mobilekit.deploy.quantize import check_io
from mobilekit.errors import UsageError
from mobilekit.keras import keras
from mobilekit.nets.models import build_model, calibrate_batch_norm

RES = 32
CONFIG = {"alpha": 0.35, "resolution": RES, "classes": len(EMBEDDED_LABELS)}


def easy_arrays(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A task a tiny MobileNet learns in seconds (a bright square whose place is the class).

    The embedded data is made hard on purpose; at 32 px a few epochs stay near chance, and a
    model at chance makes agreement checks meaningless.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(EMBEDDED_LABELS), count)
    images = rng.integers(0, 90, (count, RES, RES, 3)).astype(np.uint8)
    side = RES // 4
    for image, k in zip(images, labels):
        x0, y0 = (k % 4) * side, (k // 4) * (RES // 2) + rng.integers(0, side)
        image[y0:y0 + side, x0:x0 + side] = 230
    return images, labels


def fit(model: keras.Model, epochs: int, count: int = 1500) -> keras.Model:
    """Brief training; BN momentum 0.9 so the moving statistics keep up with so few steps."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    images, labels = easy_arrays(count, seed=0)
    model.compile(keras.optimizers.Adam(2e-3), "sparse_categorical_crossentropy")
    model.fit(normalize(images), labels, epochs=epochs, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    return fit(build_model(BuilderConfig("mobilenet_v2", **CONFIG)), epochs=4)


@pytest.fixture(scope="module")
def data():
    images, labels = easy_arrays(256, seed=1)
    calibration, _ = easy_arrays(64, seed=2)
    return normalize(calibration), (normalize(images), labels)


@pytest.fixture(scope="module")
def fp32_bytes(trained, data, tmp_path_factory):
    return export(trained, tmp_path_factory.mktemp("fp32") / "b", "fp32", data)["model_bytes"]


def export(model, out, quant, data, **kw):
    calibration, verification = data
    return export_bundle(model, out, quant=quant, name=f"m-{quant}", labels=EMBEDDED_LABELS,
                         builder=BuilderConfig("mobilenet_v2", **CONFIG), trained=True,
                         normalization=NORMALIZATION, calibration=calibration,
                         verification=verification, **kw)


def test_trained_int8_keeps_top1_and_accuracy(trained, data, tmp_path):
    manifest = export(trained, tmp_path / "b", "int8", data)
    check = manifest["verification"]
    assert check["passed"] and check["skipped"] is None and check["samples"] == 256
    assert check["keras_accuracy"] > 0.8, "the model must have learnt the task for the check to mean anything"
    assert check["top1_agreement"] >= 0.98
    assert abs(check["tflite_accuracy"] - check["keras_accuracy"]) <= 0.03
    assert manifest["output"]["semantics"] == "logits", "the softmax head is left out of the graph"


@pytest.mark.parametrize("quant, max_size_ratio, max_rel_diff", [
    ("fp16", 0.55, 0.01), ("dynamic", 0.4, 0.1), ("int16x8", 0.5, 0.25)])
def test_other_post_training_modes(trained, data, fp32_bytes, tmp_path, quant, max_size_ratio, max_rel_diff):
    manifest = export(trained, tmp_path / quant, quant, data)
    assert read_bundle(tmp_path / quant) == manifest
    assert manifest["model_bytes"] <= max_size_ratio * fp32_bytes
    assert manifest["input"]["dtype"] == "float32" and manifest["input"]["quantization"] is None
    check = manifest["verification"]
    assert check["top1_agreement"] >= 0.98
    assert check["max_abs_diff"] < max_rel_diff * check["output_scale"]


def test_qat_model_exports_full_integer(trained, data, tmp_path):
    from mobilekit.train.qat import quantize_aware

    qat = quantize_aware(trained)
    qat.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy")
    images, labels = easy_arrays(256, seed=3)
    qat.fit(normalize(images), labels, epochs=1, batch_size=64, verbose=0)
    manifest = export(qat, tmp_path / "b", "qat-int8", data, io="int8")
    check = manifest["verification"]
    assert check["reference"] == "keras-qat" and check["passed"]
    assert check["top1_agreement"] >= 0.98
    assert manifest["input"]["dtype"] == "int8" and manifest["output"]["dtype"] == "int8"


@pytest.mark.parametrize("quant, io", [("fp32", "int8"), ("dynamic", "uint8"), ("int16x8", "int8"),
                                       ("int4", "float"), ("int8", "int32")])
def test_impossible_mode_and_io_pairs_are_usage_errors(quant, io):
    with pytest.raises(UsageError):
        check_io(quant, io)


@pytest.mark.slow
@pytest.mark.matrix
@pytest.mark.parametrize("builder", ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"])
@pytest.mark.parametrize("quant", ["fp32", "fp16", "dynamic", "int8", "int16x8", "qat-int8"])
def test_full_matrix_every_builder_every_mode(builder, quant, data, tmp_path):
    """Fresh weights (numerics only; batch-norm statistics from data, as `mobilekit export
    BUILDER` does) for every builder and mode; the bundle validates."""
    from mobilekit.train.qat import quantize_aware

    calibration, (images, _) = data
    model = calibrate_batch_norm(build_model(BuilderConfig(builder, **CONFIG)), calibration)
    model = quantize_aware(model) if quant == "qat-int8" else model
    manifest = export_bundle(model, tmp_path / "b", quant=quant, name=f"{builder}-{quant}",
                             labels=EMBEDDED_LABELS, builder=BuilderConfig(builder, **CONFIG),
                             trained=False, normalization=NORMALIZATION, calibration=calibration,
                             verification=(images, None))
    assert read_bundle(tmp_path / "b") == manifest
    assert manifest["verification"]["skipped"]
    if quant in ("fp32", "int8"):
        assert manifest["delegation"]["xnnpack_fully_delegated"], manifest["delegation"]
