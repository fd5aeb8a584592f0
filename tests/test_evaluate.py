"""evaluate: accuracy on a labelled folder, the same as predict's answers and the run's Keras model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from mobilekit.data import EMBEDDED_LABELS, NORMALIZATION, embedded_arrays, normalize
from mobilekit.deploy.evaluate import evaluate
from mobilekit.errors import UsageError
from test_export import CLASSES, RES, export, tiny_model

LABELS = EMBEDDED_LABELS[:CLASSES]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run directory of a briefly trained tiny model, its fp32 bundle, and a labelled folder
    (PNG and JPEG, a corrupt file, one class the model knows but the folder lacks)."""
    from mobilekit.train.run_dir import save_run

    root = tmp_path_factory.mktemp("evaluate")
    images, labels = embedded_arrays("train", resolution=RES, count=1200)
    keep = labels < CLASSES
    model = tiny_model(seed=2)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(normalize(images[keep]), labels[keep], epochs=8, batch_size=32, verbose=0)
    run_dir = root / "run"
    save_run(model, run_dir, labels=LABELS,
             run={"input": {"shape": [RES, RES, 3], "normalization": NORMALIZATION,
                            "resize": "bilinear", "crop": "none"}})
    export(model, root / "bundle", labels=LABELS)
    val, val_labels = embedded_arrays("val", resolution=RES, count=200)
    folder = root / "photos"
    for i, (image, label) in enumerate(zip(val, val_labels)):
        if label < CLASSES - 1:  # the last class has no folder: a subset of the labels
            (folder / LABELS[label]).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / LABELS[label] / f"{i:03d}.{'png' if i % 3 else 'jpg'}")
    (folder / LABELS[0] / "broken.png").write_bytes(b"\x89PNG not really")
    return run_dir, root / "bundle", folder


def test_evaluate_counts_what_predict_answers(trained, capsys):
    from mobilekit.cli import main

    _, bundle, folder = trained
    result = evaluate(bundle, folder, progress=False)
    hits = total = 0
    for k, name in enumerate(LABELS[:-1]):
        images = [str(p) for p in sorted((folder / name).iterdir()) if p.name != "broken.png"]
        assert main(["predict", str(bundle), *images, "--json"]) == 0
        answers = json.loads(capsys.readouterr().out)["results"]
        hits += sum(r["top"][0]["index"] == k for r in answers)
        total += len(answers)
    assert result["images"] == total
    assert result["top1"] == pytest.approx(hits / total)
    assert result["top1"] <= result["top5"] == 1.0  # 5 classes: top-5 is everything
    assert sum(c["recall"] > 0 for c in result["per_class"]) >= 2, "a constant answer proves little"


def test_bundle_and_its_run_agree(trained, tmp_path):
    run_dir, bundle, folder = trained
    of_bundle = evaluate(bundle, folder, run=run_dir, out=tmp_path / "out", progress=False)
    of_run = evaluate(run_dir, folder, progress=False)
    assert abs(of_bundle["top1"] - of_run["top1"]) <= 0.005
    assert of_bundle["agreement"]["top1"] >= 0.995
    assert set(of_bundle) >= {"model", "data", "images", "skipped", "top1", "top5", "per_class",
                              "confusion_png"}
    assert [c["label"] for c in of_bundle["per_class"]] == sorted(LABELS[:-1])
    assert sum(c["support"] for c in of_bundle["per_class"]) == of_bundle["images"]
    assert all(0 <= c["precision"] <= 1 and 0 <= c["recall"] <= 1 for c in of_bundle["per_class"])
    assert len(of_bundle["skipped"]) == 1 and "broken.png" in of_bundle["skipped"][0]
    png = of_bundle["confusion_png"]
    assert png.endswith("confusion.png") and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert of_run["confusion_png"] is None


def test_bad_folders_are_one_line_errors(trained, tmp_path):
    _, bundle, folder = trained
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "flat" / "a.png")
    with pytest.raises(UsageError, match="class sub-folder"):
        evaluate(bundle, tmp_path / "flat", progress=False)
    (tmp_path / "other" / "giraffe").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "other" / "giraffe" / "a.png")
    with pytest.raises(UsageError, match="giraffe"):
        evaluate(bundle, tmp_path / "other", progress=False)
    (tmp_path / "other" / LABELS[0]).mkdir()
    with pytest.raises(UsageError, match=LABELS[0]):  # an empty class folder
        evaluate(bundle, tmp_path / "other", progress=False)
    (tmp_path / "text" / LABELS[0]).mkdir(parents=True)
    (tmp_path / "text" / LABELS[0] / "notes.txt").write_text("no images here")
    with pytest.raises(UsageError, match="no images"):
        evaluate(bundle, tmp_path / "text", progress=False)
    with pytest.raises(UsageError, match="not a bundle"):
        evaluate(tmp_path, folder, progress=False)
