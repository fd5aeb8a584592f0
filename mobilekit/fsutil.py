"""Writes that never leave a half-written file or directory behind (TF-free).

Every output mobilekit makes is written beside its final place and renamed into it, so a kill at
any moment leaves either the old result or the new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def staged_dir(final: str | os.PathLike, *, replace: bool):
    """Yield a fresh temp directory beside ``final``; on success it becomes ``final``.

    With ``replace`` an existing ``final`` is swapped out and deleted only after the new one is in
    place; without it an existing ``final`` raises FileExistsError, before anything is written or,
    when another process made ``final`` meanwhile, instead of the swap. The swap holds a lock on
    the parent directory, so two processes staging the same ``final`` leave one whole result.
    On any error the temp directory is removed and ``final`` is untouched.
    """
    final = Path(final)
    if final.exists() and not replace:
        raise FileExistsError(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    old = None
    try:
        yield tmp
        with _locked(final.parent):
            if final.exists():
                if not replace:
                    raise FileExistsError(final)
                old = final.with_name(f".{final.name}.old-{os.getpid()}")
                os.replace(final, old)
            try:
                os.replace(tmp, final)
            except OSError:
                if old is not None:
                    os.replace(old, final)  # put the old result back
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _locked(directory: Path):
    """An exclusive flock on ``directory`` itself (no lock file left behind)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
