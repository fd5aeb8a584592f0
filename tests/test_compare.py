"""`mobilekit compare`: variants built, exported, benchmarked interleaved, reported."""

import json

import pytest

from mobilekit.cli import main


def test_compare_builder_kinds_writes_bundles_results_and_report(tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(["compare", "mobilenet_v1", "--alpha", "0.25", "--resolution", "32",
                 "--classes", "4", "--kinds", "standard,separable", "--quant", "fp32",
                 "--runs", "3", "--rounds", "2", "--out", str(out), "--json"])
    assert code == 0
    rows = {r["kind"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"standard", "separable"}
    sep = rows["separable"]
    assert sep["mac_saving"] > 3 and sep["analytic_saving"] == pytest.approx(sep["mac_saving"])
    assert sep["speedup"] > 0 and sep["median_ms"] > 0
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["round"] for r in results if r["round"]) == [1, 1, 2, 2]
    assert sum(r["round"] is None for r in results) == 2
    report = (out / "report.md").read_text()
    assert sep["variant"] in report and (out / "latency_vs_macs.png").exists()
    for name in (r["variant"] for r in rows.values()):
        assert json.loads((out / name / "manifest.json").read_text())["trained"] is False


def test_compare_existing_tflite_files(tmp_path, capsys):
    out = tmp_path / "bundle"
    assert main(["export", "mobilenet_v1", "--alpha", "0.25", "--resolution", "32",
                 "--classes", "3", "--quant", "fp32", "--out", str(out)]) == 0
    code = main(["compare", str(out / "model.tflite"), "--runs", "3", "--rounds", "1",
                 "--out", str(tmp_path / "cmp"), "--json"])
    assert code == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["variant"] == "model" and row["macs"] > 0 and row["median_ms"] > 0


@pytest.mark.parametrize("argv, flag", [(["--kinds", "standard,diagonal"],
                                         "--kind: unknown conv kind 'diagonal'"),
                                        (["--quant", "int4"], "--quant"),
                                        (["--alpha", "0"], "--alpha")])
def test_compare_bad_flags_exit_2_naming_the_flag(argv, flag, tmp_path, capsys):
    try:
        code = main(["compare", "mobilenet_v1", *argv, "--out", str(tmp_path)])
    except SystemExit as exc:  # refused by argparse itself
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert flag in err and len(err.splitlines()) == 1


def test_compare_unknown_model_names_it(tmp_path, capsys):
    assert main(["compare", "mobilenet_v9", "--out", str(tmp_path)]) == 2
    assert "mobilenet_v9" in capsys.readouterr().err
