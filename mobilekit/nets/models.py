"""Builder registry: networks built from their spec tables (mobilekit.nets.specs), any conv kind.

``build_model`` takes a ``BuilderConfig`` (mobilekit.nets.config: every knob, validated once when
it was made) and lays out stem -> body -> head. The models take float32 input already normalized
to [-1, 1] (no Rescaling layer inside); layer names follow keras.applications so its weights load
by name for the separable MobileNets.
"""

from __future__ import annotations

import weakref

from mobilekit.keras import keras, layers
from mobilekit.nets import layers as mk
from mobilekit.nets import specs
from mobilekit.nets.config import BuilderConfig

BUILDERS = specs.BUILDERS
_STAGES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def build_model(config: BuilderConfig) -> keras.Model:
    """A fresh model of ``config``; ``layer_stages(model)`` then tells each layer's stage."""
    spec = config.spec
    plan = specs.decode(spec, config.alpha)
    stage_kinds, norm, res = config.stage_kinds, spec.norm, config.resolution

    inputs = layers.Input((res, res, 3), name="input")
    # stem: a standard 3x3 stride-2 conv in every kind (the kind switch is for the body)
    x = mk.conv_bn(inputs, plan.stem, kernel=3, stride=2, activation=spec.act, name=spec.stem_names,
                   role=spec.stem_names.template, norm=norm, padding=config.padding)
    stage_ends = [x]
    for block in plan.blocks:
        if block.stage == len(stage_ends):
            stage_ends.append(None)
        x = _block(x, block, stage_kinds[block.stage], norm, config.depth_multiplier,
                   config.padding)
        stage_ends[-1] = x
    if plan.last_conv:  # V2/V3 widen the features with a 1x1 conv (kept without top)
        x = mk.conv_bn(x, plan.last_conv, activation=spec.act, name=spec.last_names,
                       role=spec.last_names.template, norm=norm)
    if config.include_top:
        x = _head(x, spec, plan, config)
    model = keras.Model(inputs, x, name=config.name)
    _STAGES[model] = _stages_of_layers(inputs, stage_ends, model)
    return model


def layer_stages(model: keras.Model) -> dict[str, int] | None:
    """{layer name: stage} of a model ``build_model`` made (None for any other model)."""
    return _STAGES.get(model)


def _stages_of_layers(inputs, stage_ends: list, model: keras.Model) -> dict[str, int]:
    """Stage k holds the layers the end of stage k depends on that no earlier stage holds; the
    head holds the rest. Found from the graph, so shortcuts across stages need no bookkeeping."""
    stages: dict[str, int] = {}
    for stage, end in enumerate(stage_ends):
        for layer in keras.Model(inputs, end).layers:
            stages.setdefault(layer.name, stage)
    head = len(stage_ends)
    return {layer.name: stages.get(layer.name, head) for layer in model.layers}


def calibrate_batch_norm(model: keras.Model, images, count: int = 64) -> keras.Model:
    """Give every BatchNormalization the moving mean and variance of ``images``, as training does.

    Fresh weights leave the moving statistics at mean 0 / variance 1, so activations drift
    tenfold per block to ranges no trained network has, and an int8 export of such a model is
    not the graph a trained one gives (MobileNetV3's ADD of ReLU6(x + 3) gets an input scale
    XNNPACK refuses and falls out of the delegate). Latency measured on fresh weights means
    something only after this. One forward pass of ``images[:count]`` in training mode with
    momentum 0 (64 images give every channel thousands of values).
    """
    norms = [m for m in model.submodules if isinstance(m, layers.BatchNormalization)]
    momenta = [norm.momentum for norm in norms]
    try:
        for norm in norms:
            norm.momentum = 0.0
        model(images[:count], training=True)
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
    return model


def _block(x, block: specs.Block, kind: str, norm: mk.Norm, depth_multiplier: int, padding: str):
    if block.block == "ds":
        return mk.conv_unit(x, block.filters, kernel=block.kernel, stride=block.stride,
                            kind=kind, activation=block.act, name=block.names, norm=norm,
                            depth_multiplier=depth_multiplier, padding=padding)
    return mk.inverted_residual(x, block.filters, kernel=block.kernel, stride=block.stride,
                                expansion=block.expansion, kind=kind, activation=block.act,
                                se_ratio=block.se, name=block.names, norm=norm, mid=block.expanded,
                                padding=padding)


def _head(x, spec: specs.NetSpec, plan: specs.Plan, config: BuilderConfig):
    """Pooling -> [1x1 hidden conv] -> [dropout] -> classifier -> [softmax]."""
    conv = spec.classifier == "conv"
    x = layers.GlobalAveragePooling2D(keepdims=conv, name="global_pool")(x)
    if plan.hidden:
        x = layers.Conv2D(plan.hidden, 1, name="Conv_2")(x)
        x = mk.activate(x, spec.act, "Conv_2/act")
    if config.dropout > 0:
        x = layers.Dropout(config.dropout, name="dropout")(x)
    classifier, output = spec.top_names
    if conv:
        x = layers.Conv2D(config.classes, 1, name=classifier)(x)
        x = layers.Flatten(name="flatten")(x)
    else:
        x = layers.Dense(config.classes, name=classifier)(x)
    if config.classifier_activation == "linear":
        return x
    return layers.Activation("softmax", name=output)(x)


