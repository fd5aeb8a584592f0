"""Magnitude pruning for XNNPACK's sparse inference (tfmot), and the sparsity actually reached.

XNNPACK runs a 1x1 convolution with sparse kernels when its weights are at least ~2/3 zeros (and
the graph has the shape its policy checks: a standard stem conv, NHWC 1x1 convs, pooled head).
``PruneForLatencyOnXNNPack`` prunes exactly those layers; ``strip`` removes the wrappers so the
saved model is a plain float model whose zeros the converter can encode as sparse.
"""

from __future__ import annotations

import sys

import numpy as np

from mobilekit.errors import UsageError
from mobilekit.keras import keras, layers
import tensorflow_model_optimization as tfmot  # after mobilekit.keras: it must see tf_keras

sparsity_api = tfmot.sparsity.keras


def prune_for_xnnpack(model: keras.Model, *, sparsity: float = 0.75) -> tuple[keras.Model, str]:
    """The model wrapped for pruning its 1x1 convs to ``sparsity`` (constant from step 0), and
    how: "policy" (PruneForLatencyOnXNNPack accepted the graph) or "1x1" (the policy refused
    the stem or head form; the same 1x1 convolutions are wrapped one by one instead)."""
    if not 2 / 3 <= sparsity < 1:
        raise UsageError(f"--sparsity: XNNPACK's sparse kernels need >= 2/3 (0.667) and < 1, "
                         f"got {sparsity}")
    # frequency=1: tfmot prunes on steps where (step - begin) % frequency == 0 but never at step 0,
    # so a coarser frequency leaves a short fine-tune unpruned; one mask update per step is cheap.
    schedule = sparsity_api.ConstantSparsity(sparsity, begin_step=0, frequency=1)
    try:
        return sparsity_api.prune_low_magnitude(
            model, pruning_schedule=schedule,
            pruning_policy=sparsity_api.PruneForLatencyOnXNNPack()), "policy"
    except ValueError as exc:
        print(f"PruneForLatencyOnXNNPack refused the model ({str(exc).splitlines()[0]}); "
              "pruning its 1x1 convolutions directly", file=sys.stderr)

    def wrap(layer):
        clone = layer.__class__.from_config(layer.get_config())
        return sparsity_api.prune_low_magnitude(clone, pruning_schedule=schedule) \
            if _is_pointwise(layer) else clone

    pruned = keras.models.clone_model(model, clone_function=wrap)
    for source, target in zip(model.layers, pruned.layers):
        target.set_weights(source.get_weights()) if not _is_pointwise(source) else \
            target.layer.set_weights(source.get_weights())
    return pruned, "1x1"


def zero_smallest_pointwise(model: keras.Model, sparsity: float) -> keras.Model:
    """Zero the smallest ``sparsity`` share of each 1x1 conv kernel in place (one shot, no
    fine-tuning): a model with the sparse form and the sparsity of a pruned one, for measuring
    and testing the sparse path without training (accuracy is not kept)."""
    for layer in model.submodules:
        if _is_pointwise(layer):
            kernel = layer.kernel.numpy()
            kernel[np.abs(kernel) < np.quantile(np.abs(kernel), sparsity)] = 0
            layer.kernel.assign(kernel)
    return model


def _is_pointwise(layer) -> bool:
    return isinstance(layer, layers.Conv2D) and not isinstance(layer, layers.DepthwiseConv2D) \
        and tuple(layer.kernel_size) == (1, 1)


def pruning_callbacks() -> list:
    """Callbacks that advance the pruning step during fit (needed by prune_low_magnitude)."""
    return [sparsity_api.UpdatePruningStep()]


def strip(model: keras.Model) -> keras.Model:
    return sparsity_api.strip_pruning(model)


def measured_sparsity(model: keras.Model) -> float:
    """Share of zero weights in the kernels of the 1x1 convolutions (the ones XNNPACK can use)."""
    zeros = total = 0
    for layer in model.submodules:
        if _is_pointwise(layer):
            kernel = layer.kernel.numpy()
            zeros += int(np.sum(kernel == 0))
            total += kernel.size
    return zeros / total if total else 0.0
