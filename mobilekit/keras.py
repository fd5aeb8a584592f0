"""The one place that imports Keras.

tensorflow-model-optimization 0.8 only accepts tf_keras (Keras 2) models, so mobilekit builds on
tf_keras. ``TF_USE_LEGACY_KERAS=1`` must be set before TensorFlow is first imported, or TensorFlow
wires ``tf.keras`` to Keras 3 and tfmot rejects the models.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

layers = keras.layers

__all__ = ["tf", "keras", "layers"]
