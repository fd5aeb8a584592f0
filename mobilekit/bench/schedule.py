"""``mobilekit bench``: latency of .tflite files and bundles on one or more targets, honestly.

Each round runs every (model, thread count) once per target, in a fresh random order, so drift
and heat hit all variants alike; a cool-down may separate rounds. Every finished round is a row
(``"round": k``) appended to ``--results`` at once, so an interrupted run keeps what it finished;
the aggregate rows (``"round": null``) pool the rounds' samples and come last. With one round
each measurement is written at once as its aggregate row. Targets on different hosts run
concurrently (one thread per host); targets on the same host run one after another. Bench rows:
../shared/CONTRACTS.md.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

from mobilekit.errors import PartialFailure, UsageError
from mobilekit.runtime import graph, stats
from mobilekit.runtime.isolate import MEMORY_LIMIT_MB, RUN_TIME_LIMIT_S
from mobilekit.bench.targets import Target, TargetOptions, resolve_target

ROW_FIELDS = ("model", "name", "target", "emulated", "error", "machine", "threads", "kernels", "api",
              "runtime", "round", "rounds", "warmup_runs", "runs", "init_ms", "first_ms", "median_ms",
              "median_ci95_ms", "mean_ms", "std_ms", "min_ms", "max_ms", "p5_ms", "p90_ms", "p95_ms",
              "round_medians_ms", "peak_rss_mb", "ops_total", "xnnpack_partitions",
              "ops_outside_xnnpack", "input_seed", "output_sha256", "samples_ms", "warnings")


def model_name(path: Path) -> str:
    """A bundle's manifest name, else the file (or directory) name without extension."""
    manifest = path / "manifest.json"
    if path.is_dir() and manifest.is_file():
        try:
            name = json.loads(manifest.read_text(encoding="utf-8")).get("name")
        except (ValueError, AttributeError):
            name = None
        if isinstance(name, str) and name:
            return name
    return path.stem


def _ordered(row: dict) -> dict:
    """CONTRACTS field order first, anything else after."""
    return {**{k: row[k] for k in ROW_FIELDS if k in row}, **{k: v for k, v in row.items() if k not in ROW_FIELDS}}


class _Sink:
    """Collects rows; appends each to the JSONL file and reports it as soon as it exists."""

    def __init__(self, results: str | Path | None, on_row: Callable[[dict], None] | None):
        self.results = Path(results) if results else None
        self.on_row = on_row
        self.rows: list[dict] = []
        self.lock = threading.Lock()
        if self.results:
            try:
                self.results.parent.mkdir(parents=True, exist_ok=True)
                self.results.open("a").close()
            except OSError as exc:
                raise UsageError(f"--results {self.results}: cannot write ({exc.strerror})") from None

    def add(self, row: dict) -> None:
        row = _ordered(row)
        with self.lock:
            self.rows.append(row)
            if self.results:
                append_line(self.results, json.dumps(row))
            if self.on_row:
                self.on_row(row)


def append_line(path: Path, line: str) -> None:
    """Append one whole line to a JSON Lines file that other processes may append to as well.

    Under an exclusive ``flock`` (every bench appending to the file takes it), a last line left
    without its newline by a writer killed mid-write is cut off first, then the line goes in with
    one ``write`` on an O_APPEND descriptor: readers see whole rows only.
    """
    data = (line + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _cut_torn_tail(fd)
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
    finally:
        os.close(fd)  # releases the lock


def _cut_torn_tail(fd: int) -> None:
    """Truncate the file after its last newline (the unfinished row of a killed writer)."""
    size = os.fstat(fd).st_size
    end = size
    while end > 0:
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    if end < size:
        os.ftruncate(fd, end)


def _checked_models(paths) -> tuple[list[tuple[str, Path, str]], list[tuple[str, str, str]]]:
    """(measurable (given path, .tflite, name), unreadable (given path, name, error)); raises
    UsageError when no path is a TFLite file at all."""
    good, bad = [], []
    for given in paths:
        given = str(given)
        try:
            good.append((given, graph.check_tflite(graph.model_file(given)), model_name(Path(given))))
        except UsageError as exc:
            bad.append((given, model_name(Path(given)), str(exc)))
    if not good:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise UsageError(f"{bad[0][2]}{more}")
    return good, bad


def aggregate(rows: list[dict]) -> dict:
    """One row from a variant's round rows: pooled samples, medians of init and first run."""
    ok = [r for r in rows if not r.get("error")]
    base = {k: rows[0][k] for k in ("model", "name", "target", "emulated", "threads", "kernels") if k in rows[0]}
    if not ok:
        return {**base, "error": rows[0]["error"], "round": None, "rounds": len(rows)}
    kept = _target_warnings(ok)
    if not all(r.get("samples_ms") for r in ok):
        # A tool that reports summary numbers only (benchmark_model on adb): nothing to pool.
        return {**ok[0], "round": None, "rounds": len(ok), "warnings": kept,
                "round_medians_ms": [r["median_ms"] for r in ok]}
    samples = [s for r in ok for s in r["samples_ms"]]
    row = {**ok[0], "round": None, "rounds": len(ok), "runs": len(samples),
           "init_ms": statistics.median(r["init_ms"] for r in ok),
           "first_ms": statistics.median(r["first_ms"] for r in ok),
           **stats.summarize(samples),
           "round_medians_ms": [r["median_ms"] for r in ok],
           "peak_rss_mb": max((r["peak_rss_mb"] for r in ok if r["peak_rss_mb"] is not None), default=None),
           "samples_ms": samples, "warnings": kept + stats.warnings_for(samples)}
    if len({r["output_sha256"] for r in ok}) > 1:
        row["warnings"].append("outputs differ between rounds (nondeterministic model or runtime)")
    if len(ok) < len(rows):
        failed = next(r["error"] for r in rows if r.get("error"))
        row["warnings"].append(f"{len(rows) - len(ok)} of {len(rows)} rounds failed: {failed}")
    return row


def _target_warnings(rows: list[dict]) -> list[str]:
    """Warnings a target added (e.g. "emulated: not latency"), without the sample statistics'
    ones, which are recomputed over the pooled samples."""
    kept: list[str] = []
    for r in rows:
        recomputed = stats.warnings_for(r.get("samples_ms") or [])
        kept += [w for w in r.get("warnings", []) if w not in recomputed and w not in kept]
    return kept


def runner_args(*, threads: int, kernels: str, runs: int, warmup: int, min_secs: float,
                input_shape: list[int] | None, input_seed: int, api: str, time_limit: float = RUN_TIME_LIMIT_S,
                memory_limit: float = MEMORY_LIMIT_MB) -> list[str]:
    """The device runner's flags for one measurement."""
    args = ["--threads", str(threads), "--kernels", kernels, "--runs", str(runs), "--warmup", str(warmup),
            "--min-secs", str(min_secs), "--input-seed", str(input_seed), "--api", api,
            "--time-limit", f"{time_limit:g}", "--memory-limit", f"{memory_limit:g}"]
    if input_shape:
        args += ["--input-shape", ",".join(map(str, input_shape))]
    return args


def _validate(*, threads, runs, warmup, min_secs, rounds, cooldown, time_limit, memory_limit) -> None:
    if not threads or any(t < 1 for t in threads):
        raise UsageError(f"--threads {','.join(map(str, threads))}: thread counts must be >= 1")
    for flag, value, low in (("--runs", runs, 1), ("--warmup", warmup, 0), ("--min-secs", min_secs, 0),
                             ("--rounds", rounds, 1), ("--cooldown", cooldown, 0),
                             ("--time-limit", time_limit, 0), ("--memory-limit", memory_limit, 0)):
        if value < low:
            raise UsageError(f"{flag} {value}: must be >= {low}")


def benchmark(paths, *, targets=("local",), threads=(1,), kernels="xnnpack", runs=50, warmup=5,
              min_secs=1.0, rounds=1, cooldown=0.0, input_shape=None, input_seed=0, api="interpreter",
              results=None, options: TargetOptions | None = None, on_row=None, time_limit=RUN_TIME_LIMIT_S,
              memory_limit=MEMORY_LIMIT_MB) -> list[dict]:
    """Round rows then aggregate rows (CONTRACTS bench rows) for .tflite files or bundle dirs.

    Each model runs in its own runner process, stopped after ``time_limit`` seconds and capped at
    ``memory_limit`` MB of address space (0: no limit); hitting either is that model's error row.
    Raises UsageError when nothing can be measured (no path is a TFLite file, a bad flag or
    target); a target that fails mid-way (e.g. the host went away) ends only its own rows and
    is raised as PartialFailure at the end, after all rows are written.
    """
    threads = [int(t) for t in threads]
    _validate(threads=threads, runs=runs, warmup=warmup, min_secs=min_secs, rounds=rounds, cooldown=cooldown,
              time_limit=time_limit, memory_limit=memory_limit)
    good, bad = _checked_models(paths)
    resolved: list[Target] = [resolve_target(spec, options) for spec in targets]
    sink = _Sink(results, on_row)
    by_host: dict[str, list[Target]] = defaultdict(list)
    for target in resolved:
        by_host[target.host].append(target)
    round_rows: dict[tuple, list[dict]] = defaultdict(list)
    failures: list[str] = []

    def measure_host(host_targets: list[Target]) -> None:
        try:
            for k in range(1, rounds + 1):
                if k > 1 and cooldown:
                    time.sleep(cooldown)
                for target in host_targets:
                    for t in random.sample(threads, len(threads)):
                        order = random.sample(good, len(good))
                        args = runner_args(threads=t, kernels=kernels, runs=runs, warmup=warmup,
                                           min_secs=min_secs, input_shape=input_shape,
                                           input_seed=input_seed, api=api, time_limit=time_limit,
                                           memory_limit=memory_limit)
                        measured = target.run([tflite for _, tflite, _ in order], args)
                        for (given, _, name), row in zip(order, measured):
                            row = {**row, "model": given, "name": name, "target": target.spec,
                                   "emulated": target.emulated or bool(row.get("emulated")),
                                   "threads": t, "kernels": kernels,
                                   "round": k if rounds > 1 else None}
                            round_rows[(target.spec, given, t)].append(row)
                            sink.add(row if rounds > 1 else aggregate([row]))
        except (UsageError, PartialFailure, OSError) as exc:
            failures.append(str(exc))

    for target in resolved:
        for given, name, error in bad:
            for t in threads:
                sink.add({"model": given, "name": name, "target": target.spec, "emulated": target.emulated,
                          "error": error, "threads": t, "kernels": kernels, "round": None})
    groups = list(by_host.values())
    if len(groups) == 1:
        measure_host(groups[0])  # in this thread, so Ctrl-C stops it at once
    else:
        workers = [threading.Thread(target=measure_host, args=(g,), daemon=True) for g in groups]
        for w in workers:
            w.start()
        for w in workers:
            while w.is_alive():
                w.join(0.2)

    for target in resolved if rounds > 1 else ():
        for given, _, _ in good:
            for t in threads:
                if round_rows.get((target.spec, given, t)):
                    sink.add(aggregate(round_rows[(target.spec, given, t)]))
    if failures:
        if not round_rows:
            raise UsageError(failures[0])
        raise PartialFailure(f"{failures[0]} (finished rows kept)")
    return sink.rows


def print_progress(row: dict) -> None:
    """One stderr line per finished row (bench's ``on_row``)."""
    where = f"{row['target']} {row['name']} x{row['threads']}"
    label = f"round {row['round']}" if row.get("round") else "result"
    if row.get("error"):
        print(f"{label}: {where}: ERROR {row['error']}", file=sys.stderr)
    else:
        print(f"{label}: {where}: median {row['median_ms']:.3f} ms {_ci_text(row)}", file=sys.stderr)


def _ci_text(row: dict) -> str:
    ci = row.get("median_ci95_ms")
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "[no samples]"


def format_table(rows: list[dict]) -> str:
    """The aggregate rows as a human table."""
    lines = [f"{'name':32} {'target':16} {'thr':>3} {'median ms':>10} {'95% CI':>19} {'p90 ms':>9} "
             f"{'runs':>6}  notes"]
    for r in rows:
        if r.get("round") is not None:
            continue
        if r.get("error"):
            lines.append(f"{r['name']:32} {r['target']:16} {r['threads']:>3} {'ERROR':>10}  {r['error']}")
            continue
        notes = "; ".join((["EMULATED: not latency"] if r.get("emulated") else []) + r["warnings"])
        p90 = f"{r['p90_ms']:.3f}" if r.get("p90_ms") is not None else "-"
        lines.append(f"{r['name']:32} {r['target']:16} {r['threads']:>3} {r['median_ms']:>10.3f} "
                     f"{_ci_text(r):>19} {p90:>9} {r.get('runs', '-'):>6}  {notes}")
    return "\n".join(lines)
