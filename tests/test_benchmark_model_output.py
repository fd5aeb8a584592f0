"""The parser of the C++ benchmark_model tool's output reads every published format."""

from pathlib import Path

import pytest

from mobilekit.bench.targets.benchmark_model_output import parse_benchmark_output, strip_prefix

REFERENCE = Path(__file__).parent / "data" / "benchmark_model_output.txt"
REFERENCE_LINES = [line for line in REFERENCE.read_text().splitlines() if line and not line.startswith("#")]

# What each reference line says, in row units (ms, MB).
EXPECTED = {
    0: {"runs": 50, "min_ms": 53.077, "max_ms": 60.727, "mean_ms": 55.0432, "std_ms": 1.562},
    1: {"init_ms": 18.777, "first_ms": 64.791, "warmup_mean_ms": 57.7582, "mean_ms": 55.0432},
    2: {"memory_init_mb": 8.97656, "memory_overall_mb": 18.7227},
    3: {"init_ms": 1007.529, "first_ms": 4.098, "warmup_mean_ms": 1.6866, "mean_ms": 1.6879},
    4: {"warmup_mean_ms": 83.235, "init_ms": 38.467, "mean_ms": 79.7609},
}


def test_reference_file_has_the_lines_the_expectations_describe():
    assert len(REFERENCE_LINES) == len(EXPECTED)


@pytest.mark.parametrize("index", range(len(REFERENCE_LINES)))
def test_every_reference_line(index):
    assert parse_benchmark_output(REFERENCE_LINES[index]) == pytest.approx(EXPECTED[index])


@pytest.mark.parametrize("prefix", ["", "INFO: ", "05-31 10:31:13.023 21767 21767 I tflite  : "])
@pytest.mark.parametrize("index", range(len(REFERENCE_LINES)))
def test_any_prefix_reads_the_same(prefix, index):
    line = strip_prefix(REFERENCE_LINES[index])
    assert parse_benchmark_output(prefix + line) == pytest.approx(EXPECTED[index])


def test_strip_prefix_keeps_the_tool_text():
    assert strip_prefix(REFERENCE_LINES[3]).startswith("Inference timings in us: Init: 1007529")
    assert strip_prefix("INFO: count=3 curr=7") == "count=3 curr=7"


@pytest.mark.parametrize("line, runs, value_ms", [
    ("count=1 curr=4200", 1, 4.2),
    ("INFO: count=20 curr=1.04176e+06 (all same)", 20, 1041.76),
    ("05-31 10:31:13.023 21767 21767 I tflite  : count=5 curr=950.5 (all same)", 5, 0.9505),
])
def test_all_same_stats_line_fills_every_statistic(line, runs, value_ms):
    fields = parse_benchmark_output(line)
    assert fields["runs"] == runs
    for key in ("min_ms", "max_ms", "mean_ms", "median_ms", "p5_ms", "p95_ms"):
        assert fields[key] == pytest.approx(value_ms)
    assert fields["std_ms"] == 0.0


def test_percentile_suffix_of_newer_builds():
    line = "count=50 first=58154 curr=53809 min=53077 max=60727 avg=55043.2 std=1562 p5=53100 median=54900 p95=58000"
    fields = parse_benchmark_output("INFO: " + line)
    assert fields["p5_ms"] == pytest.approx(53.1)
    assert fields["median_ms"] == pytest.approx(54.9)
    assert fields["p95_ms"] == pytest.approx(58.0)
    assert fields["mean_ms"] == pytest.approx(55.0432)


def test_exponent_numbers_in_the_timings_line():
    fields = parse_benchmark_output(
        "Inference timings in us: Init: 1.04176e+06, First inference: 2.5e+06, "
        "Warmup (avg): 1.2e+06, Inference (avg): 1.10001e+06")
    assert fields == pytest.approx({"init_ms": 1041.76, "first_ms": 2500.0,
                                    "warmup_mean_ms": 1200.0, "mean_ms": 1100.01})


def test_peak_memory_line():
    line = "INFO: Overall peak memory footprint (MB) via periodic monitoring: 29.1836"
    assert parse_benchmark_output(line) == {"peak_rss_mb": pytest.approx(29.1836)}


def test_a_whole_run_takes_the_measured_stats_line_not_the_warmup_one():
    output = "\n".join([
        "INFO: STARTING!",
        "INFO: Num runs: [50]",
        "INFO: The input model file size (MB): 4.27635",
        "INFO: Initialized session in 18.777ms.",
        "INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.",
        "INFO: count=9 first=64791 curr=57000 min=56000 max=64791 avg=57758.2 std=2500",
        "INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.",
        "INFO: count=50 first=58154 curr=53809 min=53077 max=60727 avg=55043.2 std=1562 p5=53100 median=54900 p95=58000",
        "INFO: Inference timings in us: Init: 18777, First inference: 64791, Warmup (avg): 57758.2, Inference (avg): 55043.2",
        "INFO: Memory footprint delta from the start of the tool (MB): init=8.97656 overall=18.7227",
        "INFO: Overall peak memory footprint (MB) via periodic monitoring: 29.1836",
    ])
    assert parse_benchmark_output(output) == pytest.approx({
        "runs": 50, "min_ms": 53.077, "max_ms": 60.727, "mean_ms": 55.0432, "std_ms": 1.562,
        "p5_ms": 53.1, "median_ms": 54.9, "p95_ms": 58.0, "init_ms": 18.777, "first_ms": 64.791,
        "warmup_mean_ms": 57.7582, "memory_init_mb": 8.97656, "memory_overall_mb": 18.7227,
        "peak_rss_mb": 29.1836})


def test_a_later_stats_line_without_percentiles_drops_the_earlier_ones():
    output = "count=9 curr=5 min=4 max=6 avg=5 std=1 p5=4 median=5 p95=6\ncount=50 curr=5 min=4 max=7 avg=5 std=1"
    fields = parse_benchmark_output(output)
    assert fields["runs"] == 50 and fields["max_ms"] == pytest.approx(0.007)
    assert "median_ms" not in fields


@pytest.mark.parametrize("text", [
    "", "INFO: STARTING!", "ERROR: Failed to load model: /data/local/tmp/x.tflite",
    "count of threads: 4", "Inference timings in us: n/a",
])
def test_text_without_timings_gives_nothing(text):
    assert parse_benchmark_output(text) == {}
