"""Streaming tf.data input: one split -> one epoch's augmented, normalized batches.

A split (image files, in-memory or cached arrays, TFDS records) yields (index, uint8 image at the
model's size, label) in the epoch's order; everything after that is one shared tail: augment ->
normalize -> batch -> prefetch. Files are decoded and resized by ``preprocess`` (Pillow) in a
parallel map, so memory holds a few batches whatever the dataset's size.

The epoch's order is a permutation drawn from (seed, epoch) and augmentation uses stateless ops
seeded by (seed, epoch, index): an epoch's batches are a pure function of those numbers, so a
resumed run sees exactly the data it would have. ``shard=(count, index)`` gives a worker its share
of that permutation (multi-worker training splits by file, no worker decodes another's files).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mobilekit.data import preprocess
from mobilekit.data.embedded import NORMALIZATION
from mobilekit.keras import tf

AUTOTUNE = tf.data.AUTOTUNE
GATHER = 256  # in-memory images fetched per numpy call (one call per image would cost more)


def epoch_order(count: int, *, seed: int | None, epoch: int, shard: tuple[int, int] = (1, 0)):
    """Indices of one epoch: a (seed, epoch) permutation (or 0..count-1 without a seed), and of
    it every ``shard[0]``-th from ``shard[1]``, cut to equal length on every worker."""
    shards, index = shard
    if not 0 <= index < shards:
        raise ValueError(f"shard index {index} not in 0..{shards - 1}")
    order = np.arange(count, dtype=np.int64)
    if seed is not None:
        order = np.random.default_rng([seed, epoch]).permutation(count)
    return order[:count - count % shards][index::shards]


def augment(image, seed):
    """Label-preserving augmentation strong enough for a few thousand photos: horizontal flip,
    a random box of 70-100 % of each side (zoom, shift, a little aspect change) resized back with
    the contract's antialiased bilinear, brightness +-10 % and contrast 0.8-1.2. Float pixels."""
    size = tf.shape(image)[:2]
    image = tf.image.stateless_random_flip_left_right(image, seed)
    scale = tf.random.stateless_uniform([2], seed + 1, 0.7, 1.0)
    box = tf.maximum(tf.cast(tf.cast(size, tf.float32) * scale, tf.int32), 1)
    image = tf.image.stateless_random_crop(image, tf.concat([box, [3]], 0), seed + 2)
    image = tf.image.resize(image, size, "bilinear", antialias=True)
    image = tf.image.stateless_random_brightness(image, 0.1 * 255, seed + 3)
    image = tf.image.stateless_random_contrast(image, 0.8, 1.2, seed + 4)
    return tf.clip_by_value(image, 0.0, 255.0)


def normalize_tensor(image, normalization: dict = NORMALIZATION):
    """uint8 pixels -> float32 (x - mean) / std, the same float32 arithmetic as
    ``preprocess.normalize``."""
    mean = tf.constant(normalization["mean"], tf.float32)
    std = tf.constant(normalization["std"], tf.float32)
    return (tf.cast(image, tf.float32) - mean) / std


class Split:
    """One split of a dataset at the model's input size: its length, labels and epochs."""

    size: tuple[int, int]
    labels: np.ndarray
    crop = "none"  # how images of another aspect ratio are fitted (preprocess.fit)

    def __len__(self) -> int:
        return len(self.labels)

    def examples(self, order: np.ndarray):
        """tf.data of (index, uint8 [H, W, 3], label) for ``order`` (subclasses)."""
        raise NotImplementedError

    def epoch(self, *, seed: int | None, epoch: int, shard: tuple[int, int]):
        return self.examples(epoch_order(len(self), seed=seed, epoch=epoch, shard=shard))

    def dataset(self, *, batch_size: int, seed: int | None = None, epoch: int = 0,
                augment_images: bool = False, shard: tuple[int, int] = (1, 0),
                normalization: dict = NORMALIZATION, drop_remainder: bool = False):
        """One epoch's batches of (normalized float32 image, int64 label); ``seed`` None keeps
        the split's own order (validation, test)."""
        key = tf.constant([seed or 0, epoch], tf.int64)

        def prepare(index, image, label):
            if augment_images:
                image = augment(image, tf.stack([key[0] * 1_000_003 + key[1], index]))
            return normalize_tensor(image, normalization), label

        ds = self.epoch(seed=seed, epoch=epoch, shard=shard)
        ds = ds.map(prepare, num_parallel_calls=AUTOTUNE, deterministic=True)
        return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(AUTOTUNE)

    def arrays(self, count: int | None = None, *, seed: int | None = None):
        """Up to ``count`` (uint8 images, labels), a seeded sample or the first ones: what
        calibration and verification need in memory."""
        ds = self.epoch(seed=seed, epoch=0, shard=(1, 0)).take(len(self) if count is None else count)
        images, labels = [], []
        for _, image, label in ds.batch(GATHER).as_numpy_iterator():
            images.append(image)
            labels.append(label)
        if not images:
            return np.zeros((0, *self.size, 3), np.uint8), np.zeros((0,), np.int64)
        return np.concatenate(images), np.concatenate(labels).astype(np.int64)


class ArraySplit(Split):
    """uint8 images already at the model's size (the embedded data, a decoded cache on disk)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = images, np.asarray(labels, np.int64)
        self.size = tuple(images.shape[1:3])

    def examples(self, order):
        images, labels = self.images, self.labels

        def gather(indices):
            return images[indices], labels[indices]

        def fetch(indices):
            image, label = tf.numpy_function(gather, [indices], (tf.uint8, tf.int64))
            return indices, tf.ensure_shape(image, (None, *self.size, 3)), tf.ensure_shape(label, (None,))

        ds = tf.data.Dataset.from_tensor_slices(np.asarray(order, np.int64)).batch(GATHER)
        ds = ds.map(fetch, num_parallel_calls=AUTOTUNE, deterministic=True).unbatch()
        return ds.apply(tf.data.experimental.assert_cardinality(len(order)))  # unbatch loses it


class FileSplit(Split):
    """Image files decoded and resized on the fly; with ``cache_dir``, decoded once into a
    uint8 .npy there (named by the files, their sizes and times, the size and crop) and read
    from it afterwards, for small resolutions where decoding dominates."""

    def __init__(self, files, labels, *, size: tuple[int, int], crop: str = "none",
                 cache_dir: str | None = None):
        self.files = [os.fspath(f) for f in files]
        self.labels = np.asarray(labels, np.int64)
        self.size, self.crop, self.cache_dir = tuple(size), crop, cache_dir
        self._cache: ArraySplit | None = None

    def epoch(self, *, seed, epoch, shard):
        if self.cache_dir:
            return self.cached().epoch(seed=seed, epoch=epoch, shard=shard)
        return super().epoch(seed=seed, epoch=epoch, shard=shard)

    def examples(self, order):
        size, crop = self.size, self.crop

        def load(path, index, label):
            pixels = tf.numpy_function(lambda p: preprocess.load_pixels(os.fsdecode(p), size, crop),
                                       [path],
                                       tf.uint8)
            return index, tf.ensure_shape(pixels, (*size, 3)), label

        order = np.asarray(order, np.int64)
        ds = tf.data.Dataset.from_tensor_slices(
            (np.asarray(self.files, object)[order].astype(str), order, self.labels[order]))
        return ds.map(load, num_parallel_calls=AUTOTUNE, deterministic=True)

    def cached(self) -> ArraySplit:
        """The split as a memory-mapped uint8 array in ``cache_dir``, written once (atomically)."""
        if self._cache is None:
            path = Path(self.cache_dir) / f"{self._cache_key()}.npy"
            if not path.exists():
                self._write_cache(path)
            self._cache = ArraySplit(np.load(path, mmap_mode="r"), self.labels)
        return self._cache

    def _cache_key(self) -> str:
        digest = hashlib.sha256(repr((self.size, self.crop)).encode())
        for f in self.files:
            stat = os.stat(f)
            digest.update(f"{os.path.abspath(f)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()[:24]

    def _write_cache(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"caching {len(self)} decoded images in {path}", file=sys.stderr)
        fd, tmp = tempfile.mkstemp(prefix=".cache.", suffix=".npy", dir=path.parent)
        os.close(fd)
        try:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                            shape=(len(self), *self.size, 3))
            start = 0
            for _, images, _ in self.examples(np.arange(len(self))).batch(GATHER).as_numpy_iterator():
                out[start:start + len(images)] = images
                start += len(images)
            out.flush()
            del out
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


@dataclass
class Data:
    """What a recipe trains on: train / val (/ test) splits, class names, and run.json's
    "dataset" record (enough to load the same data again)."""

    train: Split
    val: Split
    test: Split | None
    labels: list[str]
    info: dict


def as_split(data) -> Split:
    """A Split, or an (uint8 images, labels) pair as an ArraySplit."""
    return data if isinstance(data, Split) else ArraySplit(*data)

