"""Make the foreign .tflite files in this folder: plain TensorFlow functions converted by
TFLiteConverter, no mobilekit code involved, so the fuzz tests attack files whose layout
mobilekit's exporter did not choose (signature defs, control-flow subgraphs, reshape options).

    python tests/data/make_foreign_tflite.py   # rewrites foreign_*.tflite beside this script

The files are committed (a few KB each) so tests need no conversion.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

HERE = Path(__file__).resolve().parent


def _convert(function, quantize: bool = False) -> bytes:
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], function)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic-range int8 weights
    return converter.convert()


def mixer() -> bytes:
    """conv -> reshape -> matmul -> softmax, concatenated with a strided slice: a classifier head
    that no Keras layer wrote."""
    rng = np.random.default_rng(1)
    kernel = tf.constant(rng.normal(size=(3, 3, 3, 8)).astype(np.float32))
    dense = tf.constant(rng.normal(size=(8 * 8 * 8, 10)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32, name="pixels")])
    def head(x):
        y = tf.nn.relu(tf.nn.conv2d(x, kernel, strides=2, padding="SAME"))
        logits = tf.matmul(tf.reshape(y, [1, -1]), dense)
        return {"probs": tf.concat([tf.nn.softmax(logits), x[:, 0, 0, :]], axis=1)}

    return _convert(head, quantize=True)


def loop() -> bytes:
    """A WHILE loop with its condition and body in their own subgraphs."""

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
    def iterate(x):
        _, y = tf.while_loop(lambda i, v: i < 5, lambda i, v: (i + 1, tf.tanh(v * 1.5 + 0.1)), (tf.constant(0), x))
        return y

    return _convert(iterate)


def dynamic() -> bytes:
    """An image model whose height and width are left open (shape signature [1, -1, -1, 3])."""
    kernel = tf.constant(np.random.default_rng(2).normal(size=(3, 3, 3, 4)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="image")])
    def pooled(x):
        return tf.reduce_mean(tf.nn.conv2d(x, kernel, strides=1, padding="SAME"), axis=[1, 2])

    return _convert(pooled)


if __name__ == "__main__":
    for name, make in (("foreign_mixer", mixer), ("foreign_loop", loop), ("foreign_dynamic", dynamic)):
        path = HERE / f"{name}.tflite"
        path.write_bytes(make())
        print(f"{path}: {path.stat().st_size} bytes")
