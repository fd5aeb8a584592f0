"""Builder registry: MobileNet V1/V2/V3 from their spec tables, with a conv-kind switch.

``build_model`` decodes a table (mobilekit.nets.specs) and lays out stem -> body -> head. Every knob is
validated before any layer exists, so bad flags fail fast with a one-line ``UsageError``. The
models take float32 input already normalized to [-1, 1] (no Rescaling layer inside); layer names
follow keras.applications so its weights load by name for ``kind="separable"``.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

from mobilekit.nets import layers as mk
from mobilekit.nets import specs
from mobilekit.errors import UsageError
from mobilekit.keras import keras, layers

BUILDERS: dict[str, specs.NetSpec] = {
    "mobilenet_v1": specs.MOBILENET_V1,
    "mobilenet_v2": specs.MOBILENET_V2,
    "mobilenet_v3_small": specs.MOBILENET_V3_SMALL,
    "mobilenet_v3_large": specs.MOBILENET_V3_LARGE,
}
DEFAULT_RESOLUTION = 224
CLASSIFIER_ACTIVATIONS = ("softmax", "linear")


def default_resolution(name: str) -> int:
    _spec(name)
    return DEFAULT_RESOLUTION


def _spec(name: str) -> specs.NetSpec:
    if name not in BUILDERS:
        raise UsageError(f"unknown builder {name!r} (choose from {', '.join(BUILDERS)})")
    return BUILDERS[name]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def builder_config(name: str, *, kind: str = "separable", alpha: float = 1.0,
                   resolution: int | None = None, classes: int = 1000, include_top: bool = True,
                   dropout: float | None = None, depth_multiplier: int = 1,
                   minimalistic: bool = False, classifier_activation: str = "softmax",
                   padding: str = "same") -> dict:
    """Validate the knobs and return them all filled in (JSON-able; goes into run.json/manifest).

    ``classifier_activation`` "linear" makes the model output logits: int8 TFLite then stays
    entirely inside XNNPACK, whose int8 kernels have no SOFTMAX. ``padding`` "symmetric" pads
    stride-2 convolutions by k // 2 on every side (mobilekit.nets.layers.padded): the form XNNPACK's
    sparse inference needs (recipes/prune_xnnpack.py).
    """
    spec = _spec(name)
    mk.check_kind(kind)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha) \
            or alpha <= 0:
        raise UsageError(f"--alpha: must be a number > 0, got {alpha!r}")
    resolution = DEFAULT_RESOLUTION if resolution is None else resolution
    min_resolution = specs.strides(spec)
    if not _is_int(resolution) or resolution < min_resolution:
        raise UsageError(f"--resolution: {name} downsamples by {min_resolution}; "
                         f"resolution must be an integer >= {min_resolution}, got {resolution!r}")
    if not _is_int(classes) or classes < 1:
        raise UsageError(f"--classes: must be an integer >= 1, got {classes!r}")
    dropout = spec.dropout if dropout is None else dropout
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
            or not 0 <= dropout < 1:
        raise UsageError(f"dropout: must be in [0, 1), got {dropout!r}")
    if not _is_int(depth_multiplier) or depth_multiplier < 1:
        raise UsageError(f"--depth-multiplier: must be an integer >= 1, got {depth_multiplier!r}")
    if depth_multiplier != 1 and not (spec.depth_multiplier and kind == "separable"):
        raise UsageError(f"--depth-multiplier: only mobilenet_v1 with kind separable has a "
                         f"depthwise channel multiplier ({name}, {kind})")
    if minimalistic and not spec.minimalistic:
        raise UsageError(f"--minimalistic: only MobileNetV3 builders have it, not {name}")
    if padding not in mk.PADDINGS:
        raise UsageError(f"--padding: one of {', '.join(mk.PADDINGS)}, got {padding!r}")
    if classifier_activation not in CLASSIFIER_ACTIVATIONS:
        raise UsageError(f"classifier_activation: one of {', '.join(CLASSIFIER_ACTIVATIONS)}, "
                         f"got {classifier_activation!r}")
    plan = specs.decode(spec, float(alpha))
    if min([plan.stem] + [b.filters for b in plan.blocks]) < 1:
        raise UsageError(f"--alpha: {alpha} leaves a layer of {name} without channels")
    config = {"name": name, "kind": kind, "alpha": float(alpha), "resolution": resolution,
              "classes": classes, "include_top": bool(include_top), "dropout": float(dropout),
              "classifier_activation": classifier_activation, "padding": padding}
    if spec.depth_multiplier:
        config["depth_multiplier"] = depth_multiplier
    if spec.minimalistic:
        config["minimalistic"] = bool(minimalistic)
    return config


def build_model(name: str, **knobs) -> keras.Model:
    """A fresh model of builder ``name`` (knobs: see ``builder_config``)."""
    config = builder_config(name, **knobs)
    spec = _spec(name)
    if config.get("minimalistic"):
        spec = specs.minimal(spec)
    plan = specs.decode(spec, config["alpha"])
    kind, norm = config["kind"], spec.norm
    res = config["resolution"]

    inputs = layers.Input((res, res, 3), name="input")
    # stem: a standard 3x3 stride-2 conv in every kind (the kind switch is for the body)
    x = mk.conv_bn(inputs, plan.stem, 3, 2, act=spec.act, name=spec.stem_names,
                   role=spec.stem_names.template, norm=norm, padding=config["padding"])
    # body: the table's blocks; each stride-2 row starts a stage
    for block in plan.blocks:
        x = _block(x, block, kind, norm, config.get("depth_multiplier", 1), config["padding"])
    if plan.last_conv:  # V2/V3 widen the features with a 1x1 conv (kept without top)
        x = mk.conv_bn(x, plan.last_conv, 1, act=spec.act, name=spec.last_names,
                       role=spec.last_names.template, norm=norm)
    if config["include_top"]:
        x = _head(x, spec, plan, config)
    return keras.Model(inputs, x, name=name)


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
                            kind=kind, act=block.act, name=block.names, norm=norm,
                            depth_multiplier=depth_multiplier, padding=padding)
    return mk.inverted_residual(x, block.filters, kernel=block.kernel, stride=block.stride,
                                expansion=block.expansion, kind=kind, act=block.act, se=block.se,
                                name=block.names, norm=norm, expanded=block.expanded,
                                padding=padding)


def _head(x, spec: specs.NetSpec, plan: specs.Plan, config: dict):
    """Pooling -> [1x1 hidden conv] -> [dropout] -> classifier -> [softmax]."""
    conv = spec.classifier == "conv"
    x = layers.GlobalAveragePooling2D(keepdims=conv, name="global_pool")(x)
    if plan.hidden:
        x = layers.Conv2D(plan.hidden, 1, name="Conv_2")(x)
        x = mk.activation(x, spec.act, "Conv_2/act")
    if config["dropout"] > 0:
        x = layers.Dropout(config["dropout"], name="dropout")(x)
    classifier, output = spec.top_names
    if conv:
        x = layers.Conv2D(config["classes"], 1, name=classifier)(x)
        x = layers.Flatten(name="flatten")(x)
    else:
        x = layers.Dense(config["classes"], name=classifier)(x)
    if config["classifier_activation"] == "linear":
        return x
    return layers.Activation("softmax", name=output)(x)


def load_keras(path, *, trust: bool = False) -> keras.Model:
    """Load RUN/model.keras or a .keras file; .h5 / SavedModel (can run code) only with ``trust``."""
    path = Path(path)
    if path.is_dir() and (path / "model.keras").is_file():
        path = path / "model.keras"
    elif path.is_dir() and not (path / "saved_model.pb").is_file():
        raise UsageError(f"{path}: not a run directory (no model.keras) nor a SavedModel")
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    is_keras = path.suffix == ".keras" and path.is_file()
    if not is_keras and not trust:
        raise UsageError(f"{path}: only .keras files and run directories load without "
                         f"--trust-model (.h5 and SavedModel files can run arbitrary code)")
    from mobilekit.train import qat  # the QAT scope knows the quantize wrappers and mobilekit configs
    try:
        with qat.quantize_scope():
            if is_keras and _is_qat_archive(path):
                return _load_qat_archive(path)
            return keras.models.load_model(path, compile=False, safe_mode=not trust)
    except (OSError, ValueError, TypeError, KeyError, zipfile.BadZipFile) as exc:
        raise UsageError(f"{path}: not a loadable Keras model ({str(exc).splitlines()[0]})") from exc


def _is_qat_archive(path: Path) -> bool:
    with zipfile.ZipFile(path) as archive:
        return b'"QuantizeLayer"' in archive.read("config.json")


def _load_qat_archive(path: Path) -> keras.Model:
    """A QAT .keras file (made by ``mobilekit.train.qat.quantize_aware``).

    tfmot 0.8's wrappers do not survive tf_keras' own .keras loading (their variables are
    tracked differently when rebuilt from a config), but ``load_weights`` into a freshly
    quantized model works: so rebuild the float model the QAT graph wraps, quantize it again
    and load the saved weights into that.
    """
    from mobilekit.train import qat

    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    float_model = keras.saving.deserialize_keras_object(_float_config(config), safe_mode=True)
    model = qat.quantize_aware(float_model)
    model.load_weights(path)
    return model


def _float_config(config: dict) -> dict:
    """The functional config with tfmot's QuantizeLayer removed and wrappers unwrapped."""
    renamed, kept = {}, []
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "QuantizeLayer":
            renamed[layer["name"]] = _inbound_names(layer["inbound_nodes"])[0]
            continue
        if layer["class_name"] == "QuantizeWrapperV2":
            inner = layer["config"]["layer"]
            renamed[layer["name"]] = inner["config"]["name"]
            layer = {**layer, **{k: v for k, v in inner.items() if k != "build_config"},
                     "name": inner["config"]["name"],
                     "config": {**inner["config"], **_float_activation(inner["config"])}}
        kept.append(layer)
    body = {**config["config"], "layers": kept}
    return {**config, "config": _rename(body, renamed)}


def _float_activation(config: dict) -> dict:
    """The activation a wrapped layer had before QAT (tfmot's NoOpActivation was "linear")."""
    activation = config.get("activation")
    if not (isinstance(activation, dict)
            and activation.get("class_name") == "QuantizeAwareActivation"):
        return {}
    activation = activation["config"]["activation"]
    if isinstance(activation, dict) and activation.get("class_name") == "NoOpActivation":
        activation = "linear"
    return {"activation": activation}


def _inbound_names(value) -> list[str]:
    if isinstance(value, dict):
        if "keras_history" in value:
            return [value["keras_history"][0]]
        return [n for v in value.values() for n in _inbound_names(v)]
    if isinstance(value, list):
        if value and isinstance(value[0], str):  # [layer name, node index, tensor index, kwargs]
            return [value[0]]
        return [n for v in value for n in _inbound_names(v)]
    return []


def _rename(value, renamed: dict):
    """Point references to renamed layers (keras_history, [name, node, tensor]) at the new names."""
    if isinstance(value, dict):
        return {k: [renamed.get(v[0], v[0]), *v[1:]] if k == "keras_history"
                else _rename(v, renamed) for k, v in value.items()}
    if isinstance(value, list):
        if value and isinstance(value[0], str) and value[0] in renamed:
            return [renamed[value[0]], *value[1:]]
        return [_rename(v, renamed) for v in value]
    return value
