"""Mutated .tflite files and a crash-proof driver that feeds them to the ``mobilekit`` command line.

Shared by tests/test_fuzz.py (a CI-sized run) and benchmarks/fuzz_campaign.py (the long one).

Mutations know the flatbuffer's layout: the structure check is run once on the original with a
recording reader, which yields the offset of every uoffset, vtable entry, vector length, index
and scalar it read; the mutations overwrite those with boundary values, besides blind byte flips,
truncation, splices and duplicated tables.

The driver runs the commands in-process in a worker subprocess (so TensorFlow, which ``summary``
imports, loads once per worker): each command's exit code, whether a traceback escaped, and its
time come back as one JSON line. A worker killed by a signal is a crash of the mobilekit
process; a command past its deadline is a hang; either way the worker is restarted after that
mutant.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import random
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mobilekit.runtime import flatbuffer_check

# what the mobilekit process reports when a child died, hung or hit its memory cap
CONTAINED = {"crash": ("runtime crashed (signal",), "time limit": ("time limit",),
             "memory": ("out of memory", "of the --memory-limit")}
KINDS = ("flip", "truncate", "offset", "vtable", "index", "scalar", "duplicate", "splice")
COMMANDS = ("inspect", "bench", "summary")
ROOT = Path(__file__).resolve().parent.parent


class _Recorder(flatbuffer_check._File):
    """The structure check's reader, noting where each kind of field lives."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.at: dict[str, list[int]] = {"offset": [], "vtable": [], "index": [], "scalar": []}
        self.table_starts: list[int] = []

    def unpack(self, fmt, pos, what):
        kind = {"<I": "offset", "<H": "vtable"}.get(fmt, "scalar")
        self.at[kind].append(pos)
        return super().unpack(fmt, pos, what)

    def table(self, pos, what):
        self.table_starts.append(pos)
        return super().table(pos, what)

    def vector(self, pos, element_bytes, what):
        start, length = super().vector(pos, element_bytes, what)
        if element_bytes == 4:
            self.at["index"] += range(start, start + 4 * min(length, 4096), 4)
        return start, length


def layout(data: bytes) -> _Recorder:
    recorder = _Recorder(data)
    flatbuffer_check._check_model(recorder)
    return recorder


def _value(rng: random.Random, original: int, width: int, size: int) -> int:
    """A boundary value for a field of ``width`` bytes (masked to it)."""
    top = 2 ** (8 * width)
    pool = [0, 1, 2, 4, 7, 8, 0x7F, 0x80, 0xFF, top - 1, top - 2, top // 2, top // 2 - 1,
            original + 4, original - 4, original * 2, original + 1, rng.randrange(top)]
    if width >= 4:
        pool += [size, size - 4, size + 4, 0xFFFF, 0x10000, 2**31 - 1, 2**31]
    return rng.choice(pool) % top


def _overwrite(data: bytearray, pos: int, width: int, rng: random.Random) -> None:
    fmt = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}[width]
    original = struct.unpack_from(fmt, data, pos)[0]
    struct.pack_into(fmt, data, pos, _value(rng, original, width, len(data)))


def mutate(data: bytes, kind: str, rng: random.Random, where: _Recorder) -> bytes:
    """One mutant of ``data`` of the given kind (see KINDS)."""
    out = bytearray(data)
    if kind == "flip":
        for _ in range(rng.choice((1, 1, 2, 4, 16))):
            out[rng.randrange(len(out))] = rng.randrange(256)
    elif kind == "truncate":
        return bytes(out[:rng.choice((rng.randrange(64), rng.randrange(len(out))))])
    elif kind in ("offset", "vtable", "index", "scalar"):
        width = {"offset": 4, "vtable": 2, "index": 4, "scalar": rng.choice((1, 4))}[kind]
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            pos = rng.choice(where.at[kind])
            if pos + width <= len(out):
                _overwrite(out, pos, width, rng)
    elif kind == "duplicate":  # one table's bytes over another's, or one offset aimed at another table
        a, b = rng.choice(where.table_starts), rng.choice(where.table_starts)
        if rng.random() < 0.5:
            span = rng.choice((8, 16, 32, 64, 256))
            out[b:b + span] = data[a:a + span]
            del out[len(data):]
        else:
            pos = rng.choice(where.at["offset"])
            struct.pack_into("<I", out, pos, (a - pos) % 2**32)
    elif kind == "splice":  # bytes inserted or removed: everything after shifts
        pos = rng.randrange(len(out))
        if rng.random() < 0.5:
            out[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.choice((1, 4, 8, 64))))
        else:
            del out[pos:pos + rng.choice((1, 4, 8, 64))]
    return bytes(out)


def make_mutants(models: dict[str, Path], count: int, seed: int, folder: Path):
    """``count`` mutants, round-robin over models and KINDS, each written to ``folder`` as it is
    yielded ({"index", "file", "model", "kind"}), so a long campaign can delete them as it goes."""
    rng = random.Random(seed)
    sources = {name: (path.read_bytes(), layout(path.read_bytes())) for name, path in models.items()}
    names = sorted(sources)
    for i in range(count):
        name, kind = names[i % len(names)], KINDS[(i // len(names)) % len(KINDS)]
        data, where = sources[name]
        path = folder / f"{i:05d}-{name}-{kind}.tflite"
        path.write_bytes(mutate(data, kind, rng, where))
        yield {"index": i, "file": str(path), "model": name, "kind": kind}


def command_argv(command: str, path: str, time_limit: float, memory_mb: float) -> list[str]:
    if command == "bench":
        return ["bench", path, "--runs", "1", "--warmup", "0", "--min-secs", "0",
                "--time-limit", f"{time_limit:g}", "--memory-limit", f"{memory_mb:g}"]
    return [command, path, "--json"]


def _worker(time_limit: float, memory_mb: float) -> None:
    """Read mutant paths on stdin; per command print {"command", "code", "traceback", "seconds"}."""
    from mobilekit import cli
    from mobilekit.runtime import isolate

    isolate.TIME_LIMIT_S, isolate.MEMORY_LIMIT_MB = time_limit, memory_mb
    out = sys.stdout
    for line in sys.stdin:
        job = json.loads(line)
        for command in job["commands"]:
            print(json.dumps({"started": command}), file=out, flush=True)
            err, start, escaped = io.StringIO(), time.monotonic(), None
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    code = cli.main(command_argv(command, job["file"], time_limit, memory_mb))
                except SystemExit as exc:
                    code = exc.code
                except BaseException as exc:  # noqa: BLE001 - exactly what the fuzz test looks for
                    code, escaped = None, f"{type(exc).__name__}: {exc}"
            text = err.getvalue()
            print(json.dumps({"command": command, "code": code, "seconds": time.monotonic() - start,
                              "traceback": escaped or ("Traceback (most recent call last)" in text),
                              "stderr": text[-2000:]}), file=out, flush=True)
        print(json.dumps({"done": job["index"]}), file=out, flush=True)


@dataclass
class Report:
    """What happened to every (mutant, command)."""

    runs: int = 0
    exit_codes: Counter = field(default_factory=Counter)
    by_kind: dict = field(default_factory=dict)  # kind -> Counter of exit codes
    crashes: list = field(default_factory=list)  # (file, command, signal)
    hangs: list = field(default_factory=list)
    tracebacks: list = field(default_factory=list)
    bad_codes: list = field(default_factory=list)
    contained: Counter = field(default_factory=Counter)  # child crashes, hangs, memory: caught, one line
    contained_examples: dict = field(default_factory=dict)
    slowest_s: float = 0.0

    def problems(self) -> list:
        return self.crashes + self.hangs + self.tracebacks + self.bad_codes


class _Worker:
    def __init__(self, time_limit: float, memory_mb: float):
        code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import tflite_mutants; " \
               f"tflite_mutants._worker({time_limit!r}, {memory_mb!r})"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def run(mutants, *, time_limit: float = 10.0, memory_mb: float = 2048,
        commands=COMMANDS, startup_s: float = 120.0, progress=None) -> Report:
    """Every mutant through every command; a deadline of ``time_limit`` x 3 + 30 s per command
    (bench may start two children per model, inspect two) counts as a hang."""
    report, worker = Report(), None
    deadline_s = time_limit * 3 + 30
    for mutant in mutants:
        if worker is None:
            worker, first = _Worker(time_limit, memory_mb), True
        worker.proc.stdin.write(json.dumps({**mutant, "commands": list(commands)}) + "\n")
        worker.proc.stdin.flush()
        command, lost = None, None
        while True:
            wait = deadline_s + (startup_s if first else 0)
            try:
                message = worker.lines.get(timeout=wait)
            except queue.Empty:
                report.hangs.append((mutant["file"], command))
                lost = "hang"
                break
            if message is None:
                report.crashes.append((mutant["file"], command, worker.proc.wait()))
                lost = "crash"
                break
            if "started" in message:
                command = message["started"]
                continue
            if "done" in message:
                break
            first = False
            _count(report, mutant, message)
        if lost:
            worker.stop()
            worker = None
        if progress:
            progress(mutant, report)
    if worker is not None:
        worker.proc.stdin.close()
        worker.stop()
    return report


def _count(report: Report, mutant: dict, message: dict) -> None:
    report.runs += 1
    code = message["code"]
    report.exit_codes[code] += 1
    report.by_kind.setdefault(mutant["kind"], Counter())[code] += 1
    report.slowest_s = max(report.slowest_s, message["seconds"])
    where = (mutant["file"], message["command"])
    for what, marks in CONTAINED.items():
        line = next((ln for ln in message["stderr"].splitlines() if any(m in ln for m in marks)), None)
        if line:
            report.contained[what] += 1
            report.contained_examples.setdefault(what, line.strip()[-200:])
    if message["traceback"]:
        report.tracebacks.append((*where, message["traceback"], message["stderr"]))
    elif code not in (0, 1, 2):
        report.bad_codes.append((*where, code, message["stderr"]))
