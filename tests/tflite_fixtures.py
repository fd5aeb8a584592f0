"""Tiny .tflite files for the runtime, inspect and bench tests, made once per test session.

The ``tflite_models`` fixture reaches every test module through conftest.py; the files are
cached in the session's base temp dir, so every module that uses them shares one conversion.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

RES = 16  # input height = width of the fixture models

# name -> what the fixture holds
MODELS = {
    "f32": "conv(stride 2) -> depthwise -> 1x1 conv -> transpose conv -> mean -> dense, float32",
    "int8": "the same graph fully int8 (int8 input and output)",
    "split": "conv -> CUMSUM (not taken by XNNPACK) -> conv: two XNNPACK partitions",
    "custom": "conv -> Igamma as an unresolved custom op: converts, cannot run",
    "two_inputs": "a float32 [1, 4] and an int32 [1, 3] input: any dtype must be filled",
    "corrupt": "the f32 file with its body overwritten by noise (TFL3 header kept)",
}


def to_tflite(model, *, int8: bool = False, calibrate: bool = True,
              custom_ops: bool = False) -> bytes:
    """A Keras model converted with plain TFLite settings (the tests' one converter): float, or
    fully int8 with int8 io, calibrated on random inputs in [-1, 1] unless ``calibrate`` is off
    (a QAT model carries its own ranges)."""
    from mobilekit.keras import tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.allow_custom_ops = custom_ops
    if int8:
        shape = (1, *model.input_shape[1:])

        def calibration():
            rng = np.random.default_rng(0)
            for _ in range(8):
                yield [rng.uniform(-1, 1, shape).astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if calibrate:
            converter.representative_dataset = calibration
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def mac_graph():
    """The f32/int8 graph; its layer sizes are what test_graph's MAC arithmetic uses."""
    from mobilekit.keras import keras, layers

    keras.utils.set_random_seed(0)
    bias = {"bias_initializer": "random_uniform"}  # zero biases would be dropped or shared
    inp = layers.Input((RES, RES, 3), batch_size=1)  # fixed batch, as exported bundles have
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", **bias)(inp)  # 8x8x8
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu", **bias)(x)  # 8x8x8
    x = layers.Conv2D(16, 1, activation="relu", **bias)(x)  # 8x8x16
    x = layers.Conv2DTranspose(4, 3, strides=2, padding="same", **bias)(x)  # 16x16x4
    x = layers.GlobalAveragePooling2D()(x)  # 4
    out = layers.Dense(5, **bias)(x)  # 5
    return keras.Model(inp, out)


def _make_all(folder: Path) -> None:
    from mobilekit.keras import keras, layers, tf

    graph = mac_graph()
    (folder / "f32.tflite").write_bytes(to_tflite(graph))
    (folder / "int8.tflite").write_bytes(to_tflite(graph, int8=True))

    inp = layers.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same")(inp)
    x = layers.Lambda(lambda t: tf.math.cumsum(t, axis=1))(x)
    (folder / "split.tflite").write_bytes(to_tflite(keras.Model(inp, layers.Conv2D(4, 1)(x))))

    inp = layers.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same")(inp)
    x = layers.Lambda(lambda t: tf.math.igamma(tf.abs(t) + 1.0, tf.abs(t) + 1.0))(x)
    (folder / "custom.tflite").write_bytes(to_tflite(keras.Model(inp, x), custom_ops=True))

    a, b = layers.Input((4,)), layers.Input((3,), dtype="int32")
    x = layers.Concatenate()([a, layers.Lambda(lambda t: tf.cast(t, tf.float32))(b)])
    (folder / "two_inputs.tflite").write_bytes(to_tflite(keras.Model([a, b], layers.Dense(2)(x))))

    data = bytearray((folder / "f32.tflite").read_bytes())
    noise = random.Random(0)
    for i in range(16, len(data)):
        if noise.random() < 0.3:
            data[i] = noise.randrange(256)
    (folder / "corrupt.tflite").write_bytes(bytes(data))


@pytest.fixture(scope="session")
def tflite_models(tmp_path_factory) -> dict[str, Path]:
    """name -> path of each model in MODELS."""
    folder = tmp_path_factory.getbasetemp() / "tflite_models"
    done = folder / ".done"
    if not done.exists():
        folder.mkdir(exist_ok=True)
        _make_all(folder)
        done.touch()
    return {name: folder / f"{name}.tflite" for name in MODELS}


def no_tf_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose Python cannot import tensorflow or tf_keras (as on a device)."""
    blocker = tmp_path / "no_tf"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoTF:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('tensorflow', 'tf_keras', 'keras'):\n"
        "            raise ImportError(f'{name} is not available on this device')\n"
        "        return None\n"
        "sys.meta_path.insert(0, _NoTF())\n")
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), str(root)])
    return env
