"""A per-stage kind list through summary, export, bench and compare, for every builder."""

import json

import pytest

from mobilekit.cli import main
from mobilekit.nets import specs

SMALL = ["--alpha", "0.35", "--resolution", "32", "--classes", "4"]


def _code(name: str) -> str:
    """Stage 1 spatial, the rest of the body separable (the stem follows stage 1)."""
    return "SP" + "D" * (specs.stage_count(specs.BUILDERS[name]) - 2)


def _json(capsys):
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", list(specs.BUILDERS))
def test_summary_shows_each_layers_stage_and_kind(name, capsys):
    code = _code(name)
    assert main(["summary", name, *SMALL, "--kind", code, "--json"]) == 0
    summary = _json(capsys)
    stages = summary["stages"]
    assert [s["kind"] for s in stages[1:-1]] == ["spatial"] + ["separable"] * (len(stages) - 3)
    assert len(summary["kind"]) == len(stages) == specs.stage_count(specs.BUILDERS[name])
    by_stage = {}
    for layer in summary["layers"]:
        by_stage.setdefault(layer["stage"], set()).add(layer["kind"])
    assert set(by_stage) == set(range(len(stages)))
    assert "depthwise" not in by_stage[1] and "spatial" in by_stage[1]  # Kx1 + 1xK convs
    assert "depthwise" in by_stage[2]
    assert sum(s["macs"] for s in stages) == summary["macs"]
    hybrid = next(r for r in summary["kinds"] if r["kind"].startswith("hybrid-"))
    assert hybrid["macs"] == summary["macs"]


def test_export_bench_and_compare_take_a_kind_list(tmp_path, capsys):
    bundles = []
    for name in specs.BUILDERS:
        out = tmp_path / name
        assert main(["export", name, *SMALL, "--kind", _code(name), "--quant", "fp32",
                     "--out", str(out), "--json"]) == 0
        manifest = _json(capsys)["manifest"]
        code = "P" + _code(name)[1:]  # the stem takes stage 1's kind
        assert manifest["name"] == f"{name}-hybrid-{code}-fp32-a0.35-r32-c4"
        assert manifest["builder"]["kind"][1] == "spatial"
        assert set(manifest["layer_stages"].values()) == \
            set(range(specs.stage_count(specs.BUILDERS[name])))
        bundles.append(str(out))
    assert main(["bench", *bundles, "--runs", "3", "--min-secs", "0", "--warmup", "0",
                 "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(r["name"].split("-hybrid-")[0] for r in rows) == sorted(specs.BUILDERS)
    assert all(r["error"] is None and r["median_ms"] > 0 for r in rows)

    assert main(["compare", "mobilenet_v2", *SMALL, "--kinds", f"standard,{_code('mobilenet_v2')}",
                 "--runs", "3", "--rounds", "1", "--min-secs", "0", "--out",
                 str(tmp_path / "compare"), "--json"]) == 0
    table = _json(capsys)
    assert sorted(r["variant"] for r in table) == ["mobilenet_v2-hybrid-PPDDDDD-fp32-a0.35-r32-c4",
                                                   "mobilenet_v2-standard-fp32-a0.35-r32-c4"]
    hybrid = next(r for r in table if "hybrid" in r["variant"])
    assert 1 < hybrid["mac_saving"] and hybrid["analytic_saving"] > 1
    assert (tmp_path / "compare" / "report.md").is_file()
