"""The streaming pipeline: epoch order, shards, reproducible epochs, the on-disk cache."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from mobilekit.data import embedded_arrays
from mobilekit.data.pipeline import ArraySplit, FileSplit, epoch_order


def test_epoch_order_is_a_seeded_permutation_per_epoch():
    a = epoch_order(100, seed=1, epoch=0)
    assert sorted(a) == list(range(100))
    assert np.array_equal(a, epoch_order(100, seed=1, epoch=0))
    assert not np.array_equal(a, epoch_order(100, seed=1, epoch=1))
    assert not np.array_equal(a, epoch_order(100, seed=2, epoch=0))
    assert epoch_order(5, seed=None, epoch=3).tolist() == [0, 1, 2, 3, 4]


def test_shards_split_the_epoch_between_workers():
    whole = epoch_order(103, seed=4, epoch=2)
    shards = [epoch_order(103, seed=4, epoch=2, shard=(3, i)) for i in range(3)]
    assert [len(s) for s in shards] == [34, 34, 34]  # equal steps on every worker
    joined = np.concatenate(shards)
    assert len(set(joined)) == 102 and set(joined) <= set(whole)
    with pytest.raises(ValueError):
        epoch_order(10, seed=0, epoch=0, shard=(2, 2))


@pytest.fixture
def folder(tmp_path):
    images, labels = embedded_arrays("train", resolution=40, count=24)
    files = []
    for i, image in enumerate(images):
        files.append(tmp_path / "images" / f"{i:02d}.{'png' if i % 2 else 'jpg'}")
        files[-1].parent.mkdir(exist_ok=True)
        Image.fromarray(image).save(files[-1])
    return files, labels


def _epoch(split, epoch, **kwargs):
    batches = split.dataset(batch_size=5, seed=7, epoch=epoch, augment_images=True, **kwargs)
    return [(x.numpy(), y.numpy()) for x, y in batches]


def test_file_split_epochs_are_reproducible_and_differ(folder):
    split = FileSplit(*folder, size=(24, 24))
    first, again, other = _epoch(split, 3), _epoch(split, 3), _epoch(split, 4)
    assert [len(y) for _, y in first] == [5, 5, 5, 5, 4]
    assert int(split.dataset(batch_size=5).cardinality()) == 5  # Keras knows the epoch's length
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(first, again))
    assert not np.array_equal(np.concatenate([y for _, y in first]),
                              np.concatenate([y for _, y in other]))
    val = np.concatenate([y for _, y in split.dataset(batch_size=5)])
    assert np.array_equal(val, folder[1])  # no seed: the split's own order


def test_file_split_shard_sees_its_share(folder):
    split = FileSplit(*folder, size=(16, 16))
    labels = [np.concatenate([y for _, y in _epoch(split, 0, shard=(2, i))]) for i in range(2)]
    order = epoch_order(24, seed=7, epoch=0)
    assert np.array_equal(labels[0], folder[1][order[0::2]])
    assert np.array_equal(labels[1], folder[1][order[1::2]])


def test_cache_gives_the_same_batches_and_is_written_once(folder, tmp_path):
    files, labels = folder
    streamed = _epoch(FileSplit(files, labels, size=(20, 20), crop="center"), 1)
    cache = tmp_path / "cache"
    cached = _epoch(FileSplit(files, labels, size=(20, 20), crop="center", cache_dir=cache), 1)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(streamed, cached))
    (written,) = cache.glob("*.npy")
    stamp = written.stat().st_mtime_ns
    _epoch(FileSplit(files, labels, size=(20, 20), crop="center", cache_dir=cache), 2)
    assert written.stat().st_mtime_ns == stamp and len(list(cache.glob("*.npy"))) == 1
    os.utime(files[0], ns=(1, 1))  # a changed file is a new cache
    _epoch(FileSplit(files, labels, size=(20, 20), crop="center", cache_dir=cache), 2)
    assert len(list(cache.glob("*.npy"))) == 2


def test_array_split_goes_through_the_same_tail(folder):
    images, labels = embedded_arrays("val", resolution=16, count=30)
    split = ArraySplit(images, labels)
    x, y = next(iter(split.dataset(batch_size=30)))
    np.testing.assert_array_equal(x.numpy(), (images.astype(np.float32) - 127.5) / 127.5)
    assert np.array_equal(y.numpy(), labels)
    assert int(split.dataset(batch_size=7).cardinality()) == 5
    got, _ = split.arrays(7, seed=3)
    assert np.array_equal(got, images[epoch_order(30, seed=3, epoch=0)[:7]])
