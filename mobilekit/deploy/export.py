"""``mobilekit export``: Keras model -> quantized, converted, verified, audited bundle.

One function, ``export_bundle``, does the job for the CLI, the quickstart and ``compare``:
convert with a fixed batch of 1, check the .tflite against the Keras model, record which ops
XNNPACK leaves out, and only then move the bundle into place in one rename.
"""

from __future__ import annotations

import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np

import mobilekit
from mobilekit.deploy import quantize
from mobilekit.data import EMBEDDED_LABELS, NORMALIZATION, preprocess
from mobilekit.data.pipeline import Data
from mobilekit.data.sources import images_split, load_data, load_recorded
from mobilekit.deploy.bundle import LABELS_FILE, MODEL_FILE, bundle_name, io_spec, sha256, write_files
from mobilekit.deploy.convert import convert, input_shape, logits_model
from mobilekit.deploy.verify import semantics, verify
from mobilekit.errors import PartialFailure, UsageError
from mobilekit.fsutil import atomic_write_bytes, staged_dir
from mobilekit.keras import keras, tf
from mobilekit.nets.config import BuilderConfig
from mobilekit.runtime.graph import delegation, one_line, op_costs

DEFAULT_SAMPLES = 1000  # verification images: the whole validation split up to this many


def export_bundle(model: keras.Model, out_dir: str | Path, *, quant: str, io: str = "float",
                  name: str, labels: list[str], builder: BuilderConfig | None = None, trained: bool,
                  normalization: dict, calibration: np.ndarray | None = None,
                  verification: tuple[np.ndarray, np.ndarray | None] | None = None,
                  replace: bool = False, min_agreement: float = 0.98, max_rel_diff: float = 1e-4,
                  max_accuracy_drop: float = 0.01, crop: str = "none",
                  sparsity: float | None = None) -> dict:
    """Write one bundle at ``out_dir`` and return its manifest.

    ``calibration``: normalized float images [N,H,W,3] (int8/int16x8; defaults to the verification
    images). ``verification``: (normalized float images, int labels or None); without it, random
    inputs in [-1, 1] check the numerics only. ``sparsity``: the measured sparsity of a pruned
    model; recorded, and its zeros stored in TFLite's sparse format. Raises UsageError for bad input before converting,
    PartialFailure when a verification gate fails (then no bundle is written).
    """
    out_dir = Path(out_dir)
    stages = _layer_stages(model, builder)
    model = logits_model(model)
    quantize.check_io(quant, io)
    shape = input_shape(model)
    if out_dir.exists() and not replace:
        raise UsageError(f"{out_dir}: already exists (use --force to replace it)")
    images, truth = verification if verification is not None else (_random_images(shape), None)
    _check_images("verification", images, shape)
    if calibration is None and quant in quantize.CALIBRATED_MODES:
        calibration = images
    if calibration is not None:
        _check_images("calibration", calibration, shape)
    classes = int(np.prod(model.outputs[0].shape[1:]))
    if len(labels) != classes:
        raise UsageError(f"labels: {len(labels)} given, the model has {classes} outputs")

    model_bytes = convert(model, quant, io, calibration, sparse=sparsity is not None)
    with tempfile.TemporaryDirectory(prefix="mobilekit-export-") as work:
        path = Path(work) / MODEL_FILE
        path.write_bytes(model_bytes)
        try:
            check = verify(model, path, quant, images=images, labels=truth, trained=trained,
                           min_agreement=min_agreement, max_rel_diff=max_rel_diff,
                           max_accuracy_drop=max_accuracy_drop)
        except RuntimeError as exc:  # the interpreter refuses the graph it was given
            raise PartialFailure(f"{name}: the converted model does not run in LiteRT, no bundle "
                                 f"written ({one_line(exc)})") from exc
        manifest = {
            "schema_version": 1, "name": name,
            "model_file": MODEL_FILE, "model_sha256": sha256(path), "model_bytes": len(model_bytes),
            "labels_file": LABELS_FILE, "builder": builder.to_json() if builder else None,
            "trained": trained,
            "quantization": quant, "sparsity": sparsity,
            "params": int(model.count_params()), "macs": sum(op["macs"] for op in op_costs(path)),
            **_io(path, model, images, normalization, crop),
            "layer_stages": stages,
            "verification": check,
            "delegation": delegation(path),
            "created_by": {"mobilekit": mobilekit.__version__, "tensorflow": tf.__version__,
                           "ai_edge_litert": version("ai-edge-litert")},
        }
    if not check["passed"]:
        raise PartialFailure(f"{name}: verification failed, no bundle written ({_gate_text(check)})")
    try:
        with staged_dir(out_dir, replace=replace) as tmp:
            atomic_write_bytes(tmp / MODEL_FILE, model_bytes)
            write_files(tmp, labels, manifest)
    except FileExistsError:  # another export made it meanwhile
        raise UsageError(f"{out_dir}: already exists (use --force to replace it)") from None
    return manifest


def _io(path: Path, model: keras.Model, images: np.ndarray, normalization: dict, crop: str) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    inp = io_spec(interpreter.get_input_details()[0])
    out = io_spec(interpreter.get_output_details()[0])
    inp.update(layout="NHWC", color="RGB", resize="bilinear", crop=crop,
               normalization={"mean": [float(v) for v in normalization["mean"]],
                              "std": [float(v) for v in normalization["std"]]})
    out["semantics"] = semantics(model.predict(images[:8], verbose=0))
    return {"input": inp, "output": out}


def _layer_stages(model: keras.Model, builder: BuilderConfig | None) -> dict[str, int] | None:
    """{Keras layer: stage} of a builder model (a trained one's from a fresh build of its config)."""
    from mobilekit.nets.models import build_model, layer_stages

    if builder is None:
        return None
    return layer_stages(model) or layer_stages(build_model(builder))


def _gate_text(check: dict) -> str:
    gates = check["gates"]
    if gates["max_rel_diff"] is not None:
        return (f"max |diff| {check['max_abs_diff']:.3g} > {gates['max_rel_diff']:g} x max |output| "
                f"{check['output_scale']:.3g}")
    if gates["max_accuracy_drop"] is not None:
        return (f"accuracy {check['tflite_accuracy']:.4f} vs keras {check['keras_accuracy']:.4f}: "
                f"a drop of more than {gates['max_accuracy_drop']:g}")
    return f"top-1 agreement {check['top1_agreement']:.4f} < {gates['min_top1_agreement']}"


def _random_images(shape: tuple[int, int, int], count: int = 16) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (count, *shape)).astype(np.float32)


def _check_images(what: str, images: np.ndarray, shape: tuple[int, int, int]) -> None:
    if images.ndim != 4 or tuple(images.shape[1:]) != shape or len(images) == 0:
        raise UsageError(f"{what} images have shape {tuple(images.shape)}, the model takes [N, {', '.join(map(str, shape))}]")


def export(model: str | BuilderConfig, *, quant: str, io: str = "float", out: str | Path | None = None,
           force: bool = False, trust_model: bool = False, samples: int = DEFAULT_SAMPLES,
           min_agreement: float = 0.98, max_rel_diff: float = 1e-4, max_accuracy_drop: float = 0.01,
           calibration_data: str | Path | None = None, crop: str | None = None) -> dict:
    """``mobilekit export``: one bundle of a builder configuration (fresh weights with batch-norm
    statistics from the embedded data) or of a run directory / model file, calibrated and
    verified on the data it was trained on (``calibration_data``: a folder of such images, when
    that data is not here). ``crop``: the bundle's crop (default: the run's, else "none"); a
    run trained with the other crop is refused. Returns ``{"bundle": path, "manifest": {...}}``."""
    if samples < 1:
        raise UsageError(f"--samples {samples}: must be at least 1")
    quantize.check_io(quant, io)
    source = load_source(model, quant=quant, trust=trust_model)
    if crop is not None and source["dataset"] is not None and crop != source["crop"]:
        raise UsageError(f"--crop {crop}: {model} was trained with crop {source['crop']}")
    source["crop"] = crop or source["crop"]
    keras_model = source["model"]
    if source["trained"]:
        calibration, verification = _own_data(source, model, quant, samples, calibration_data)
    else:  # a builder's fresh weights: make its int8 graph a trained one's
        from mobilekit.nets.models import calibrate_batch_norm
        from mobilekit.train.qat import quantize_aware

        data = load_data(resolution=input_shape(keras_model)[0], counts={
            "train": quantize.MAX_CALIBRATION_SAMPLES, "val": samples, "test": 0})
        calibration, verification = run_data_samples(data, samples)
        calibrate_batch_norm(keras_model, calibration)
        if quant == "qat-int8":
            keras_model = quantize_aware(keras_model)
        if source["labels"] != data.labels:
            verification = (verification[0], None)
    name = bundle_name(source["builder"], quant, model_name=source["run_name"], io=io)
    out = Path(out) if out else Path("export") / name
    manifest = export_bundle(
        keras_model, out, quant=quant, io=io, name=name, labels=source["labels"],
        builder=source["builder"], trained=source["trained"],
        normalization=source["normalization"], crop=source["crop"], calibration=calibration,
        verification=verification, replace=force, min_agreement=min_agreement,
        max_rel_diff=max_rel_diff, max_accuracy_drop=max_accuracy_drop)
    return {"bundle": str(out), "manifest": manifest}


def run_data_samples(data, samples: int, *, seed: int = 0, normalization: dict = NORMALIZATION):
    """(calibration images, (verification images, labels)), normalized: a seeded sample of the
    training split, and the first ``samples`` images of the validation split."""
    train_images, _ = data.train.arrays(quantize.MAX_CALIBRATION_SAMPLES, seed=seed)
    images, labels = data.val.arrays(samples)
    return (preprocess.normalize(train_images, normalization),
            (preprocess.normalize(images, normalization), labels))


def _own_data(source: dict, model, quant: str, samples: int, calibration_data):
    """Calibration and verification data of a trained model: the data its run.json records, or
    the folder given; without either, float modes verify on random inputs (numerics only) and
    calibrated modes are refused rather than calibrated on data the model never saw."""
    shape = input_shape(source["model"])
    if calibration_data:
        split, labelled = images_split(calibration_data, size=shape[:2], crop=source["crop"],
                                       labels=source["labels"])
        data = Data(split, split, None, source["labels"], {})
        calibration, (images, labels) = run_data_samples(data, samples,
                                                         normalization=source["normalization"])
        return calibration, (images, labels if labelled else None)
    try:
        if source["dataset"] is None:
            raise UsageError("no run.json records it")
        data = load_recorded(source["dataset"], resolution=shape[0], crop=source["crop"])
        if data.labels != source["labels"]:
            raise UsageError(f"its classes are now {', '.join(data.labels[:5])}...")
    except UsageError as exc:
        if quant not in quantize.CALIBRATED_MODES:
            return None, None
        raise UsageError(f"{model}: the data it was trained on is not available ({exc}); pass "
                         "--calibration-data DIR, a folder of images like its training images")
    return run_data_samples(data, samples, normalization=source["normalization"])


def load_source(model: str | BuilderConfig, *, quant: str, trust: bool = False) -> dict:
    """The model to export and what its bundle must say about it."""
    from mobilekit.train import run_dir

    if isinstance(model, BuilderConfig):
        from mobilekit.nets.models import build_model

        return {"model": build_model(model), "builder": model, "trained": False,
                "labels": _default_labels(model.classes), "normalization": NORMALIZATION,
                "crop": "none", "dataset": None, "run_name": None}
    path = Path(model)
    if not path.exists():
        raise UsageError(f"{model}: not a builder name, run directory or model file")
    keras_model = run_dir.load_keras(path, trust=trust)
    run = run_dir.read_run(path) or {}
    classes = int(np.prod(keras_model.outputs[0].shape[1:]))
    qat = bool(run.get("qat")) or _is_qat(keras_model)
    if qat != (quant == "qat-int8"):
        raise UsageError(f"--quant {quant}: {model} " + (
            "was trained with QAT; export it with --quant qat-int8" if qat else
            "is not a QAT model; qat-int8 needs one (recipes/qat.py)"))
    model_input = run.get("input", {})
    return {"model": keras_model, "builder": run_dir.run_builder(run), "trained": True,
            "labels": run_dir.read_labels(path) or _default_labels(classes),
            "normalization": model_input.get("normalization", NORMALIZATION),
            "crop": model_input.get("crop", "none"), "dataset": run.get("dataset"),
            "run_name": run_dir.run_dir_of(path).resolve().name if run else path.stem}


def _default_labels(classes: int) -> list[str]:
    return list(EMBEDDED_LABELS) if classes == len(EMBEDDED_LABELS) else [f"class_{i}" for i in range(classes)]


def _is_qat(model: keras.Model) -> bool:
    return any(type(layer).__name__.startswith("Quantize") for layer in model.layers)


def format_export(out: str | Path, manifest: dict) -> str:
    """The human lines of one written bundle."""
    check, audit = manifest["verification"], manifest["delegation"]
    lines = [f"{manifest['name']}: {out} ({manifest['model_bytes'] / 1e6:.2f} MB, "
             f"input {manifest['input']['dtype']} {manifest['input']['shape']})",
             f"  verification on {check['samples']} samples vs {check['reference']}: "
             f"top-1 agreement {check['top1_agreement']:.4f}, max |diff| {check['max_abs_diff']:.3g}"
             + (f", accuracy keras {check['keras_accuracy']:.4f} tflite {check['tflite_accuracy']:.4f}"
                if check["keras_accuracy"] is not None else "")
             + (f" ({check['skipped']})" if check["skipped"] else ""),
             f"  XNNPACK: {audit['xnnpack_partitions']} partition(s), "
             + ("all ops delegated" if audit["xnnpack_fully_delegated"]
                else f"ops outside XNNPACK: {', '.join(audit['ops_outside_xnnpack'])}")]
    return "\n".join(lines)
