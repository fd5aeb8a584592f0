"""Networks as block-spec tables, and the decoder that turns a table + width knobs into a plan.

A table row says what the paper's table says (block type, output channels at width 1.0, kernel,
stride, expansion, squeeze-excite ratio, activation). ``NetSpec`` adds the per-network rules the
papers (and keras.applications, whose parameter counts mobilekit matches exactly) use to round
channels at other widths, and the layer names. ``decode`` applies them and yields pure Python
``Block`` records; ``mobilekit.nets.models`` turns those into layers. A new network is a new table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, NamedTuple



def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round channels to a multiple of ``divisor`` without losing more than 10 % (MobileNetV2/V3)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@dataclass(frozen=True)
class Names:
    """How a block names its layers, so builders can match keras.applications' names.

    ``template`` holds ``{role}`` (e.g. "block_3_{role}"); ``bn`` and ``act`` name the BN and
    activation layers after a conv, with ``{}`` standing for the conv's name (e.g. "bn_{}").
    """

    template: str
    bn: str = "{}_bn"
    act: str = "{}_act"

    def __call__(self, role: str) -> str:
        return self.template.format(role=role)


@dataclass(frozen=True)
class Norm:
    """Batch-norm settings shared by a whole network (keras.applications: V1 0.99, V2/V3 0.999)."""

    momentum: float = 0.99
    epsilon: float = 1e-3


class Row(NamedTuple):
    """One table row. ``block``: "ds" (depthwise-separable unit, V1) or "ir" (inverted residual).
    ``stage``: set only in tables that name their stages; otherwise a stride-2 row starts one."""

    block: str
    filters: int
    kernel: int = 3
    stride: int = 1
    expansion: float = 1.0
    se: float = 0.0
    act: str = "relu6"
    stage: int | None = None


class Block(NamedTuple):
    """A decoded row: concrete channels and layer names."""

    block: str
    filters: int
    kernel: int
    stride: int
    expansion: float
    expanded: int | None
    se: float
    act: str
    names: Names
    stage: int


@dataclass(frozen=True)
class NetSpec:
    rows: tuple[Row, ...]
    stem: Callable[[float], int]                 # alpha -> stem channels
    width: Callable[[int, float], int]           # (table channels, alpha) -> channels
    expanded: Callable[[int, float], int | None]  # (in channels, expansion) -> mid channels
    last_conv: Callable[[int, float], int | None]  # (in channels, alpha) -> 1x1 conv after body
    hidden: Callable[[float], int | None]        # alpha -> 1x1 conv (with bias) after pooling
    act: str                                     # stem / last conv / hidden activation
    block_names: Callable[[int], Names]
    stem_names: Names
    last_names: Names | None
    classifier: str                              # "conv" (1x1 after keepdims pooling) | "dense"
    top_names: tuple[str, str]                   # classifier layer, softmax layer
    dropout: float
    norm: Norm
    depth_multiplier: bool = False               # the V1 knob
    minimalistic: bool = False                   # the V3 knob
    native_kind: str = "separable"               # the kind of the reference model (default)
    resolution: int = 224                        # the default input size


class Plan(NamedTuple):
    stem: int
    blocks: list[Block]
    last_conv: int | None
    hidden: int | None


def decode(spec: NetSpec, alpha: float) -> Plan:
    """Channels, names and stages of every block at width ``alpha`` (pure Python: cheap)."""
    stem = spec.stem(alpha)
    blocks, channels = [], stem
    for i, (row, stage) in enumerate(zip(spec.rows, row_stages(spec))):
        filters = spec.width(row.filters, alpha)
        blocks.append(Block(row.block, filters, row.kernel, row.stride, row.expansion,
                            spec.expanded(channels, row.expansion), row.se, row.act,
                            spec.block_names(i), stage))
        channels = filters
    return Plan(stem, blocks, spec.last_conv(channels, alpha), spec.hidden(alpha))


def channels(spec: NetSpec, alpha: float) -> list[int]:
    """The stem's and every block's output channels at width ``alpha``."""
    plan = decode(spec, alpha)
    return [plan.stem] + [b.filters for b in plan.blocks]


def row_stages(spec: NetSpec) -> list[int]:
    """The stage of every row: the table's own ``stage`` column, or a new stage at each stride-2
    row (rows before the first stride-2 row form stage 1; stage 0 is the stem)."""
    if any(row.stage is not None for row in spec.rows):
        return [row.stage for row in spec.rows]
    stages, stage = [], 0
    for i, row in enumerate(spec.rows):
        if i == 0 or row.stride > 1:
            stage += 1
        stages.append(stage)
    return stages


def stage_count(spec: NetSpec) -> int:
    """Stem + the body's stages + head."""
    return max(row_stages(spec)) + 2


def kinded_stages(spec: NetSpec) -> set[int]:
    """The stages whose convolutions the kind switch changes: the body's (the stem keeps its
    standard form and the classifier head has only 1x1 convolutions)."""
    return set(row_stages(spec))


def minimal(spec: NetSpec) -> NetSpec:
    """MobileNetV3 "minimalistic": no squeeze-excite, no hard-swish, no 5x5 kernels."""
    def simplify(row: Row) -> Row:
        return row._replace(kernel=3, se=0.0, act="relu" if row.act == "hard_swish" else row.act)
    return replace(spec, rows=tuple(simplify(r) for r in spec.rows),
                   act="relu" if spec.act == "hard_swish" else spec.act)


def strides(spec: NetSpec) -> int:
    """Total downsampling of the network (the stem conv has stride 2)."""
    total = 2
    for row in spec.rows:
        total *= row.stride
    return total


def _v1_names(i: int) -> Names:
    return Names(f"conv_{{role}}_{i + 1}", "{}_bn", "{}_relu")


def _v2_names(i: int) -> Names:
    return Names(f"block_{i}_{{role}}" if i else "expanded_conv_{role}", "{}_BN", "{}_relu")


def _v3_names(i: int) -> Names:
    return Names(f"expanded_conv_{i}/{{role}}" if i else "expanded_conv/{role}",
                 "{}/BatchNorm", "{}/act")


def _v1_rows() -> tuple[Row, ...]:
    table = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 \
        + [(1024, 2), (1024, 1)]
    return tuple(Row("ds", f, 3, s) for f, s in table)


def _v2_rows() -> tuple[Row, ...]:
    # (expansion t, channels c, repeats n, first stride s) as in the MobileNetV2 paper, Table 2
    table = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
             (6, 160, 3, 2), (6, 320, 1, 1)]
    return tuple(Row("ir", c, 3, s if i == 0 else 1, t)
                 for t, c, n, s in table for i in range(n))


def _above_one(channels: int) -> Callable[[float], int]:
    """Head widths of V2/V3 grow with alpha > 1 but never shrink (keras.applications)."""
    return lambda alpha: make_divisible(channels * alpha) if alpha > 1.0 else channels


MOBILENET_V1 = NetSpec(
    rows=_v1_rows(),
    stem=lambda a: int(32 * a),
    width=lambda f, a: int(f * a),
    expanded=lambda c, t: None,
    last_conv=lambda c, a: None,
    hidden=lambda a: None,
    act="relu6",
    block_names=_v1_names,
    stem_names=Names("conv1", "{}_bn", "{}_relu"),
    last_names=None,
    classifier="conv",
    top_names=("conv_preds", "predictions"),
    dropout=1e-3,
    norm=Norm(momentum=0.99),
    depth_multiplier=True,
)

MOBILENET_V2 = NetSpec(
    rows=_v2_rows(),
    stem=lambda a: make_divisible(32 * a),
    width=lambda f, a: make_divisible(int(f * a)),
    expanded=lambda c, t: None,
    last_conv=lambda c, a: _above_one(1280)(a),
    hidden=lambda a: None,
    act="relu6",
    block_names=_v2_names,
    stem_names=Names("Conv1", "bn_{}", "{}_relu"),
    last_names=Names("Conv_1", "{}_bn", "out_relu"),
    classifier="dense",
    top_names=("predictions", "softmax"),
    dropout=0.0,
    norm=Norm(momentum=0.999),
)

_HS, _SE = "hard_swish", 0.25

_V3 = dict(
    stem=lambda a: 16,
    width=lambda f, a: make_divisible(f * a),
    expanded=lambda c, t: make_divisible(c * t),
    last_conv=lambda c, a: make_divisible(c * 6),
    act=_HS,
    block_names=_v3_names,
    stem_names=Names("Conv", "{}/BatchNorm", "{}/act"),
    last_names=Names("Conv_1", "{}/BatchNorm", "{}/act"),
    classifier="conv",
    top_names=("Logits", "Predictions"),
    dropout=0.2,
    norm=Norm(momentum=0.999),
    minimalistic=True,
)

MOBILENET_V3_SMALL = NetSpec(
    rows=(Row("ir", 16, 3, 2, 1, _SE, "relu"),
          Row("ir", 24, 3, 2, 72 / 16, 0, "relu"),
          Row("ir", 24, 3, 1, 88 / 24, 0, "relu"),
          Row("ir", 40, 5, 2, 4, _SE, _HS),
          Row("ir", 40, 5, 1, 6, _SE, _HS),
          Row("ir", 40, 5, 1, 6, _SE, _HS),
          Row("ir", 48, 5, 1, 3, _SE, _HS),
          Row("ir", 48, 5, 1, 3, _SE, _HS),
          Row("ir", 96, 5, 2, 6, _SE, _HS),
          Row("ir", 96, 5, 1, 6, _SE, _HS),
          Row("ir", 96, 5, 1, 6, _SE, _HS)),
    hidden=_above_one(1024),
    **_V3,
)

MOBILENET_V3_LARGE = NetSpec(
    rows=(Row("ir", 16, 3, 1, 1, 0, "relu"),
          Row("ir", 24, 3, 2, 4, 0, "relu"),
          Row("ir", 24, 3, 1, 3, 0, "relu"),
          Row("ir", 40, 5, 2, 3, _SE, "relu"),
          Row("ir", 40, 5, 1, 3, _SE, "relu"),
          Row("ir", 40, 5, 1, 3, _SE, "relu"),
          Row("ir", 80, 3, 2, 6, 0, _HS),
          Row("ir", 80, 3, 1, 2.5, 0, _HS),
          Row("ir", 80, 3, 1, 2.3, 0, _HS),
          Row("ir", 80, 3, 1, 2.3, 0, _HS),
          Row("ir", 112, 3, 1, 6, _SE, _HS),
          Row("ir", 112, 3, 1, 6, _SE, _HS),
          Row("ir", 160, 5, 2, 6, _SE, _HS),
          Row("ir", 160, 5, 1, 6, _SE, _HS),
          Row("ir", 160, 5, 1, 6, _SE, _HS)),
    hidden=_above_one(1280),
    **_V3,
)


BUILDERS: dict[str, NetSpec] = {
    "mobilenet_v1": MOBILENET_V1,
    "mobilenet_v2": MOBILENET_V2,
    "mobilenet_v3_small": MOBILENET_V3_SMALL,
    "mobilenet_v3_large": MOBILENET_V3_LARGE,
}
