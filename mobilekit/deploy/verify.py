"""Does the .tflite compute what the Keras model computes? (recorded in every manifest)

Both run on the same normalized samples; integer inputs are quantized exactly as an app would
(``predict.quantize_input``) and integer outputs dequantized before comparing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from mobilekit.data.preprocess import dequantize_output, quantize_input
from mobilekit.deploy.bundle import io_spec
from mobilekit.keras import keras

UNTRAINED = "untrained weights: accuracy not meaningful"
NO_LABELS = "no labelled verification data: accuracy not measured"


def tflite_outputs(path: str | Path, images: np.ndarray) -> np.ndarray:
    """Float outputs of the .tflite for normalized float images, one invoke per image."""
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    in_spec, out_spec = io_spec(inp), io_spec(out)
    rows = []
    for image in images:
        interpreter.set_tensor(inp["index"],
                               quantize_input(image[None], in_spec["dtype"], in_spec["quantization"]))
        interpreter.invoke()
        rows.append(dequantize_output(interpreter.get_tensor(out["index"]), out_spec["quantization"])[0])
    return np.stack(rows)


def verify(model: keras.Model, tflite_path: str | Path, quant: str, *,
           images: np.ndarray, labels: np.ndarray | None, trained: bool,
           min_agreement: float, max_rel_diff: float, max_accuracy_drop: float = 0.01) -> dict:
    """The manifest's "verification" record; "passed" is False when a gate fails.

    Gates: fp32 max |diff| <= max_rel_diff * max |keras output| (always); a trained quantized
    model on labelled images may lose at most ``max_accuracy_drop`` of accuracy (what a user
    cares about: on real data int8 answers can differ from fp32 on near ties without being worse),
    on unlabelled images it needs top-1 agreement >= min_agreement. Fresh weights pass (near-tied
    logits make agreement noise). Accuracies are only reported for a trained, labelled model.
    """
    reference = model.predict(images, batch_size=32, verbose=0).astype(np.float64)
    got = tflite_outputs(tflite_path, images).astype(np.float64)
    diff = np.abs(got - reference)
    scale = float(np.max(np.abs(reference))) or 1.0
    agreement = float(np.mean(got.argmax(-1) == reference.argmax(-1)))
    skipped = None if trained and labels is not None else (UNTRAINED if not trained else NO_LABELS)
    accurate = skipped is None
    keras_accuracy = float(np.mean(reference.argmax(-1) == labels)) if accurate else None
    tflite_accuracy = float(np.mean(got.argmax(-1) == labels)) if accurate else None
    gates = {"min_top1_agreement": None, "max_accuracy_drop": None, "max_rel_diff": None}
    if quant == "fp32":
        gates["max_rel_diff"] = max_rel_diff
        passed = float(diff.max()) <= max_rel_diff * scale
    elif not trained:
        passed = True
    elif accurate:
        gates["max_accuracy_drop"] = max_accuracy_drop
        passed = keras_accuracy - tflite_accuracy <= max_accuracy_drop + 1e-9
    else:
        gates["min_top1_agreement"] = min_agreement
        passed = agreement >= min_agreement
    return {
        "samples": int(len(images)),
        "reference": "keras-qat" if quant == "qat-int8" else "keras-fp32",
        "top1_agreement": agreement,
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "output_scale": scale,
        "keras_accuracy": keras_accuracy,
        "tflite_accuracy": tflite_accuracy,
        "gates": gates,
        "passed": bool(passed),
        "skipped": skipped,
    }


def semantics(outputs: np.ndarray) -> str:
    """"probabilities" when every row is a distribution (a softmax head), else "logits"."""
    rows = outputs.reshape(len(outputs), -1)
    is_distribution = np.all(rows >= 0) and np.allclose(rows.sum(-1), 1.0, atol=1e-3)
    return "probabilities" if is_distribution else "logits"

