"""Image folders: one sub-folder per class, labels in sorted folder order.

Every file is decoded once up front (in a thread pool, with Pillow): a corrupt or unreadable image is
reported with its path and either skipped (counted in the summary) or stops the run, by
``on_corrupt``, so training never dies half-way with a bare TensorFlow traceback. The good files are
then decoded and resized by a parallel tf.data map into a uint8 array at the model's resolution,
which is the cache the training pipeline reads every epoch.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from mobilekit.errors import UsageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def scan_folder(root, *, flag: str = "--data") -> tuple[list[Path], np.ndarray, list[str]]:
    """Files and int labels of a class-per-sub-folder tree; UsageError names what is wrong."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{flag} {root}: no such folder")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for name in classes:
        if name.splitlines() != [name] or not name.strip():  # labels.txt is read with splitlines()
            raise UsageError(f"{flag} {root}: class folder {name!r} cannot be one line of labels.txt "
                             f"(a line break or only spaces in its name); rename it")
    if len(classes) < 2:
        raise UsageError(f"{flag} {root}: needs at least two class sub-folders, found "
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
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            if image.width < 1 or image.height < 1:
                return "empty image"
    except Exception as exc:  # Pillow raises many types for bad files; all mean "unusable"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'unreadable'}"
    return None


def check_images(files: list[Path], labels: np.ndarray, *, on_corrupt: str = "skip"):
    """Drop (or, with on_corrupt="stop", refuse) files that do not decode; report each path."""
    if on_corrupt not in ("skip", "stop"):
        raise UsageError(f"--on-corrupt: choose skip or stop, not {on_corrupt!r}")
    with ThreadPoolExecutor(max_workers=4) as pool:
        problems = list(pool.map(_problem, files))
    corrupt = [f"{path}: {why}" for path, why in zip(files, problems) if why]
    if corrupt and on_corrupt == "stop":
        raise UsageError(f"corrupt image {corrupt[0]} (use --on-corrupt skip to skip such files)")
    for line in corrupt:
        print(f"skipping corrupt image {line}", file=sys.stderr)
    keep = [i for i, why in enumerate(problems) if not why]
    return [files[i] for i in keep], labels[keep], corrupt


def decode_files(files: list[Path], *, resolution: int, batch_size: int = 64) -> np.ndarray:
    """Decode to RGB and resize (bilinear, no crop, as the manifest says) -> uint8 [N, R, R, 3]."""
    from mobilekit.keras import tf

    def load(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        image = tf.image.resize(image, (resolution, resolution), method="bilinear")
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)

    ds = tf.data.Dataset.from_tensor_slices([str(f) for f in files])
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    batches = [b.numpy() for b in ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)]
    if not batches:
        return np.zeros((0, resolution, resolution, 3), np.uint8)
    return np.concatenate(batches)


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
