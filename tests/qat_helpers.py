"""Shared by the builders' tests: QAT -> int8 TFLite conversion and the XNNPACK audit."""

import numpy as np

from tflite_fixtures import to_tflite
from mobilekit.train.qat import quantize_aware
from mobilekit.runtime import graph


def calibrated_qat(model, seed=0, steps=3):
    """QAT model whose fake-quant ranges have seen a few batches (training-mode forward passes)."""
    qat = quantize_aware(model)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        qat(rng.uniform(-1, 1, (4, *model.input_shape[1:])).astype("float32"), training=True)
    return qat


def int8_tflite(qat_model, path):
    """Fully integer TFLite of a QAT model (int8 in and out; no representative data needed)."""
    path.write_bytes(to_tflite(qat_model, int8=True, calibrate=False))
    return path


def float_tensors(path):
    """Names of float32 tensors in the graph (none in a fully integer model)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(str(path), experimental_op_resolver_type=(
        OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
    return [t["name"] for t in interpreter.get_tensor_details() if t["dtype"] == np.float32]


def ops_outside_xnnpack(path):
    return graph.delegation(path)["ops_outside_xnnpack"]
