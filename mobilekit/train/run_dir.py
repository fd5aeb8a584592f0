"""The run directory (../shared/CONTRACTS.md "Run directory"): the one reader and writer of
run.json, and the loader of the models training leaves there.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

from mobilekit.errors import UsageError
from mobilekit.fsutil import atomic_write_text
from mobilekit.keras import keras
from mobilekit.nets.config import BuilderConfig

RUN_JSON = "run.json"
MODEL_FILE = "model.keras"
LABELS_FILE = "labels.txt"


def run_dir_of(path) -> Path:
    """The run directory of a run directory or of a model file inside one."""
    path = Path(path)
    return path if path.is_dir() else path.parent


def read_run(path, *, required: bool = False) -> dict | None:
    """run.json of the run directory holding ``path`` (None when there is none, unless
    ``required``); a run.json that is not JSON is a one-line UsageError."""
    file = run_dir_of(path) / RUN_JSON
    if not file.is_file():
        if required:
            raise UsageError(f"{path}: not a run directory (no {RUN_JSON})")
        return None
    try:
        return json.loads(file.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"{file}: not valid JSON") from None


def run_builder(run: dict | None) -> BuilderConfig | None:
    """The builder configuration recorded in a run.json (None for a foreign model)."""
    builder = (run or {}).get("builder")
    return BuilderConfig.from_json(builder) if builder else None


def read_labels(path) -> list[str] | None:
    file = run_dir_of(path) / LABELS_FILE
    return file.read_text("utf-8").splitlines() if file.is_file() else None


def update_run(run_dir, **fields) -> None:
    """Add fields to run.json, atomically."""
    run = {**read_run(run_dir, required=True), **fields}
    atomic_write_text(Path(run_dir) / RUN_JSON, json.dumps(run, indent=2) + "\n")


def save_run(model, run_dir, *, labels: list[str], run: dict) -> None:
    """model.keras, labels.txt and run.json, each written atomically."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # model.keras carries architecture and weights; the training state (optimizer, schedule) lives
    # in checkpoints/. Recompiling drops the custom schedule so any tf_keras can load the file.
    with model.distribute_strategy.scope():
        model.compile(loss=keras.losses.CategoricalCrossentropy(),
                      metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    fd, tmp = tempfile.mkstemp(prefix=".model.", suffix=".keras", dir=run_dir)
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, run_dir / MODEL_FILE)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    atomic_write_text(run_dir / LABELS_FILE, "".join(f"{label}\n" for label in labels))
    atomic_write_text(run_dir / RUN_JSON, json.dumps(run, indent=2) + "\n")


def load_keras(path, *, trust: bool = False) -> keras.Model:
    """Load RUN/model.keras or a .keras file; .h5 / SavedModel (can run code) only with ``trust``."""
    path = Path(path)
    if path.is_dir() and (path / MODEL_FILE).is_file():
        path = path / MODEL_FILE
    elif path.is_dir() and not (path / "saved_model.pb").is_file():
        raise UsageError(f"{path}: not a run directory (no model.keras) nor a SavedModel")
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    is_keras = path.suffix == ".keras" and path.is_file()
    if not is_keras and not trust:
        raise UsageError(f"{path}: only .keras files and run directories load without "
                         f"--trust-model (.h5 and SavedModel files can run arbitrary code)")
    from mobilekit.train import qat  # the QAT scope knows the quantize wrappers and mobilekit configs
    try:
        with qat.quantize_scope():
            if is_keras and qat.is_qat_archive(path):
                return qat.load_qat_archive(path)
            return keras.models.load_model(path, compile=False, safe_mode=not trust)
    except (OSError, ValueError, TypeError, KeyError, zipfile.BadZipFile) as exc:
        raise UsageError(f"{path}: not a loadable Keras model ({str(exc).splitlines()[0]})") from exc


