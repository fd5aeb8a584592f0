"""The builder configuration: validated once, stages and per-stage kinds, names that never collide,
and one error text for a bad knob from every entry point."""

import itertools
import json

import pytest

from mobilekit.cli import main
from mobilekit.deploy.bundle import bundle_name
from mobilekit.errors import UsageError
from mobilekit.nets import specs
from mobilekit.nets.config import BuilderConfig, parse_kind

STAGES = {"mobilenet_v1": 7, "mobilenet_v2": 7, "mobilenet_v3_small": 6, "mobilenet_v3_large": 7}


def test_stages_follow_the_stride_2_rows_of_each_table():
    assert {name: specs.stage_count(spec) for name, spec in specs.BUILDERS.items()} == STAGES
    # MobileNetV2 (paper's Table 2): 16 | 24 x2 | 32 x3 | 64 x4, 96 x3 | 160 x3, 320
    assert specs.row_stages(specs.MOBILENET_V2) == [1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4,
                                                    5, 5, 5, 5]
    assert BuilderConfig("mobilenet_v3_small").stage_names() == \
        ["stem", "stage1", "stage2", "stage3", "stage4", "head"]


def test_kind_lists_codes_and_names_mean_the_same():
    code = BuilderConfig("mobilenet_v2", kind=parse_kind("SSDDDDD"))
    assert code.kind_label == "hybrid-SSDDDDD"
    assert BuilderConfig("mobilenet_v2", kind=parse_kind("hybrid-SSDDDDD")) == code
    assert BuilderConfig("mobilenet_v2", kind=parse_kind(
        "standard,standard,separable,separable,separable,separable,separable")) == code
    assert BuilderConfig("mobilenet_v2", kind=("S", "S", "D", "D", "D", "D", "D")) == code


def test_stages_the_kind_cannot_change_take_their_neighbours_kind():
    """The stem keeps its standard conv and the head has only 1x1 convs: their letters change
    nothing, so one network has one canonical kind (and one bundle name)."""
    a = BuilderConfig("mobilenet_v2", kind=parse_kind("PSDDDDS"))
    assert a.kind_label == "hybrid-SSDDDDD"
    assert BuilderConfig("mobilenet_v2", kind=parse_kind("SDDDDDS")).kind == "separable"
    assert BuilderConfig("mobilenet_v1", kind=parse_kind("standard")).stage_kinds == ("standard",) * 7


@pytest.mark.parametrize("value,needle", [("S,D", "mobilenet_v2 has 7 stages (stem, stage1"),
                                          ("diagonal", "unknown conv kind 'diagonal'"),
                                          ("SSDDXDD", "unknown conv kind 'SSDDXDD'")])
def test_bad_kinds_are_one_line_usage_errors(value, needle):
    with pytest.raises(UsageError, match=needle.replace("(", r"\(")):
        BuilderConfig("mobilenet_v2", kind=parse_kind(value))


def test_json_round_trip_and_replace_revalidate():
    config = BuilderConfig("mobilenet_v3_large", kind=parse_kind("SSSDDDP"), alpha=0.75,
                           resolution=96, classes=5, minimalistic=True, padding="symmetric")
    assert BuilderConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    assert config.replace(kind="standard").kind == "standard"
    with pytest.raises(UsageError, match="--alpha"):
        config.replace(alpha=-1)
    with pytest.raises(UsageError, match="unknown knob"):
        BuilderConfig.from_json({**config.to_json(), "alhpa": 1})


def test_every_knob_off_its_default_is_in_the_bundle_name():
    """Two bundles that differ in any knob the name covers never share a name."""
    knob_values = {"kind": ["separable", "standard", parse_kind("SSDDDDD"), parse_kind("SSSDDDD")],
                   "alpha": [1.0, 0.5], "resolution": [224, 96], "classes": [1000, 10],
                   "padding": ["same", "symmetric"], "include_top": [True, False]}
    names = {}
    for values in itertools.product(*knob_values.values()):
        config = BuilderConfig("mobilenet_v2", **dict(zip(knob_values, values)))
        for quant, io, sparse in (("int8", "float", False), ("int8", "int8", False),
                                  ("int8", "uint8", False), ("fp32", "float", True)):
            name = bundle_name(config, quant, io=io, sparse=sparse)
            assert name not in names, (name, names.get(name), config)
            names[name] = config
    assert bundle_name(BuilderConfig("mobilenet_v1", depth_multiplier=2, classes=8), "fp32") == \
        "mobilenet_v1-separable-fp32-c8-d2"
    assert bundle_name(BuilderConfig("mobilenet_v3_small", minimalistic=True), "fp16") == \
        "mobilenet_v3_small-separable-fp16-min"
    assert bundle_name(BuilderConfig("mobilenet_v2", kind=parse_kind("SSDDDDD"), alpha=0.5),
                       "int8", io="int8") == "mobilenet_v2-hybrid-SSDDDDD-int8-a0.5-int8io"


@pytest.mark.parametrize("flags,needle", [(["--kind", "diagonal"], "--kind: unknown conv kind"),
                                          (["--alpha", "-1"], "--alpha: must be a number > 0"),
                                          (["--resolution", "8"], "--resolution: mobilenet_v2 "
                                                                  "downsamples by 32")])
def test_a_bad_knob_gives_the_same_line_from_every_entry_point(flags, needle, capsys, tmp_path):
    from test_recipes import NAMES, run_recipe

    lines = []
    commands = [["summary", "mobilenet_v2"], ["export", "mobilenet_v2", "--quant", "fp32"],
                ["compare", "mobilenet_v2", "--out", str(tmp_path)]]
    for argv in commands:
        compare_flags = [f.replace("--kind", "--kinds") for f in flags] if argv[0] == "compare" \
            else flags
        assert main(argv + compare_flags) == 2
        lines.append(capsys.readouterr().err.strip())
    for name in NAMES:
        assert run_recipe(name, ["--builder", "mobilenet_v2", *flags,
                                 "--out", str(tmp_path / name)]) == 2
        lines.append(capsys.readouterr().err.strip())
    assert all(len(line.splitlines()) == 1 for line in lines), lines
    assert len({line.split("error: ", 1)[1] for line in lines}) == 1, lines
    assert needle in lines[0]
