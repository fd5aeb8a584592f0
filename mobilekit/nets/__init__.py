"""Networks: conv units of each kind, blocks, spec tables, the builders and their cost model.

The builders, the way keras.applications offers them (each returns a tf_keras model)::

    from mobilekit import nets
    model = nets.mobilenet_v2(kind="separable", alpha=0.5, input_shape=(96, 96, 3), classes=10)

``kind`` is one conv kind or one per stage (``("standard", "standard", "separable", ...)`` or
"SSDDDDD"); the other knobs are those of ``BuilderConfig``. The configuration (``nets.config``,
``nets.specs``) is TensorFlow-free, so the command line checks flags without it; building a
model imports TensorFlow.
"""

from __future__ import annotations

from mobilekit.errors import UsageError
from mobilekit.nets.config import BuilderConfig
from mobilekit.nets.specs import BUILDERS


def build_model(config: BuilderConfig):
    """The tf_keras model of ``config`` (see ``mobilekit.nets.models.build_model``)."""
    from mobilekit.nets import models

    return models.build_model(config)


def build(name: str, *, input_shape: tuple[int, int, int] | None = None, **knobs):
    """``build_model(BuilderConfig(name, ...))`` with keras.applications' ``input_shape``."""
    if input_shape is not None:
        height, width, channels = input_shape
        if height != width or channels != 3:
            raise UsageError(f"input_shape: builders take square RGB input, got {input_shape}")
        knobs["resolution"] = height
    return build_model(BuilderConfig(name, **knobs))


def mobilenet_v1(**knobs):
    """MobileNetV1 (native kind: separable)."""
    return build("mobilenet_v1", **knobs)


def mobilenet_v2(**knobs):
    """MobileNetV2 (native kind: separable)."""
    return build("mobilenet_v2", **knobs)


def mobilenet_v3_small(**knobs):
    """MobileNetV3-Small (native kind: separable)."""
    return build("mobilenet_v3_small", **knobs)


def mobilenet_v3_large(**knobs):
    """MobileNetV3-Large (native kind: separable)."""
    return build("mobilenet_v3_large", **knobs)


__all__ = ["BUILDERS", "BuilderConfig", "build", "build_model", "mobilenet_v1",
           "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"]
