"""Conv units of each kind and the blocks built from them, as plain tf_keras layer graphs.

Every block is a function ``block(x, filters, *, kernel, stride, kind, act, name, ...) -> tensor``
that adds built-in Keras layers (plus the registered ``ShiftedReLU6`` and ``HardSigmoid`` below)
to a functional graph, so every model made of them saves to ``.keras`` and loads back without
custom code and without Lambda layers.

Conv kinds (../shared/CONTRACTS.md, "Conv kinds"): a spatial KxK convolution from M to N
channels is

- ``separable``: depthwise KxK (carries the stride) -> BN -> act -> pointwise 1x1 M->N;
- ``standard``: one KxK conv M->N (carries the stride);
- ``spatial``: Kx1 conv M->N with stride (s, 1), then 1xK conv N->N with stride (1, s).

The rule inside blocks: ``standard`` collapses each depthwise KxK conv and the 1x1 conv paired
with it into one full KxK conv. In a depthwise-separable unit (MobileNetV1) that is the following
pointwise conv; in an inverted residual with expansion it is the expansion 1x1 (the "fused"
MBConv of EfficientNetV2: KxK conv M->tM, then the linear 1x1 projection); without expansion it
is the projection (one KxK conv M->N with BN and the block's activation, as EfficientNetV2's
fused block with expand ratio 1). ``spatial`` replaces each such full KxK conv by the Kx1 + 1xK
pair. 1x1 convolutions are the same in every kind.

Activations are chosen so that int8 TFLite stays inside XNNPACK (whose int8 kernels have no
HARD_SWISH): hard-sigmoid is ReLU6(x + 3) / 6 written so that each TFLite op it becomes (ADD with
fused ReLU6, MUL) gets its own quantization range, and squeeze-excite gates with a ``Multiply``.
Hard-swish is ``Multiply([x / 6, ReLU6(x + 3)])``: the TFLite converter fuses x * ReLU6(x + 3) / 6
with the 1/6 on the product or on the gate into one HARD_SWISH op (in post-training int8 too),
but not this order, which stays MUL, ADD (fused ReLU6), MUL.
"""

from __future__ import annotations

from mobilekit.errors import UsageError
from mobilekit.keras import keras, layers
from mobilekit.nets.specs import Names, Norm, make_divisible

KINDS = ("separable", "standard", "spatial")
PADDINGS = ("same", "symmetric")
ACTIVATIONS = ("relu", "relu6", "hard_swish", "linear")


def padded(x, kernel, stride, *, padding: str, dilation=1, name: str):
    """``x`` and the Keras padding for a conv: TF's "same", or with ``padding="symmetric"`` and a
    stride > 1, an explicit ZeroPadding2D of ``dilation * (kernel // 2)`` on every side then
    "valid".

    At stride 2 on even sizes "same" pads only bottom/right; symmetric padding is what PyTorch
    does and the stem/downsampling form XNNPACK's sparse inference (and tfmot's
    PruneForLatencyOnXNNPack) requires. At stride 1 the two are the same function.
    """
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    if padding == "same" or (sh, sw) == (1, 1):
        return x, "same"
    if padding != "symmetric":
        raise ValueError(f"padding: one of {', '.join(PADDINGS)}, got {padding!r}")
    pad = ((dh * (kh // 2),) * 2, (dw * (kw // 2),) * 2)
    return layers.ZeroPadding2D(pad, name=name + "_pad")(x), "valid"


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise UsageError(f"--kind: unknown conv kind {kind!r} (choose from {', '.join(KINDS)})")
    return kind


@keras.utils.register_keras_serializable(package="mobilekit")
class ShiftedReLU6(layers.Layer):
    """ReLU6(x + 3), the gate of hard-swish before its 1/6: one TFLite ADD with fused ReLU6.

    The ReLU6 is held in ``self.activation`` (keras' ``relu``, a name tfmot accepts) so that QAT
    (mobilekit.train.qat) can give the ADD's output its own range where a MUL follows in the same
    layer (HardSigmoid), and the int8 graph needs no float fallback.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.activation = keras.activations.relu

    def call(self, inputs):
        return self.activation(inputs + 3.0, max_value=6.0)


@keras.utils.register_keras_serializable(package="mobilekit")
class HardSigmoid(ShiftedReLU6):
    """ReLU6(x + 3) / 6, the squeeze-excite gate of MobileNetV3.

    TFLite has no hard-sigmoid op; this becomes ADD (fused ReLU6) then MUL.
    """

    def call(self, inputs):
        return super().call(inputs) * (1.0 / 6.0)


def as_names(name: str | Names) -> Names:
    return name if isinstance(name, Names) else Names(f"{name}_{{role}}")


def activation(x, act: str, name: str):
    """Apply one of ACTIVATIONS as a quantizable layer ('linear' adds nothing)."""
    if act == "relu":
        return layers.ReLU(name=name)(x)
    if act == "relu6":
        return layers.ReLU(6.0, name=name)(x)
    if act == "hard_swish":  # (x / 6) * ReLU6(x + 3): not fused into HARD_SWISH (module doc)
        scaled = layers.Rescaling(1.0 / 6.0, name=name + "_scale")(x)
        return layers.Multiply(name=name)([scaled, ShiftedReLU6(name=name + "_gate")(x)])
    if act == "linear":
        return x
    raise ValueError(f"unknown activation {act!r} (choose from {', '.join(ACTIVATIONS)})")


def bn_act(x, conv_name: str, names: Names, act: str, norm: Norm):
    x = layers.BatchNormalization(momentum=norm.momentum, epsilon=norm.epsilon,
                                  name=names.bn.format(conv_name))(x)
    return activation(x, act, names.act.format(conv_name))


def conv_bn(x, filters: int, kernel: int = 1, stride: int = 1, *, act: str = "relu6",
            name: str | Names = "conv", role: str = "conv", norm: Norm = Norm(),
            dilation: int = 1, padding: str = "same"):
    """A plain conv (any kernel, no kind applied) -> BN -> act; used for 1x1 convs and stems."""
    names = as_names(name)
    x, mode = padded(x, kernel, stride, padding=padding, dilation=dilation, name=names(role))
    x = layers.Conv2D(filters, kernel, strides=stride, padding=mode, use_bias=False,
                      dilation_rate=dilation, name=names(role))(x)
    return bn_act(x, names(role), names, act, norm)


def full_conv(x, filters: int, kernel: int, stride: int, *, kind: str, act: str, names: Names,
              role: str, norm: Norm, dilation: int = 1, padding: str = "same"):
    """The full KxK conv M->N of kind ``standard`` or ``spatial`` (-> BN -> act after it)."""
    if kind == "standard":
        return conv_bn(x, filters, kernel, stride, act=act, name=names, role=role, norm=norm,
                       dilation=dilation, padding=padding)
    if kind != "spatial":
        raise ValueError(f"full_conv takes kind standard or spatial, not {kind!r}")
    for shape, strides, rate, suffix in (((kernel, 1), (stride, 1), (dilation, 1), "_kx1"),
                                         ((1, kernel), (1, stride), (1, dilation), "")):
        x, mode = padded(x, shape, strides, padding=padding, dilation=rate,
                         name=names(role) + suffix)
        x = layers.Conv2D(filters, shape, strides=strides, padding=mode, use_bias=False,
                          dilation_rate=rate, name=names(role) + suffix)(x)
    return bn_act(x, names(role), names, act, norm)


def depthwise_bn(x, kernel: int, stride: int, *, act: str, names: Names, role: str, norm: Norm,
                 depth_multiplier: int = 1, dilation: int = 1, padding: str = "same"):
    x, mode = padded(x, kernel, stride, padding=padding, dilation=dilation, name=names(role))
    x = layers.DepthwiseConv2D(kernel, strides=stride, padding=mode, use_bias=False,
                               depth_multiplier=depth_multiplier, dilation_rate=dilation,
                               name=names(role))(x)
    return bn_act(x, names(role), names, act, norm)


def conv_unit(x, filters: int, *, kernel: int = 3, stride: int = 1, kind: str = "separable",
              act: str = "relu6", name: str | Names = "conv", norm: Norm = Norm(),
              depth_multiplier: int = 1, dilation: int = 1, roles: tuple[str, str] = ("dw", "pw"),
              padding: str = "same"):
    """A KxK conv M->N of ``kind`` with BN and ``act`` (separable: after both of its convs).

    ``roles`` name the depthwise and pointwise convs of the separable kind; the full conv of the
    other kinds takes the pointwise role (it replaces that pair).
    """
    names = as_names(name)
    check_kind(kind)
    if kind != "separable":
        return full_conv(x, filters, kernel, stride, kind=kind, act=act, names=names,
                         role=roles[1], norm=norm, dilation=dilation, padding=padding)
    x = depthwise_bn(x, kernel, stride, act=act, names=names, role=roles[0], norm=norm,
                     depth_multiplier=depth_multiplier, dilation=dilation, padding=padding)
    return conv_bn(x, filters, 1, act=act, name=names, role=roles[1], norm=norm)


def squeeze_excite(x, *, ratio: float = 0.25, name: str | Names = "se", divisor: int = 8):
    """Channel gate: GAP(keepdims) -> 1x1 conv -> ReLU -> 1x1 conv -> hard-sigmoid -> x * gate."""
    names = as_names(name)
    channels = x.shape[-1]
    gate = layers.GlobalAveragePooling2D(keepdims=True, name=names("squeeze_excite/AvgPool"))(x)
    gate = layers.Conv2D(make_divisible(channels * ratio, divisor), 1, padding="same",
                         name=names("squeeze_excite/Conv"))(gate)
    gate = layers.ReLU(name=names("squeeze_excite/Relu"))(gate)
    gate = layers.Conv2D(channels, 1, padding="same", name=names("squeeze_excite/Conv_1"))(gate)
    gate = HardSigmoid(name=names("squeeze_excite/HardSigmoid"))(gate)
    return layers.Multiply(name=names("squeeze_excite/Mul"))([x, gate])


def inverted_residual(x, filters: int, *, kernel: int = 3, stride: int = 1,
                      expansion: float = 6.0, kind: str = "separable", act: str = "relu6",
                      se: float = 0.0, name: str | Names = "ir", norm: Norm = Norm(),
                      expanded: int | None = None, dilation: int = 1, padding: str = "same"):
    """Inverted residual / MBConv: 1x1 expand -> depthwise KxK -> [SE] -> linear 1x1 project.

    ``expanded`` overrides round(M * expansion) (MobileNetV3 rounds it to a multiple of 8);
    the shortcut is added when stride is 1 and channels match. See the module doc for kinds.
    """
    names = as_names(name)
    check_kind(kind)
    shortcut, in_channels = x, x.shape[-1]
    mid = expanded if expanded is not None else int(round(in_channels * expansion))
    expand = expansion != 1
    if kind == "separable":
        if expand:
            x = conv_bn(x, mid, 1, act=act, name=names, role="expand", norm=norm)
        x = depthwise_bn(x, kernel, stride, act=act, names=names, role="depthwise", norm=norm,
                         dilation=dilation, padding=padding)
    else:
        x = full_conv(x, mid if expand else filters, kernel, stride, kind=kind, act=act,
                      names=names, role="fused", norm=norm, dilation=dilation, padding=padding)
    if se:
        x = squeeze_excite(x, ratio=se, name=names)
    if kind == "separable" or expand:
        x = conv_bn(x, filters, 1, act="linear", name=names, role="project", norm=norm)
    if stride == 1 and in_channels == filters:
        x = layers.Add(name=names("add"))([shortcut, x])
    return x


def _shortcut(x, filters: int, stride: int, names: Names, norm: Norm):
    """Identity, or a strided 1x1 conv + BN when the shape changes."""
    if stride == 1 and x.shape[-1] == filters:
        return x
    return conv_bn(x, filters, 1, stride, act="linear", name=names, role="shortcut", norm=norm)


def residual_block(x, filters: int, *, kernel: int = 3, stride: int = 1,
                   kind: str = "separable", act: str = "relu", name: str | Names = "res",
                   norm: Norm = Norm()):
    """ResNet basic block: two KxK conv units (the second linear) + shortcut, then act."""
    names = as_names(name)
    shortcut = _shortcut(x, filters, stride, names, norm)
    x = conv_unit(x, filters, kernel=kernel, stride=stride, kind=kind, act=act, name=names,
                  norm=norm, roles=("dw1", "conv1"))
    x = conv_unit(x, filters, kernel=kernel, kind=kind, act="linear", name=names, norm=norm,
                  roles=("dw2", "conv2"))
    x = layers.Add(name=names("add"))([shortcut, x])
    return activation(x, act, names("out"))


def bottleneck_block(x, filters: int, *, kernel: int = 3, stride: int = 1,
                     kind: str = "separable", act: str = "relu", expansion: int = 4,
                     name: str | Names = "bottleneck", norm: Norm = Norm()):
    """ResNet bottleneck: 1x1 reduce -> KxK conv unit -> linear 1x1 expand to filters*expansion
    (+ shortcut), then act."""
    names = as_names(name)
    out = filters * expansion
    shortcut = _shortcut(x, out, stride, names, norm)
    x = conv_bn(x, filters, 1, act=act, name=names, role="reduce", norm=norm)
    x = conv_unit(x, filters, kernel=kernel, stride=stride, kind=kind, act=act, name=names,
                  norm=norm, roles=("dw", "conv"))
    x = conv_bn(x, out, 1, act="linear", name=names, role="expand", norm=norm)
    x = layers.Add(name=names("add"))([shortcut, x])
    return activation(x, act, names("out"))


def plain_conv(x, filters: int, kernel: int, stride: int, *, kind: str, names: Names, role: str,
               pointwise_first: bool = False):
    """A KxK conv of ``kind`` with nothing between its parts (as keras' SeparableConv2D), no BN.

    ``pointwise_first`` puts the separable kind's 1x1 before its depthwise conv.
    """
    check_kind(kind)
    if kind == "standard":
        return layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                             name=names(role))(x)
    if kind == "spatial":
        x = layers.Conv2D(filters, (kernel, 1), strides=(stride, 1), padding="same",
                          use_bias=False, name=names(role) + "_kx1")(x)
        return layers.Conv2D(filters, (1, kernel), strides=(1, stride), padding="same",
                             use_bias=False, name=names(role))(x)
    pointwise = layers.Conv2D(filters, 1, use_bias=False, name=names(role) + "_pw")
    depthwise = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False,
                                       name=names(role) + "_dw")
    return depthwise(pointwise(x)) if pointwise_first else pointwise(depthwise(x))


def xception_block(x, filters: int, *, kernel: int = 3, stride: int = 1,
                   kind: str = "separable", act: str = "relu", repeats: int = 2,
                   pointwise_first: bool = False, name: str | Names = "xception",
                   norm: Norm = Norm()):
    """Xception block: KxK conv of ``kind`` -> BN, repeated with ``act`` between, the last one
    carrying the stride; plus a strided 1x1 conv + BN shortcut (identity when the shape is
    kept); ``act`` after the sum.

    Xception's ReLU -> separable -> BN units, with the ReLU that opens each block moved to the end
    of the previous one (after its Add): int8 TFLite then fuses every activation into an ADD or
    CONV, as XNNPACK has no stand-alone int8 RELU. ``pointwise_first``: the variant with the 1x1
    before the depthwise conv (for ``separable``).
    """
    names = as_names(name)
    shortcut = _shortcut(x, filters, stride, names, norm)
    for i in range(repeats):
        if i:
            x = activation(x, act, names(f"act{i}"))
        role = f"sepconv{i + 1}"
        x = plain_conv(x, filters, kernel, stride if i == repeats - 1 else 1, kind=kind,
                       names=names, role=role, pointwise_first=pointwise_first)
        x = layers.BatchNormalization(momentum=norm.momentum, epsilon=norm.epsilon,
                                      name=names.bn.format(names(role)))(x)
    x = layers.Add(name=names("add"))([shortcut, x])
    return activation(x, act, names("out"))


def inception_block(x, filters: int, *, kernels: tuple[int, ...] = (3, 5), stride: int = 1,
                    kind: str = "separable", act: str = "relu", name: str | Names = "inception",
                    norm: Norm = Norm()):
    """Parallel kernels: 1x1 | 1x1 reduce -> KxK conv unit (per kernel) | 3x3 max-pool -> 1x1,
    concatenated; every branch gives ``filters`` channels and carries the stride."""
    names = as_names(name)
    branches = [conv_bn(x, filters, 1, stride, act=act, name=names, role="b1x1", norm=norm)]
    for k in kernels:
        b = conv_bn(x, filters, 1, act=act, name=names, role=f"b{k}x{k}_reduce", norm=norm)
        branches.append(conv_unit(b, filters, kernel=k, stride=stride, kind=kind, act=act,
                                  name=names, norm=norm, roles=(f"b{k}x{k}_dw", f"b{k}x{k}")))
    pool = layers.MaxPooling2D(3, strides=stride, padding="same", name=names("pool"))(x)
    branches.append(conv_bn(pool, filters, 1, act=act, name=names, role="pool_proj", norm=norm))
    return layers.Concatenate(name=names("concat"))(branches)


def factorised_conv(x, filters: int, *, kernel: int = 7, stride: int = 1, act: str = "relu",
                    name: str | Names = "factorised", norm: Norm = Norm()):
    """Inception-v3's replacement of a KxK conv: 1xK conv -> BN -> act -> Kx1 conv -> BN -> act.

    (Unlike the ``spatial`` kind, each half has its own BN and activation.)
    """
    names = as_names(name)
    x = layers.Conv2D(filters, (1, kernel), strides=(1, stride), padding="same", use_bias=False,
                      name=names("1xk"))(x)
    x = bn_act(x, names("1xk"), names, act, norm)
    x = layers.Conv2D(filters, (kernel, 1), strides=(stride, 1), padding="same", use_bias=False,
                      name=names("kx1"))(x)
    return bn_act(x, names("kx1"), names, act, norm)


def aspp(x, filters: int, *, rates: tuple[int, ...] = (6, 12, 18), kind: str = "separable",
         act: str = "relu", name: str | Names = "aspp", norm: Norm = Norm()):
    """Atrous spatial pyramid pooling: 1x1 | dilated 3x3 conv units | image pooling, merged by 1x1.

    Concat -> 1x1 equals the sum of one 1x1 per branch, so the image-pooling branch (1x1 spatial)
    is projected on its own (with the bias) and broadcast-added: no upsampling op, which keeps
    int8 in XNNPACK.
    """
    names = as_names(name)
    branches = [conv_bn(x, filters, 1, act=act, name=names, role="b0", norm=norm)]
    for i, rate in enumerate(rates, 1):
        branches.append(conv_unit(x, filters, kernel=3, kind=kind, act=act, name=names,
                                  norm=norm, dilation=rate, roles=(f"b{i}_dw", f"b{i}")))
    merged = layers.Concatenate(name=names("concat"))(branches)
    merged = conv_bn(merged, filters, 1, act="linear", name=names, role="project", norm=norm)
    pooled = layers.GlobalAveragePooling2D(keepdims=True, name=names("image_pool"))(x)
    pooled = conv_bn(pooled, filters, 1, act=act, name=names, role="image_conv", norm=norm)
    pooled = layers.Conv2D(filters, 1, name=names("image_project"))(pooled)
    x = layers.Add(name=names("merge"))([merged, pooled])
    return activation(x, act, names("out"))


def ghost_module(x, filters: int, *, ratio: int = 2, kernel: int = 1, cheap_kernel: int = 3,
                 stride: int = 1, kind: str = "separable", act: str = "relu",
                 name: str | Names = "ghost", norm: Norm = Norm()):
    """GhostNet module: filters/ratio primary channels from a conv, the rest as cheap depthwise
    "ghosts" of them, concatenated. The primary conv takes ``kind`` when ``kernel`` > 1."""
    names = as_names(name)
    if filters % ratio:
        raise ValueError(f"ghost_module: filters {filters} must be a multiple of ratio {ratio}")
    primary_channels = filters // ratio
    if kernel == 1:
        primary = conv_bn(x, primary_channels, 1, stride, act=act, name=names, role="primary",
                          norm=norm)
    else:
        primary = conv_unit(x, primary_channels, kernel=kernel, stride=stride, kind=kind,
                            act=act, name=names, norm=norm, roles=("primary_dw", "primary"))
    cheap = depthwise_bn(primary, cheap_kernel, 1, act=act, names=names, role="cheap", norm=norm,
                         depth_multiplier=ratio - 1)
    return layers.Concatenate(name=names("concat"))([primary, cheap])
