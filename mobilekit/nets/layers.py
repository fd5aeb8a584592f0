"""Conv units of each kind and the blocks built from them, as plain tf_keras layer graphs.

Every block is a function ``block(x, filters, *, kernel, stride, kind, activation, padding,
dilation, name, norm, ...) -> tensor`` that adds built-in Keras layers (plus the registered
``ShiftedReLU6`` and ``HardSigmoid`` below) to a functional graph, so every model made of them
saves to ``.keras`` and loads back without custom code and without Lambda layers. The keywords
mean the same in every block: ``filters`` the block's output channels, ``expansion`` mid / input
channels and ``mid`` the mid channels themselves, ``se_ratio`` squeeze-excite's squeezed /
gated channels, ``name`` a prefix or a ``Names``. Multi-branch blocks take one value per
branch under the plural (``kernels``, ``dilations``).

Conv kinds (../shared/CONTRACTS.md, "Conv kinds"): a spatial KxK convolution from M to N
channels is

- ``separable``: depthwise KxK (carries the stride) -> pointwise 1x1 M->N;
- ``standard``: one KxK conv M->N (carries the stride);
- ``spatial``: Kx1 conv M->N with stride (s, 1), then 1xK conv N->N with stride (1, s).

``kind_convs`` is the one place that applies a kind; each block decides what goes between and
after the parts it returns (the MobileNet unit: BN and activation after the depthwise and after
the pointwise conv, and after the spatial pair; Xception: nothing between, one BN after). Kinds
arrive checked by the builder configuration (mobilekit.nets.config); an impossible one is a
ValueError from ``kind_convs``.

The rule inside blocks: ``standard`` collapses each depthwise KxK conv and the 1x1 conv paired
with it into one full KxK conv. In a depthwise-separable unit (MobileNetV1) that is the following
pointwise conv; in an inverted residual with expansion it is the expansion 1x1 (the "fused"
MBConv of EfficientNetV2: KxK conv M->tM, then the linear 1x1 projection); without expansion it
is the projection (one KxK conv M->N with BN and the block's activation, as EfficientNetV2's
fused block with expand ratio 1). ``spatial`` replaces each such full KxK conv by the Kx1 + 1xK
pair. 1x1 convolutions are the same in every kind.

``padding`` "symmetric" pads strided convs explicitly on every side (``padded``); at stride 1 it
is the same function as "same", so it changes nothing in stride-1 blocks (ASPP).

Activations are chosen so that int8 TFLite stays inside XNNPACK (whose int8 kernels have no
HARD_SWISH): hard-sigmoid is ReLU6(x + 3) / 6 written so that each TFLite op it becomes (ADD with
fused ReLU6, MUL) gets its own quantization range, and squeeze-excite gates with a ``Multiply``.
Hard-swish is ``Multiply([x / 6, ReLU6(x + 3)])``: the TFLite converter fuses x * ReLU6(x + 3) / 6
with the 1/6 on the product or on the gate into one HARD_SWISH op (in post-training int8 too),
but not this order, which stays MUL, ADD (fused ReLU6), MUL.
"""

from __future__ import annotations

from dataclasses import dataclass

from mobilekit.keras import keras, layers
from mobilekit.nets.config import KINDS, PADDINGS
from mobilekit.nets.specs import Names, Norm, make_divisible

ACTIVATIONS = ("relu", "relu6", "hard_swish", "linear")


def padded(x, kernel, stride, *, padding: str, dilation=1, name: str):
    """``x`` and the Keras padding for a conv: TF's "same", or with ``padding="symmetric"`` and a
    stride > 1, an explicit ZeroPadding2D of ``dilation * (kernel // 2)`` on every side then
    "valid".

    At stride 2 on even sizes "same" pads only bottom/right; symmetric padding is what PyTorch
    does and the stem/downsampling form XNNPACK's sparse inference (and tfmot's
    PruneForLatencyOnXNNPack) requires. At stride 1, or for a 1x1 kernel, the two are the same
    function.
    """
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    if padding == "same" or (sh, sw) == (1, 1):
        return x, "same"
    if padding != "symmetric":
        raise ValueError(f"padding: one of {', '.join(PADDINGS)}, got {padding!r}")
    pad = ((dh * (kh // 2),) * 2, (dw * (kw // 2),) * 2)
    if pad == ((0, 0), (0, 0)):
        return x, "same"
    return layers.ZeroPadding2D(pad, name=name + "_pad")(x), "valid"


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


def _names(name: str | Names) -> Names:
    return name if isinstance(name, Names) else Names(f"{name}_{{role}}")


def activate(x, activation: str, name: str):
    """Apply one of ACTIVATIONS as a quantizable layer ('linear' adds nothing)."""
    if activation == "relu":
        return layers.ReLU(name=name)(x)
    if activation == "relu6":
        return layers.ReLU(6.0, name=name)(x)
    if activation == "hard_swish":  # (x / 6) * ReLU6(x + 3): not fused into HARD_SWISH (module doc)
        scaled = layers.Rescaling(1.0 / 6.0, name=name + "_scale")(x)
        return layers.Multiply(name=name)([scaled, ShiftedReLU6(name=name + "_gate")(x)])
    if activation == "linear":
        return x
    raise ValueError(f"unknown activation {activation!r} (choose from {', '.join(ACTIVATIONS)})")


def _bn(x, conv_name: str, names: Names, norm: Norm):
    return layers.BatchNormalization(momentum=norm.momentum, epsilon=norm.epsilon,
                                     name=names.bn.format(conv_name))(x)


def _bn_act(x, conv_name: str, names: Names, activation: str, norm: Norm):
    return activate(_bn(x, conv_name, names, norm), activation, names.act.format(conv_name))


@dataclass(frozen=True)
class Conv:
    """One bias-free conv layer (depthwise when ``filters`` is None), padded per ``padded``."""

    name: str
    filters: int | None
    kernel: int | tuple[int, int]
    stride: int | tuple[int, int] = 1
    dilation: int | tuple[int, int] = 1
    padding: str = "same"
    depth_multiplier: int = 1

    def __call__(self, x):
        x, mode = padded(x, self.kernel, self.stride, padding=self.padding,
                         dilation=self.dilation, name=self.name)
        if self.filters is None:
            return layers.DepthwiseConv2D(self.kernel, strides=self.stride, padding=mode,
                                          use_bias=False, depth_multiplier=self.depth_multiplier,
                                          dilation_rate=self.dilation, name=self.name)(x)
        return layers.Conv2D(self.filters, self.kernel, strides=self.stride, padding=mode,
                             use_bias=False, dilation_rate=self.dilation, name=self.name)(x)


@dataclass(frozen=True)
class Part:
    """Convs that a block may follow with BN and activation: one conv or the spatial pair.

    BN and activation layers take their names from the part's last conv (``name``).
    """

    convs: tuple[Conv, ...]

    @property
    def name(self) -> str:
        return self.convs[-1].name

    def __call__(self, x):
        for conv in self.convs:
            x = conv(x)
        return x


def kind_convs(kind: str, filters: int, kernel: int, stride: int = 1, *, names: Names,
               roles: tuple[str, str, str], dilation: int = 1, padding: str = "same",
               depth_multiplier: int = 1, pointwise_first: bool = False) -> list[Part]:
    """The parts a KxK conv to ``filters`` channels becomes in ``kind`` (module doc): separable
    gives two (depthwise, pointwise; ``pointwise_first`` swaps them), standard one conv, spatial
    one Kx1 + 1xK pair.

    ``roles`` name the (depthwise, pointwise, full) convs; the spatial pair's Kx1 conv is the full
    role + "_kx1". ``depth_multiplier`` is the separable kind's depthwise channel multiplier.
    """
    depthwise_role, pointwise_role, full_role = roles
    if kind == "separable":
        depthwise = Part((Conv(names(depthwise_role), None, kernel, stride, dilation, padding,
                               depth_multiplier),))
        pointwise = Part((Conv(names(pointwise_role), filters, 1),))
        return [pointwise, depthwise] if pointwise_first else [depthwise, pointwise]
    if kind == "standard":
        return [Part((Conv(names(full_role), filters, kernel, stride, dilation, padding),))]
    if kind == "spatial":
        return [Part((Conv(names(full_role) + "_kx1", filters, (kernel, 1), (stride, 1),
                           (dilation, 1), padding),
                      Conv(names(full_role), filters, (1, kernel), (1, stride), (1, dilation),
                           padding)))]
    raise ValueError(f"unknown conv kind {kind!r} (choose from {', '.join(KINDS)})")


def conv_bn(x, filters: int, *, kernel: int = 1, stride: int = 1, activation: str = "relu6",
            name: str | Names = "conv", role: str = "conv", norm: Norm = Norm(),
            dilation: int = 1, padding: str = "same"):
    """A plain conv (any kernel, no kind applied) -> BN -> activation; for 1x1 convs and stems."""
    names = _names(name)
    x = Conv(names(role), filters, kernel, stride, dilation, padding)(x)
    return _bn_act(x, names(role), names, activation, norm)


def conv_unit(x, filters: int, *, kernel: int = 3, stride: int = 1, kind: str = "separable",
              activation: str = "relu6", padding: str = "same", dilation: int = 1,
              name: str | Names = "conv", norm: Norm = Norm(), depth_multiplier: int = 1,
              roles: tuple[str, str] = ("dw", "pw")):
    """A KxK conv of ``kind`` with BN and ``activation`` after each part (MobileNetV1's unit).

    ``roles`` name the depthwise and pointwise convs of the separable kind; the full conv of the
    other kinds takes the pointwise role (it replaces that pair).
    """
    names = _names(name)
    for part in kind_convs(kind, filters, kernel, stride, names=names, roles=(*roles, roles[1]),
                           dilation=dilation, padding=padding, depth_multiplier=depth_multiplier):
        x = _bn_act(part(x), part.name, names, activation, norm)
    return x


def squeeze_excite(x, *, se_ratio: float = 0.25, name: str | Names = "se", divisor: int = 8):
    """Channel gate: GAP(keepdims) -> 1x1 conv -> ReLU -> 1x1 conv -> hard-sigmoid -> x * gate.

    The squeeze conv has ``make_divisible(channels * se_ratio, divisor)`` channels.
    """
    names = _names(name)
    channels = x.shape[-1]
    gate = layers.GlobalAveragePooling2D(keepdims=True, name=names("squeeze_excite/AvgPool"))(x)
    gate = layers.Conv2D(make_divisible(channels * se_ratio, divisor), 1, padding="same",
                         name=names("squeeze_excite/Conv"))(gate)
    gate = layers.ReLU(name=names("squeeze_excite/Relu"))(gate)
    gate = layers.Conv2D(channels, 1, padding="same", name=names("squeeze_excite/Conv_1"))(gate)
    gate = HardSigmoid(name=names("squeeze_excite/HardSigmoid"))(gate)
    return layers.Multiply(name=names("squeeze_excite/Mul"))([x, gate])


def inverted_residual(x, filters: int, *, kernel: int = 3, stride: int = 1,
                      expansion: float = 6.0, mid: int | None = None, kind: str = "separable",
                      activation: str = "relu6", se_ratio: float = 0.0, padding: str = "same",
                      dilation: int = 1, name: str | Names = "ir", norm: Norm = Norm()):
    """Inverted residual / MBConv: 1x1 expand -> depthwise KxK -> [SE] -> linear 1x1 project.

    ``mid`` overrides round(M * expansion) (MobileNetV3 rounds it to a multiple of 8); with
    ``expansion`` 1 there is no expand conv. The shortcut is added when stride is 1 and channels
    match. See the module doc for kinds.
    """
    names = _names(name)
    shortcut, in_channels = x, x.shape[-1]
    mid = int(round(in_channels * expansion)) if mid is None else mid
    expand = expansion != 1
    # The pair a kind replaces: expand 1x1 + depthwise, else depthwise + projection 1x1.
    parts = kind_convs(kind, mid if expand else filters, kernel, stride, names=names,
                       roles=("depthwise", "expand" if expand else "project", "fused"),
                       dilation=dilation, padding=padding, pointwise_first=expand)
    spatial = len(parts) - 1 if expand else 0  # the part holding the KxK conv
    for i, part in enumerate(parts):  # after the KxK conv: SE, then the linear projection
        x = _bn_act(part(x), part.name, names, activation if i <= spatial else "linear", norm)
        if i == spatial and se_ratio:
            x = squeeze_excite(x, se_ratio=se_ratio, name=names)
    if expand:
        x = conv_bn(x, filters, activation="linear", name=names, role="project", norm=norm)
    if stride == 1 and in_channels == filters:
        x = layers.Add(name=names("add"))([shortcut, x])
    return x


def _shortcut(x, filters: int, stride: int, names: Names, norm: Norm):
    """Identity, or a strided 1x1 conv + BN when the shape changes."""
    if stride == 1 and x.shape[-1] == filters:
        return x
    return conv_bn(x, filters, stride=stride, activation="linear", name=names, role="shortcut",
                   norm=norm)


def residual_block(x, filters: int, *, kernel: int = 3, stride: int = 1,
                   kind: str = "separable", activation: str = "relu", padding: str = "same",
                   dilation: int = 1, name: str | Names = "res", norm: Norm = Norm()):
    """ResNet basic block: two KxK conv units (the second linear) + shortcut, then activation."""
    names = _names(name)
    shortcut = _shortcut(x, filters, stride, names, norm)
    unit = dict(kernel=kernel, kind=kind, padding=padding, dilation=dilation, name=names,
                norm=norm)
    x = conv_unit(x, filters, stride=stride, activation=activation, roles=("dw1", "conv1"),
                  **unit)
    x = conv_unit(x, filters, activation="linear", roles=("dw2", "conv2"), **unit)
    x = layers.Add(name=names("add"))([shortcut, x])
    return activate(x, activation, names("out"))


def bottleneck_block(x, filters: int, *, kernel: int = 3, stride: int = 1, mid: int | None = None,
                     kind: str = "separable", activation: str = "relu", padding: str = "same",
                     dilation: int = 1, name: str | Names = "bottleneck", norm: Norm = Norm()):
    """ResNet bottleneck: 1x1 reduce to ``mid`` (default filters / 4) -> KxK conv unit -> linear
    1x1 expand to ``filters`` (+ shortcut), then activation."""
    names = _names(name)
    mid = filters // 4 if mid is None else mid
    shortcut = _shortcut(x, filters, stride, names, norm)
    x = conv_bn(x, mid, activation=activation, name=names, role="reduce", norm=norm)
    x = conv_unit(x, mid, kernel=kernel, stride=stride, kind=kind, activation=activation,
                  padding=padding, dilation=dilation, name=names, norm=norm, roles=("dw", "conv"))
    x = conv_bn(x, filters, activation="linear", name=names, role="expand", norm=norm)
    x = layers.Add(name=names("add"))([shortcut, x])
    return activate(x, activation, names("out"))


def xception_block(x, filters: int, *, kernel: int = 3, stride: int = 1,
                   kind: str = "separable", activation: str = "relu", padding: str = "same",
                   dilation: int = 1, repeats: int = 2, pointwise_first: bool = False,
                   name: str | Names = "xception", norm: Norm = Norm()):
    """Xception block: KxK conv of ``kind`` (nothing between its parts, as keras'
    SeparableConv2D) -> BN, repeated with ``activation`` between, the last one carrying the
    stride; plus a strided 1x1 conv + BN shortcut (identity when the shape is kept);
    ``activation`` after the sum.

    Xception's ReLU -> separable -> BN units, with the ReLU that opens each block moved to the end
    of the previous one (after its Add): int8 TFLite then fuses every activation into an ADD or
    CONV, as XNNPACK has no stand-alone int8 RELU. ``pointwise_first``: the variant with the 1x1
    before the depthwise conv (for ``separable``).
    """
    names = _names(name)
    shortcut = _shortcut(x, filters, stride, names, norm)
    for i in range(repeats):
        if i:
            x = activate(x, activation, names(f"act{i}"))
        role = f"sepconv{i + 1}"
        for part in kind_convs(kind, filters, kernel, stride if i == repeats - 1 else 1,
                               names=names, roles=(f"{role}_dw", f"{role}_pw", role),
                               dilation=dilation, padding=padding,
                               pointwise_first=pointwise_first):
            x = part(x)
        x = _bn(x, names(role), names, norm)
    x = layers.Add(name=names("add"))([shortcut, x])
    return activate(x, activation, names("out"))


def inception_block(x, filters: int, *, kernels: tuple[int, ...] = (3, 5), stride: int = 1,
                    kind: str = "separable", activation: str = "relu", padding: str = "same",
                    dilation: int = 1, name: str | Names = "inception", norm: Norm = Norm()):
    """Parallel kernels: 1x1 | 1x1 reduce -> KxK conv unit (per kernel) | 3x3 max-pool -> 1x1,
    concatenated; every branch gives ``filters`` channels and carries the stride. The max-pool
    keeps TF's "same" padding whatever ``padding`` says (it pads with -inf, not zeros)."""
    names = _names(name)
    unit = dict(activation=activation, name=names, norm=norm)
    branches = [conv_bn(x, filters, stride=stride, role="b1x1", **unit)]
    for k in kernels:
        b = conv_bn(x, filters, role=f"b{k}x{k}_reduce", **unit)
        branches.append(conv_unit(b, filters, kernel=k, stride=stride, kind=kind,
                                  padding=padding, dilation=dilation,
                                  roles=(f"b{k}x{k}_dw", f"b{k}x{k}"), **unit))
    pool = layers.MaxPooling2D(3, strides=stride, padding="same", name=names("pool"))(x)
    branches.append(conv_bn(pool, filters, role="pool_proj", **unit))
    return layers.Concatenate(name=names("concat"))(branches)


def factorised_conv(x, filters: int, *, kernel: int = 7, stride: int = 1,
                    activation: str = "relu", padding: str = "same", dilation: int = 1,
                    name: str | Names = "factorised", norm: Norm = Norm()):
    """Inception-v3's replacement of a KxK conv: 1xK conv -> BN -> act -> Kx1 conv -> BN -> act.

    (Unlike the ``spatial`` kind, each half has its own BN and activation.)
    """
    names = _names(name)
    for role, shape, strides, rate in (("1xk", (1, kernel), (1, stride), (1, dilation)),
                                       ("kx1", (kernel, 1), (stride, 1), (dilation, 1))):
        x = Conv(names(role), filters, shape, strides, rate, padding)(x)
        x = _bn_act(x, names(role), names, activation, norm)
    return x


def aspp(x, filters: int, *, dilations: tuple[int, ...] = (6, 12, 18), kind: str = "separable",
         activation: str = "relu", padding: str = "same", name: str | Names = "aspp",
         norm: Norm = Norm()):
    """Atrous spatial pyramid pooling: 1x1 | 3x3 conv units with ``dilations`` | image pooling,
    merged by 1x1.

    Concat -> 1x1 equals the sum of one 1x1 per branch, so the image-pooling branch (1x1 spatial)
    is projected on its own (with the bias) and broadcast-added: no upsampling op, which keeps
    int8 in XNNPACK.
    """
    names = _names(name)
    branches = [conv_bn(x, filters, activation=activation, name=names, role="b0", norm=norm)]
    for i, rate in enumerate(dilations, 1):
        branches.append(conv_unit(x, filters, kind=kind, activation=activation, padding=padding,
                                  dilation=rate, name=names, norm=norm,
                                  roles=(f"b{i}_dw", f"b{i}")))
    merged = layers.Concatenate(name=names("concat"))(branches)
    merged = conv_bn(merged, filters, activation="linear", name=names, role="project", norm=norm)
    pooled = layers.GlobalAveragePooling2D(keepdims=True, name=names("image_pool"))(x)
    pooled = conv_bn(pooled, filters, activation=activation, name=names, role="image_conv",
                     norm=norm)
    pooled = layers.Conv2D(filters, 1, name=names("image_project"))(pooled)
    x = layers.Add(name=names("merge"))([merged, pooled])
    return activate(x, activation, names("out"))


def ghost_module(x, filters: int, *, ghost_ratio: int = 2, kernel: int = 1,
                 cheap_kernel: int = 3, stride: int = 1, kind: str = "separable",
                 activation: str = "relu", padding: str = "same", dilation: int = 1,
                 name: str | Names = "ghost", norm: Norm = Norm()):
    """GhostNet module: filters / ghost_ratio primary channels from a conv, the rest as cheap
    depthwise "ghosts" of them, concatenated. The primary conv takes ``kind`` when ``kernel`` > 1;
    ``dilation`` applies to both spatial convs."""
    names = _names(name)
    if filters % ghost_ratio:
        raise ValueError(f"ghost_module: filters {filters} must be a multiple of ghost_ratio "
                         f"{ghost_ratio}")
    common = dict(stride=stride, activation=activation, padding=padding, name=names, norm=norm)
    if kernel == 1:
        primary = conv_bn(x, filters // ghost_ratio, role="primary", **common)
    else:
        primary = conv_unit(x, filters // ghost_ratio, kernel=kernel, kind=kind,
                            dilation=dilation, roles=("primary_dw", "primary"), **common)
    cheap = Conv(names("cheap"), None, cheap_kernel, 1, dilation,
                 depth_multiplier=ghost_ratio - 1)(primary)
    cheap = _bn_act(cheap, names("cheap"), names, activation, norm)
    return layers.Concatenate(name=names("concat"))([primary, cheap])
