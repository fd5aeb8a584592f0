"""Datasets: the embedded generated default, image folders and TFDS, as arrays or tf.data.

Importing this package is numpy-only; the TensorFlow parts live in submodules imported when used.
"""

from mobilekit.data.embedded import (
    EMBEDDED_LABELS,
    NORMALIZATION,
    embedded_arrays,
    normalize,
)

__all__ = ["EMBEDDED_LABELS", "NORMALIZATION", "embedded_arrays", "normalize"]
