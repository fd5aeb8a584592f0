"""The tf.distribute strategy of a run (``--strategy``), created before anything else touches
TensorFlow: multi-worker training sets up its collectives at creation."""

from __future__ import annotations

import contextlib
import os
import sys

from mobilekit.errors import UsageError

STRATEGIES = ("default", "mirrored", "multi-worker")


def make_strategy(name: str):
    """The strategy for ``name``, or None for TensorFlow's default."""
    from mobilekit.keras import tf

    if name == "default":
        return None
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi-worker":
        if not os.environ.get("TF_CONFIG"):
            print("--strategy multi-worker: TF_CONFIG is not set; running as a single worker",
                  file=sys.stderr)
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UsageError(f"--strategy: choose from {', '.join(STRATEGIES)}, not {name!r}")


def scope(strategy):
    """``strategy.scope()``, or nothing for the default strategy."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()
