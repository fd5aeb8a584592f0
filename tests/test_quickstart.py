"""The main job end to end, at a tiny size: train, export, verify, benchmark, report."""

import json

import pytest

from mobilekit.studies.quickstart import run_quickstart


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    out = tmp_path_factory.mktemp("quickstart")
    rows = run_quickstart(out, epochs=1, runs=3, rounds=1, train_images=256, test_images=64)
    return out, rows


def test_quickstart_writes_four_verified_bundles_and_a_report(quickstart):
    out, rows = quickstart
    names = sorted(r["variant"] for r in rows)
    assert len(names) == 4 and all(name.startswith("mobilenet_v1-") for name in names)
    for name in names:
        manifest = json.loads((out / name / "manifest.json").read_text())
        assert manifest["name"] == name and manifest["trained"] is True
        assert (out / name / "model.tflite").stat().st_size == manifest["model_bytes"]
        assert manifest["verification"]["samples"] == 64
    report = (out / "report.md").read_text()
    assert all(name in report for name in names)
    assert (out / "latency.png").exists() and (out / "results.jsonl").exists()


def test_quickstart_separable_has_fewer_macs_and_all_rows_are_timed(quickstart):
    _, rows = quickstart
    for row in rows:
        assert row["error"] is None and row["median_ms"] > 0
        assert row["analytic_saving"] == pytest.approx(row["mac_saving"])  # V1: formula exact
        if row["kind"] == "separable":
            assert row["mac_saving"] > 3, row
        else:
            assert row["mac_saving"] == 1.0
