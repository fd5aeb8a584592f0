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
#: ``--quant`` modes (the manifest's ``quantization``) and ``--io`` types: the vocabulary of the
#: command line and of the converter (mobilekit.deploy.quantize) alike.
QUANT_MODES = ("fp32", "fp16", "dynamic", "int8", "int16x8", "qat-int8")
IO_TYPES = ("float", "int8", "uint8")
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")


@cache
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text("utf-8"))


def validate_manifest(manifest: dict) -> None:
    """Raise jsonschema.ValidationError when ``manifest`` breaks the schema."""
    jsonschema.validate(manifest, schema())


def bundle_name(builder, quant: str, *, model_name: str | None = None, io: str = "float",
                sparse: bool = False) -> str:
    """The contract's bundle name: ``<builder>-<kind>-<quant>``, a ``-<knob><value>`` part for
    every builder knob off its default (``BuilderConfig.name_parts``), ``-int8io``/``-uint8io``
    for integer io and ``-sparse`` for a pruned model, so two different bundles never share a
    name. A foreign or run-directory model (``builder`` None) uses ``model_name`` in place of
    ``<builder>-<kind>``.
    """
    if builder is None:
        if not model_name:
            raise ValueError("bundle_name needs a builder config or a model name")
        stem, knobs = model_name, []
    else:
        stem, knobs = builder.name_parts()
    parts = [stem, quant, *knobs] + ([] if io == "float" else [f"{io}io"])
    return "-".join(parts + (["sparse"] if sparse else []))


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
