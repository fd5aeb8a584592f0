"""predict: the manifest's preprocessing, exactly, and the Keras model's answers."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from mobilekit.cli import main
from mobilekit.data import embedded_arrays, normalize
from mobilekit.deploy.predict import Classifier, preprocess, quantize_input, round_half_away
from mobilekit.errors import UsageError
from test_export import CLASSES, RES, export, tiny_model

SPEC = {"shape": [1, 4, 4, 3], "resize": "bilinear", "crop": "none",
        "normalization": {"mean": [100.0, 50.0, 0.0], "std": [2.0, 5.0, 10.0]}}


def test_round_half_away_from_zero_unlike_numpy():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49])
    assert round_half_away(x).tolist() == [-3, -2, -1, 1, 2, 3, 0]
    assert np.round(x).tolist() != round_half_away(x).tolist()


def test_quantize_input_rounds_shifts_and_clamps():
    x = np.array([0.0, 0.25, -0.25, 0.75, 100.0, -100.0], np.float32)
    q = quantize_input(x, "int8", {"scale": 0.5, "zero_point": -1})
    assert q.dtype == np.int8 and q.tolist() == [-1, 0, -2, 1, 127, -128]
    assert quantize_input(x, "uint8", {"scale": 0.5, "zero_point": 128}).tolist() == [128, 129, 127, 130, 255, 0]
    assert quantize_input(x, "float32", None).tolist() == x.tolist()


def test_preprocess_normalizes_per_channel(tmp_path):
    Image.new("RGB", (9, 7), (104, 60, 30)).save(tmp_path / "a.png")
    x = preprocess(tmp_path / "a.png", SPEC)
    assert x.shape == (1, 4, 4, 3) and x.dtype == np.float32
    assert np.allclose(x[0, ..., 0], 2.0) and np.allclose(x[0, ..., 1], 2.0) and np.allclose(x[0, ..., 2], 3.0)


def test_preprocess_center_crop_keeps_the_middle(tmp_path):
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 255, 0), (10, 0, 30, 20))  # the central 20 x 20 square is green
    image.save(tmp_path / "wide.png")
    cropped = preprocess(tmp_path / "wide.png", {**SPEC, "crop": "center"})
    squeezed = preprocess(tmp_path / "wide.png", SPEC)
    assert np.allclose(cropped[0, ..., 0], -50.0) and np.allclose(cropped[0, ..., 1], (255 - 50) / 5)
    assert squeezed[0, :, 0, 0].min() > 0, "without a crop the red sides stay in the picture"


def test_preprocess_grey_and_rgba_become_rgb(tmp_path):
    Image.new("L", (4, 4), 100).save(tmp_path / "g.png")
    Image.new("RGBA", (4, 4), (100, 100, 100, 7)).save(tmp_path / "a.png")
    assert np.array_equal(preprocess(tmp_path / "g.png", SPEC), preprocess(tmp_path / "a.png", SPEC))


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """Validation images as PNG files at the model's resolution, and the Keras model's top-1."""
    model = tiny_model(seed=3)
    root = tmp_path_factory.mktemp("predict")
    images, _ = embedded_arrays("val", resolution=RES, count=24)
    (root / "images").mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(root / "images" / f"{i:03d}.png")
    keras_top1 = model.predict(normalize(images), verbose=0).argmax(-1)
    bundles = {quant: root / quant for quant in ("fp32", "int8")}
    for quant, out in bundles.items():
        export(model, out, quant=quant, io="int8" if quant == "int8" else "float",
               verification=(normalize(images), None))
    return root / "images", keras_top1, bundles


@pytest.mark.parametrize("quant, agreement", [("fp32", 1.0), ("int8", 0.9)])
def test_predict_agrees_with_the_keras_model(samples, capsys, quant, agreement):
    folder, keras_top1, bundles = samples
    assert main(["predict", str(bundles[quant]), str(folder), "--top", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["image"] for r in out["results"]] == sorted(str(p) for p in folder.iterdir())
    assert all(len(r["top"]) == 3 for r in out["results"])
    top1 = np.array([r["top"][0]["index"] for r in out["results"]])
    assert np.mean(top1 == keras_top1) >= agreement
    scores = [t["score"] for t in out["results"][0]["top"]]
    assert scores == sorted(scores, reverse=True) and out["results"][0]["top"][0]["label"] == f"c{top1[0]}"
    assert len(set(top1)) > 1 or CLASSES == 1, "a constant answer would make the agreement meaningless"


def test_predict_bad_inputs_exit_2(samples, tmp_path, capsys):
    folder, _, bundles = samples
    (tmp_path / "not.png").write_text("text")
    assert main(["predict", str(tmp_path), str(folder)]) == 2  # no manifest
    assert main(["predict", str(bundles["fp32"]), str(tmp_path / "missing.png")]) == 2
    assert main(["predict", str(bundles["fp32"]), str(tmp_path / "not.png")]) == 2
    assert "not.png" in capsys.readouterr().err


def test_a_bundle_whose_model_changed_is_refused(samples, tmp_path):
    _, _, bundles = samples
    copy = shutil.copytree(bundles["fp32"], tmp_path / "copy")
    (copy / "model.tflite").write_bytes((copy / "model.tflite").read_bytes()[:-1] + b"x")
    with pytest.raises(UsageError, match="model_sha256"):
        Classifier(copy)


def test_preprocess_applies_exif_orientation_first(tmp_path):
    """A photo stored on its side with EXIF orientation 6 is read upright, as browsers show it."""
    upright = Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 12, 3), dtype=np.uint8))
    upright.save(tmp_path / "upright.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    upright.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "sideways.png", exif=exif.tobytes())
    spec = {**SPEC, "shape": [1, 8, 12, 3]}
    assert np.array_equal(preprocess(tmp_path / "sideways.png", spec), preprocess(tmp_path / "upright.png", spec))
