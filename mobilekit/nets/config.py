"""The builder configuration: every knob of one network, validated once when it is made.

A ``BuilderConfig`` is made where the user speaks (a command-line flag, a recipe, a Python call)
and travels unchanged to ``models.build_model``; nothing below re-checks it. It is frozen:
variants are made with ``replace(...)``, and it goes in and out of run.json and manifest.json as
JSON (``to_json`` / ``from_json``).

Stages (../shared/CONTRACTS.md "Stages"): the stem, each group of table rows that begins with a
stride-2 row (or the groups a table names in its ``stage`` column), and the head. ``kind`` is one
conv kind for the whole network or one per stage. A stage with no convolution the kind can change
(the stem, which keeps its standard form as in the MobileNets, and a classifier head of 1x1 convs)
takes the kind of its neighbouring stage, so one network has one canonical kind, and a list whose
stages all end up alike is that single kind.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from mobilekit.errors import UsageError
from mobilekit.nets import specs

KINDS = ("separable", "standard", "spatial")
KIND_LETTERS = {"standard": "S", "separable": "D", "spatial": "P"}
PADDINGS = ("same", "symmetric")
CLASSIFIER_ACTIVATIONS = ("softmax", "linear")
_BY_LETTER = {letter: kind for kind, letter in KIND_LETTERS.items()}


@dataclass(frozen=True)
class BuilderConfig:
    """Every knob of builder ``name``; ``None`` means the builder's own default (filled in)."""

    name: str
    kind: str | tuple[str, ...] | None = None  # one kind, or one per stage
    alpha: float = 1.0
    resolution: int | None = None
    classes: int = 1000
    depth_multiplier: int = 1          # mobilenet_v1 only
    minimalistic: bool = False         # MobileNetV3 only
    padding: str = "same"
    include_top: bool = True
    dropout: float | None = None
    classifier_activation: str = "softmax"

    def __post_init__(self):
        spec = spec_of(self.name)
        fill = lambda field, value: object.__setattr__(self, field, value)  # noqa: E731
        fill("kind", _canonical_kind(spec, self.name, self.kind))
        alpha = self.alpha
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) \
                or not math.isfinite(alpha) or alpha <= 0:
            raise UsageError(f"--alpha: must be a number > 0, got {alpha!r}")
        fill("alpha", float(alpha))
        resolution = spec.resolution if self.resolution is None else self.resolution
        least = specs.strides(spec)
        if not _is_int(resolution) or resolution < least:
            raise UsageError(f"--resolution: {self.name} downsamples by {least}; resolution must "
                             f"be an integer >= {least}, got {resolution!r}")
        fill("resolution", resolution)
        if not _is_int(self.classes) or self.classes < 1:
            raise UsageError(f"--classes: must be an integer >= 1, got {self.classes!r}")
        dropout = spec.dropout if self.dropout is None else self.dropout
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout < 1:
            raise UsageError(f"dropout: must be in [0, 1), got {dropout!r}")
        fill("dropout", float(dropout))
        if not _is_int(self.depth_multiplier) or self.depth_multiplier < 1:
            raise UsageError(f"--depth-multiplier: must be an integer >= 1, "
                             f"got {self.depth_multiplier!r}")
        if self.depth_multiplier != 1 and not (spec.depth_multiplier
                                               and "separable" in self.stage_kinds):
            raise UsageError(f"--depth-multiplier: only mobilenet_v1 with separable stages has a "
                             f"depthwise channel multiplier ({self.name}, {self.kind_label})")
        if self.minimalistic and not spec.minimalistic:
            raise UsageError(f"--minimalistic: only MobileNetV3 builders have it, not {self.name}")
        fill("minimalistic", bool(self.minimalistic))
        if self.padding not in PADDINGS:
            raise UsageError(f"--padding: one of {', '.join(PADDINGS)}, got {self.padding!r}")
        if self.classifier_activation not in CLASSIFIER_ACTIVATIONS:
            raise UsageError(f"classifier_activation: one of {', '.join(CLASSIFIER_ACTIVATIONS)}, "
                             f"got {self.classifier_activation!r}")
        fill("include_top", bool(self.include_top))
        if min(specs.channels(self.spec, self.alpha)) < 1:
            raise UsageError(f"--alpha: {alpha} leaves a layer of {self.name} without channels")

    @property
    def spec(self) -> specs.NetSpec:
        """The spec table this configuration builds (MobileNetV3's minimalistic one if asked)."""
        spec = spec_of(self.name)
        return specs.minimal(spec) if self.minimalistic else spec

    @property
    def stage_kinds(self) -> tuple[str, ...]:
        """The conv kind of every stage, stem first and head last."""
        if isinstance(self.kind, tuple):
            return self.kind
        return (self.kind,) * specs.stage_count(spec_of(self.name))

    @property
    def kind_label(self) -> str:
        """The kind as bundle names write it: ``separable``, or ``hybrid-SSDDDDD``."""
        if isinstance(self.kind, str):
            return self.kind
        return "hybrid-" + "".join(KIND_LETTERS[k] for k in self.kind)

    def replace(self, **changes) -> BuilderConfig:
        """A validated variant, e.g. ``config.replace(kind="standard")``."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict:
        """The JSON of run.json's and manifest.json's ``builder`` (builder-specific knobs only
        where the builder has them)."""
        spec = spec_of(self.name)
        out = {"name": self.name, "kind": self.kind if isinstance(self.kind, str)
               else list(self.kind), "alpha": self.alpha, "resolution": self.resolution,
               "classes": self.classes, "include_top": self.include_top, "dropout": self.dropout,
               "classifier_activation": self.classifier_activation, "padding": self.padding}
        if spec.depth_multiplier:
            out["depth_multiplier"] = self.depth_multiplier
        if spec.minimalistic:
            out["minimalistic"] = self.minimalistic
        return out

    @classmethod
    def from_json(cls, data: dict) -> BuilderConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"builder configuration: unknown knob(s) {', '.join(unknown)}")
        return cls(**data)

    def name_parts(self) -> tuple[str, list[str]]:
        """(``<builder>-<kind>``, the ``-<knob><value>`` parts of every knob off its default)
        in the contract's order: alpha, resolution, classes, depth multiplier, minimalistic,
        padding, then the knobs the contract leaves to the builder (no top)."""
        default = BuilderConfig(self.name)
        knobs = [("alpha", f"a{self.alpha:g}"), ("resolution", f"r{self.resolution}"),
                 ("classes", f"c{self.classes}"), ("depth_multiplier", f"d{self.depth_multiplier}"),
                 ("minimalistic", "min"), ("padding", f"p{self.padding}"),
                 ("include_top", "notop")]
        parts = [text for field, text in knobs if getattr(self, field) != getattr(default, field)]
        return f"{self.name}-{self.kind_label}", parts

    def stage_names(self) -> list[str]:
        return stage_names(spec_of(self.name))

    def kinded_stages(self) -> set[int]:
        """The stages whose convolutions the kind changes."""
        return specs.kinded_stages(spec_of(self.name))


def spec_of(name: str) -> specs.NetSpec:
    if name not in specs.BUILDERS:
        raise UsageError(f"unknown builder {name!r} (choose from {', '.join(specs.BUILDERS)})")
    return specs.BUILDERS[name]


def stage_names(spec: specs.NetSpec) -> list[str]:
    count = specs.stage_count(spec)
    return ["stem", *(f"stage{i}" for i in range(1, count - 1)), "head"]


def parse_kind(value: str) -> str | tuple[str, ...]:
    """A ``--kind`` value: a kind name, a comma list (names or letters), or a stage code such as
    ``SSDDDDD`` / ``hybrid-SSDDDDD``. Checked against the builder when the config is made."""
    value = value.strip()
    code = value.removeprefix("hybrid-")
    if "," in value:
        return tuple(part.strip() for part in value.split(","))
    if len(code) > 1 and set(code) <= set(_BY_LETTER):
        return tuple(code)
    return value


def _canonical_kind(spec: specs.NetSpec, name: str, kind) -> str | tuple[str, ...]:
    if kind is None:
        return spec.native_kind
    if isinstance(kind, str):
        kind = parse_kind(kind)
    items = [kind] if isinstance(kind, str) else list(kind)
    kinds = []
    for item in items:
        item = _BY_LETTER.get(item, item)
        if item not in KINDS:
            raise UsageError(f"--kind: unknown conv kind {item!r} (choose from {', '.join(KINDS)}, "
                             f"or one per stage as a comma list or a code like SSDDDDD)")
        kinds.append(item)
    if len(kinds) == 1:
        return kinds[0]
    names = stage_names(spec)
    if len(kinds) != len(names):
        raise UsageError(f"--kind: {name} has {len(names)} stages ({', '.join(names)}); "
                         f"got {len(kinds)} kinds")
    kinded = specs.kinded_stages(spec)
    for i in range(len(kinds)):  # a stage the kind cannot change takes its neighbour's kind
        if i not in kinded:
            kinds[i] = kinds[min(kinded)] if i < min(kinded) else kinds[max(k for k in kinded if k < i)]
    return kinds[0] if len(set(kinds)) == 1 else tuple(kinds)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
