"""Data: the embedded generated default, image folders and TFDS as streaming splits
(``pipeline``), and the one preprocessing definition training and serving share (``preprocess``).

Importing this package is numpy-only (``preprocess`` adds Pillow); the TensorFlow parts
(``pipeline``, ``sources``, ``tfds``) are submodules imported when used.
"""

from mobilekit.data.embedded import (
    EMBEDDED_LABELS,
    NORMALIZATION,
    embedded_arrays,
    normalize,
)

__all__ = ["EMBEDDED_LABELS", "NORMALIZATION", "embedded_arrays", "normalize"]
