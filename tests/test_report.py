"""The comparison table: ratios against the standard variant of the same group."""

from mobilekit.studies import report


def _manifest(name, kind, quant, macs):
    return {"name": name, "quantization": quant, "params": 1000, "macs": macs,
            "builder": {"name": "mobilenet_v1", "kind": kind},
            "verification": {"keras_accuracy": 0.9, "tflite_accuracy": 0.89}}


def _bench(name, median, round_=None, error=None):
    row = {"name": name, "target": "local", "threads": 1, "round": round_, "error": error}
    if not error:
        row.update(median_ms=median, median_ci95_ms=[median * 0.9, median * 1.1])
    return row


def test_ratios_are_taken_within_the_same_quantization():
    manifests = [_manifest("s32", "standard", "fp32", 800e6), _manifest("d32", "separable", "fp32", 100e6),
                 _manifest("s8", "standard", "int8", 800e6), _manifest("d8", "separable", "int8", 200e6)]
    bench = [_bench("s32", 10.0), _bench("d32", 4.0), _bench("s8", 6.0), _bench("d8", 3.0),
             _bench("d8", 99.0, round_=0)]
    rows = {r["variant"]: r for r in report.variant_rows(manifests, bench)}
    assert set(rows) == {"s32", "d32", "s8", "d8"}, "round rows must not become variants"
    assert rows["d32"]["mac_saving"] == 8.0 and rows["d32"]["speedup"] == 2.5
    lo, hi = rows["d32"]["speedup_ci95"]
    assert lo == 9.0 / 4.4 and hi == 11.0 / 3.6, "opposite ends of the two CIs"
    assert rows["d8"]["mac_saving"] == 4.0 and rows["d8"]["speedup"] == 2.0
    assert rows["s8"]["speedup"] == 1.0
    assert abs(rows["d32"]["gmacs"] - 100e6 / 4e6) < 1e-9


def test_error_rows_show_as_errors_and_get_no_speedup(tmp_path):
    manifests = [_manifest("s", "standard", "fp32", 8e6), _manifest("d", "separable", "fp32", 1e6)]
    rows = report.variant_rows(manifests, [_bench("s", 2.0), _bench("d", None, error="boom")])
    assert "speedup" not in rows[1]
    table = report.format_table(rows)
    assert "error" in table.splitlines()[3]
    path = report.write_report(tmp_path, "t", rows, ["a note"])
    text = path.read_text()
    assert "a note" in text and "latency.png" in text
    assert (tmp_path / "latency_vs_macs.png").stat().st_size > 1000
