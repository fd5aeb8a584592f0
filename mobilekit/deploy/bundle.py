"""The bundle: model.tflite + labels.txt + manifest.json, validated against manifest.schema.json.

TF-free, so ``predict``, ``bench`` and ``inspect`` read bundles without TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import jsonschema
import numpy as np

from mobilekit.errors import UsageError
from mobilekit.fsutil import atomic_write_text

MANIFEST = "manifest.json"
MODEL_FILE = "model.tflite"
LABELS_FILE = "labels.txt"
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")


@cache
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text("utf-8"))


def validate_manifest(manifest: dict) -> None:
    """Raise jsonschema.ValidationError when ``manifest`` breaks the schema."""
    jsonschema.validate(manifest, schema())


def bundle_name(builder_config: dict | None, quant: str, *, model_name: str | None = None,
                io: str = "float") -> str:
    """``<builder>-<kind>-<quant>`` plus ``-a<alpha>``/``-r<resolution>`` when not the defaults,
    and ``-<io>io`` for integer input/output (so an int8 bundle with int8 io does not take the
    float-io one's name).

    A foreign or run-directory model (no builder config) uses ``model_name`` instead.
    """
    io_suffix = "" if io == "float" else f"-{io}io"
    if builder_config is None:
        if not model_name:
            raise ValueError("bundle_name needs a builder config or a model name")
        return f"{model_name}-{quant}{io_suffix}"
    from mobilekit.nets.models import default_resolution  # TensorFlow-side; only the exporter names bundles

    name = builder_config["name"]
    parts = [name, builder_config["kind"], quant]
    if builder_config.get("alpha", 1.0) != 1.0:
        parts.append(f"a{builder_config['alpha']:g}")
    resolution = builder_config.get("resolution")
    if resolution is not None and resolution != default_resolution(name):
        parts.append(f"r{resolution}")
    return "-".join(parts) + io_suffix


def io_spec(detail: dict) -> dict:
    """An interpreter input/output detail as the manifest's name/shape/dtype/quantization."""
    scale, zero_point = detail["quantization"]
    quantized = np.issubdtype(detail["dtype"], np.integer) and scale != 0.0
    return {"name": detail["name"], "shape": [int(d) for d in detail["shape"]],
            "dtype": np.dtype(detail["dtype"]).name,
            "quantization": {"scale": float(scale), "zero_point": int(zero_point)} if quantized else None}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_files(bundle_dir: Path, labels: list[str], manifest: dict) -> None:
    """Write labels.txt and manifest.json into a (staged) bundle directory, manifest validated first."""
    validate_manifest(manifest)
    atomic_write_text(bundle_dir / manifest["labels_file"], "".join(f"{label}\n" for label in labels))
    atomic_write_text(bundle_dir / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def read_bundle(bundle_dir: str | Path) -> dict:
    """The validated manifest of a bundle; UsageError naming the directory when it is not one."""
    bundle_dir = Path(bundle_dir)
    path = bundle_dir / MANIFEST
    if not path.is_file():
        raise UsageError(f"{bundle_dir}: not a bundle (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text("utf-8"))
        validate_manifest(manifest)
    except (ValueError, jsonschema.ValidationError) as exc:
        raise UsageError(f"{path}: invalid manifest ({str(exc).splitlines()[0]})") from exc
    model = bundle_dir / manifest["model_file"]
    if not model.is_file() or sha256(model) != manifest["model_sha256"]:
        raise UsageError(f"{model}: missing or does not match the manifest's model_sha256")
    return manifest
