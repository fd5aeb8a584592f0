"""The embedded dataset, image folders, TFDS and the tf.data pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from mobilekit.data import EMBEDDED_LABELS, NORMALIZATION, embedded_arrays, normalize


def test_embedded_arrays_shapes_and_dtypes():
    images, labels = embedded_arrays("train", resolution=32, count=300)
    assert images.shape == (300, 32, 32, 3) and images.dtype == np.uint8
    assert labels.shape == (300,) and labels.dtype == np.int64
    assert len(EMBEDDED_LABELS) >= 5
    assert set(np.unique(labels)) == set(range(len(EMBEDDED_LABELS)))


def test_embedded_arrays_deterministic_per_split_and_seed():
    a, la = embedded_arrays("val", resolution=24, count=40, seed=3)
    b, lb = embedded_arrays("val", resolution=24, count=40, seed=3)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    c, _ = embedded_arrays("test", resolution=24, count=40, seed=3)
    d, _ = embedded_arrays("val", resolution=24, count=40, seed=4)
    assert not np.array_equal(a, c) and not np.array_equal(a, d)


def test_embedded_shorter_count_is_prefix():
    long_images, long_labels = embedded_arrays("train", resolution=16, count=600)
    short_images, short_labels = embedded_arrays("train", resolution=16, count=270)
    assert np.array_equal(long_images[:270], short_images)
    assert np.array_equal(long_labels[:270], short_labels)


def test_embedded_same_scenes_at_any_resolution():
    _, labels16 = embedded_arrays("test", resolution=16, count=50)
    images64, labels64 = embedded_arrays("test", resolution=64, count=50)
    assert np.array_equal(labels16, labels64)
    assert images64.shape[1:] == (64, 64, 3)


def test_embedded_images_vary():
    images, _ = embedded_arrays("train", resolution=32, count=64)
    assert images.std() > 30  # colours, not a flat field
    assert len({img.tobytes() for img in images}) == 64


def test_embedded_classes_differ_in_shape_not_just_colour():
    """A per-class mean image is not enough: class means of colour are all near mid-grey."""
    images, labels = embedded_arrays("train", resolution=16, count=2048)
    means = np.array([images[labels == k].mean() for k in range(len(EMBEDDED_LABELS))])
    assert np.all(np.abs(means - means.mean()) < 8)


@pytest.mark.parametrize("kwargs", [dict(split="nope", resolution=32), dict(split="train", resolution=4),
                                    dict(split="train", resolution=32, count=-1)])
def test_embedded_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        embedded_arrays(**kwargs)


def test_normalize_maps_pixels_to_unit_range():
    x = normalize(np.array([0, 127, 255], np.uint8))
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, [-1.0, -0.5 / 127.5, 1.0])
    assert NORMALIZATION == {"mean": [127.5] * 3, "std": [127.5] * 3}
