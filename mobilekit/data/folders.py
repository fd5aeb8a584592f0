"""Image folders: one sub-folder per class, labels in sorted folder order.

Every file is decoded once up front (in a thread pool, with Pillow; JPEGs at 1/8 scale, which
still reads every byte): a corrupt or unreadable image is reported with its path and either skipped
(counted in the summary) or stops the run, by ``on_corrupt``, so training never dies half-way with a
bare TensorFlow traceback. Training then streams the good files (``pipeline.FileSplit``).
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from mobilekit.data.preprocess import IMAGE_EXTENSIONS, open_image, to_rgb
from mobilekit.errors import UsageError


def scan_folder(root, *, flag: str = "--data",
                min_classes: int = 2) -> tuple[list[Path], np.ndarray, list[str]]:
    """Files and int labels of a class-per-sub-folder tree; UsageError names what is wrong."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{flag} {root}: no such folder")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for name in classes:
        if name.splitlines() != [name] or not name.strip():  # labels.txt is read with splitlines()
            raise UsageError(f"{flag} {root}: class folder {name!r} cannot be one line of labels.txt "
                             f"(a line break or only spaces in its name); rename it")
    if len(classes) < min_classes:
        wanted = "two class sub-folders" if min_classes > 1 else "a class sub-folder"
        raise UsageError(f"{flag} {root}: needs at least {wanted} (one per class), found "
                         f"{len(classes)}")
    files, labels = [], []
    for index, name in enumerate(classes):
        found = sorted(p for p in (root / name).rglob("*")
                       if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not found:
            raise UsageError(f"{flag} {root / name}: class folder has no images "
                             f"({', '.join(IMAGE_EXTENSIONS)})")
        files += found
        labels += [index] * len(found)
    return files, np.asarray(labels, np.int64), classes


def _problem(path: Path) -> str | None:
    """Why ``path`` cannot be used as an image, or None when it decodes."""
    try:
        with open_image(path) as image:
            image.draft("RGB", (1, 1))  # JPEG: decode at 1/8 scale, every byte still read
            if min(to_rgb(image).size) < 1:
                return "empty image"
    except Exception as exc:  # Pillow raises many types for bad files; all mean "unusable"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'unreadable'}"
    return None


def check_images(files: list[Path], labels: np.ndarray, *, on_corrupt: str = "skip"):
    """Drop (or, with on_corrupt="stop", refuse) files that do not decode; report each path."""
    if on_corrupt not in ("skip", "stop"):
        raise UsageError(f"--on-corrupt: choose skip or stop, not {on_corrupt!r}")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        problems = list(pool.map(_problem, files))
    corrupt = [f"{path}: {why}" for path, why in zip(files, problems) if why]
    if corrupt and on_corrupt == "stop":
        raise UsageError(f"corrupt image {corrupt[0]} (use --on-corrupt skip to skip such files)")
    for line in corrupt:
        print(f"skipping corrupt image {line}", file=sys.stderr)
    keep = [i for i, why in enumerate(problems) if not why]
    return [files[i] for i in keep], labels[keep], corrupt


def labelled_files(root, labels: list[str], *, flag: str = "--data", of: str = "the model"):
    """Readable files of a class-per-sub-folder tree whose class names are some of a model's
    ``labels``: (files, indices into ``labels``, the folder's classes, corrupt files skipped)."""
    files, truth, classes = scan_folder(root, flag=flag, min_classes=1)
    unknown = [c for c in classes if c not in labels]
    if unknown:
        shown = ", ".join(labels[:10]) + (", ..." if len(labels) > 10 else "")
        raise UsageError(f"{flag} {root}: class folders {', '.join(unknown)} are not labels of "
                         f"{of} ({shown})")
    files, truth, corrupt = check_images(files, truth, on_corrupt="skip")
    if not files:
        raise UsageError(f"{flag} {root}: no readable images")
    return files, np.asarray([labels.index(classes[t]) for t in truth], np.int64), classes, corrupt


def split_indices(labels: np.ndarray, *, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded per-class split: (train indices, validation indices); every class keeps a train
    image and, when it has two or more, gives at least one to validation."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for k in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == k))
        n_val = min(max(int(round(len(idx) * fraction)), 1), len(idx) - 1)
        val += list(idx[:n_val])
        train += list(idx[n_val:])
    return np.sort(np.asarray(train, np.int64)), np.sort(np.asarray(val, np.int64))
