"""Reads the text TensorFlow Lite's C++ ``benchmark_model`` tool prints into bench-row fields.

The adb target runs the official binary when the user supplies one; its output is the only
record of the run, in several historical formats (see
``../shared/reference/benchmark_model_output.txt``): lines may carry no prefix, ``INFO: `` or a
logcat prefix; the stats line shrinks to ``count=N curr=X`` when all samples are equal; newer
builds append ``p5= median= p95=``; numbers may print as ``1.04176e+06``. Times are microseconds
in the tool and milliseconds in rows.
"""

from __future__ import annotations

import re

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"

# "05-31 10:31:13.023 21767 21767 I tflite  : " (logcat) or "INFO: " / "WARNING: " (tool logging)
_PREFIX = re.compile(
    r"^(?:\d\d-\d\d\s+\d\d:\d\d:\d\d\.\d+\s+\d+\s+\d+\s+[VDIWEF]\s+[^:]*:\s?"
    r"|(?:INFO|WARNING|ERROR|VERBOSE): )")
_STATS = re.compile(rf"^count=(?P<count>\d+)(?P<pairs>(?:\s+\w+={_NUMBER})*)(?:\s+\(all same\))?\s*$")
_PAIR = re.compile(rf"(\w+)=({_NUMBER})")
_TIMINGS = re.compile(r"^(?:Average )?[Ii]nference timings in us: (?P<body>.*)$")
_MEMORY = re.compile(r"^Memory footprint delta from the start of the tool \(MB\): (?P<body>.*)$")
_PEAK = re.compile(rf"^Overall peak memory footprint \(MB\) via periodic monitoring: (?P<mb>{_NUMBER})\s*$")

# stats-line key -> row field (values in microseconds)
_STATS_FIELDS = {"min": "min_ms", "max": "max_ms", "avg": "mean_ms", "std": "std_ms",
                 "p5": "p5_ms", "median": "median_ms", "p95": "p95_ms"}
# "Inference timings" labels -> row field (values in microseconds)
_TIMING_FIELDS = {"Init": "init_ms", "First inference": "first_ms", "Warmup (avg)": "warmup_mean_ms",
                  "Inference (avg)": "mean_ms", "Warmup": "warmup_mean_ms", "Inference": "mean_ms"}


def _ms(microseconds: float) -> float:
    return round(microseconds / 1000.0, 4)


def strip_prefix(line: str) -> str:
    """The tool's own text of one output line, without a logcat or logging prefix."""
    return _PREFIX.sub("", line.rstrip("\r\n"), count=1).strip()


def parse_stats_line(text: str) -> dict | None:
    """Fields of a ``count=...`` stats line (prefix already stripped), or None for other text."""
    match = _STATS.match(text)
    if not match:
        return None
    pairs = {key: float(value) for key, value in _PAIR.findall(match["pairs"])}
    fields: dict = {"runs": int(match["count"])}
    if set(pairs) <= {"curr"} and "curr" in pairs:
        # every sample equal: the tool prints only the current value
        value = _ms(pairs["curr"])
        fields.update(min_ms=value, max_ms=value, mean_ms=value, median_ms=value, p5_ms=value,
                      p95_ms=value, std_ms=0.0)
        return fields
    for key, field in _STATS_FIELDS.items():
        if key in pairs:
            fields[field] = _ms(pairs[key])
    return fields


def parse_benchmark_output(text: str) -> dict:
    """Bench-row fields found in ``benchmark_model`` output (empty dict when it has no timings).

    The tool prints a stats line for the warm-up runs and then one for the measured runs; the
    last one wins. Keys: runs, init_ms, first_ms, warmup_mean_ms, mean_ms, std_ms, min_ms,
    max_ms, and when printed p5_ms, median_ms, p95_ms, memory_init_mb, memory_overall_mb,
    peak_rss_mb (the tool's periodic peak memory footprint).
    """
    fields: dict = {}
    for raw in text.splitlines():
        line = strip_prefix(raw)
        stats = parse_stats_line(line)
        if stats is not None:
            for key in _STATS_FIELDS.values():
                fields.pop(key, None)
            fields.update(stats)
            continue
        match = _TIMINGS.match(line)
        if match:
            # "Init: 18777, First inference: 64791, Warmup (avg): 57758.2, Inference (avg): ..."
            for item in match["body"].split(","):
                label, _, value = item.partition(":")
                field = _TIMING_FIELDS.get(label.strip())
                if field and re.fullmatch(_NUMBER, value.strip()):
                    fields[field] = _ms(float(value))
            continue
        match = _MEMORY.match(line)
        if match:
            pairs = dict(_PAIR.findall(match["body"]))
            for key in ("init", "overall"):
                if key in pairs:
                    fields[f"memory_{key}_mb"] = float(pairs[key])
            continue
        match = _PEAK.match(line)
        if match:
            fields["peak_rss_mb"] = float(match["mb"])
    return fields
