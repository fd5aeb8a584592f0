"""export RUN: calibrated and verified on the data the run was trained on, or refused."""

from __future__ import annotations

import json
import shutil

import pytest

from mobilekit.data.sources import load_data
from mobilekit.deploy.export import export
from mobilekit.errors import UsageError
from mobilekit.keras import keras, layers
from mobilekit.train.loop import train
from test_data import write_image_folder

RES = 24


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run trained (briefly) on an image folder, and that folder."""
    root = tmp_path_factory.mktemp("own")
    photos = write_image_folder(root / "photos", per_class=16, size=40)
    data = load_data(resolution=RES, data=str(photos), val_fraction=0.25, seed=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([layers.Input((RES, RES, 3)), layers.Conv2D(8, 3, strides=2),
                              layers.ReLU(), layers.GlobalAveragePooling2D(), layers.Dense(3)])
    train(model, data.train, data.val, run_dir=root / "run", labels=data.labels, epochs=2,
          batch_size=8, dataset_info=data.info, verbose=0)
    return root / "run", photos, len(data.val)


def test_int8_export_calibrates_and_verifies_on_the_runs_validation_split(run, tmp_path):
    run_dir, _, val_images = run
    result = export(str(run_dir), quant="int8", out=tmp_path / "b", max_accuracy_drop=1.0)
    check = result["manifest"]["verification"]
    assert check["samples"] == val_images  # the whole validation split, labelled
    assert check["keras_accuracy"] is not None and check["skipped"] is None
    assert check["gates"]["max_accuracy_drop"] == 1.0 and check["gates"]["min_top1_agreement"] is None


def test_strict_accuracy_gate_refuses_a_worse_int8_model(run, tmp_path):
    from mobilekit.errors import PartialFailure

    run_dir, _, _ = run
    with pytest.raises(PartialFailure, match="accuracy"):
        export(str(run_dir), quant="int8", out=tmp_path / "b", max_accuracy_drop=-1.0)
    assert not (tmp_path / "b").exists()


def test_data_gone_int8_refused_in_one_line_or_given_by_flag(run, tmp_path):
    run_dir, photos, _ = run
    moved = shutil.copytree(run_dir, tmp_path / "run")
    record = json.loads((moved / "run.json").read_text())
    record["dataset"]["path"] = str(tmp_path / "moved-away")
    (moved / "run.json").write_text(json.dumps(record))
    with pytest.raises(UsageError, match="--calibration-data") as refused:
        export(str(moved), quant="int8", out=tmp_path / "b")
    assert len(str(refused.value).splitlines()) == 1
    float_bundle = export(str(moved), quant="fp32", out=tmp_path / "fp32")["manifest"]
    assert float_bundle["verification"]["keras_accuracy"] is None  # numerics only, said so
    given = export(str(moved), quant="int8", out=tmp_path / "given", max_accuracy_drop=1.0,
                   calibration_data=str(photos))["manifest"]["verification"]
    assert given["keras_accuracy"] is not None and given["samples"] == 48


def test_crop_travels_from_the_data_to_run_and_bundle(run, tmp_path):
    run_dir, photos, _ = run
    with pytest.raises(UsageError, match="--crop center"):
        export(str(run_dir), quant="fp32", out=tmp_path / "b", crop="center")
    data = load_data(resolution=RES, data=str(photos), crop="center")
    model = keras.Sequential([layers.Input((RES, RES, 3)), layers.GlobalAveragePooling2D(),
                              layers.Dense(3)])
    record = train(model, data.train, data.val, run_dir=tmp_path / "run", labels=data.labels,
                   epochs=1, batch_size=8, dataset_info=data.info, verbose=0)
    assert record["input"]["crop"] == "center"
    bundle = export(str(tmp_path / "run"), quant="fp32", out=tmp_path / "c")["manifest"]
    assert bundle["input"]["crop"] == "center"
