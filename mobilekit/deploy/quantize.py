"""How each ``--quant`` mode configures the TFLite converter (one place for every mode).

The post-training modes use the TFLite converter's built-in quantizer; docs/export.md says why
(and how it compares with PyPI ``litert-quantizer``). Integer modes quantize weights per channel
(the converter's default) and calibrate activations on a representative dataset.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from mobilekit.deploy.bundle import QUANT_MODES
from mobilekit.errors import UsageError
from mobilekit.keras import tf

CALIBRATED_MODES = ("int8", "int16x8", "qat-int8")
INTEGER_IO_MODES = ("int8", "qat-int8", "int16x8")
FLOAT_ACTIVATION_MODES = ("fp32", "fp16", "dynamic")  # activations stay float32 at run time
MAX_CALIBRATION_SAMPLES = 256

_IO_TYPES = {"float": tf.float32, "int8": tf.int8, "uint8": tf.uint8, "int16": tf.int16}


def check_io(quant: str, io: str) -> None:
    """Integer input/output only exists for full-integer modes; int16x8 takes int16 io, not int8."""
    if quant not in QUANT_MODES:
        raise UsageError(f"--quant {quant}: not one of {', '.join(QUANT_MODES)}")
    if io not in _IO_TYPES:
        raise UsageError(f"--io {io}: not one of float, int8, uint8")
    if io != "float" and quant not in INTEGER_IO_MODES:
        raise UsageError(f"--io {io}: only the integer modes (int8, qat-int8, int16x8) take integer io")
    if quant == "int16x8" and io not in ("float", "int16"):
        raise UsageError(f"--io {io}: int16x8 models take float (or int16) input and output")


def configure(converter: tf.lite.TFLiteConverter, quant: str, io: str,
              calibration: np.ndarray | None, sparse: bool = False) -> None:
    """Set the converter's optimizations, op set and io types for ``quant``.

    ``sparse`` stores pruned weights in TFLite's sparse format (a DENSIFY op unpacks them at load
    time): XNNPACK tries its sparse kernels only for a graph with such weights.
    """
    check_io(quant, io)
    if sparse:
        converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    if quant == "fp32":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT, *converter.optimizations]
    if quant == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    elif quant in ("int8", "qat-int8"):
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    elif quant == "int16x8":
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    if quant in CALIBRATED_MODES:
        if calibration is None:
            raise UsageError(f"--quant {quant}: needs calibration images (none were given)")
        converter.representative_dataset = lambda: _representative(calibration)
    if quant in INTEGER_IO_MODES:
        converter.inference_input_type = _IO_TYPES[io]
        converter.inference_output_type = _IO_TYPES[io]


def _representative(images: np.ndarray) -> Iterator[list[np.ndarray]]:
    """One image at a time, batch 1, as the fixed-shape graph expects."""
    for image in images[:MAX_CALIBRATION_SAMPLES]:
        yield [image[None].astype(np.float32)]
