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


# --- image folders ----------------------------------------------------------------------------

from mobilekit.data.sources import load_data  # noqa: E402
from mobilekit.errors import UsageError  # noqa: E402

FORMATS = ("png", "jpg", "bmp", "gif")


def write_image_folder(root, *, classes=("circle", "square", "star"), per_class=8, size=24,
                       corrupt=True):
    """A real image folder: PNG/JPEG/BMP/GIF files from the embedded data, plus a corrupt one."""
    from PIL import Image

    images, labels = embedded_arrays("train", resolution=size, count=400)
    for k, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True)
        picks = images[labels == EMBEDDED_LABELS.index(name)][:per_class]
        for i, img in enumerate(picks):
            Image.fromarray(img).save(folder / f"{i:03d}.{FORMATS[i % len(FORMATS)]}")
    if corrupt:
        (root / classes[0] / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def test_folder_loads_labels_in_sorted_order_and_skips_corrupt(tmp_path, capsys):
    root = write_image_folder(tmp_path / "photos", classes=("star", "circle", "square"))
    data = load_data(resolution=32, data=str(root), seed=1, val_fraction=0.25)
    assert data.labels == ["circle", "square", "star"]
    images, labels = data.train.arrays()
    assert images.shape[1:] == (32, 32, 3) and images.dtype == np.uint8
    assert np.array_equal(labels, data.train.labels)
    assert data.info["skipped_corrupt"] == 1
    assert len(data.train) + len(data.val) == 24
    assert set(data.val.labels) == {0, 1, 2}  # the split keeps every class in validation
    assert "broken.jpg" in capsys.readouterr().err
    again = load_data(resolution=32, data=str(root), seed=1, val_fraction=0.25)
    assert again.val.files == data.val.files  # the split is a function of the seed


def test_folder_corrupt_image_stops_with_its_path(tmp_path):
    root = write_image_folder(tmp_path / "photos")
    with pytest.raises(UsageError, match="broken.jpg"):
        load_data(resolution=32, data=str(root), on_corrupt="stop")


def test_folder_streams_pixels_at_native_size_unchanged(tmp_path):
    root = write_image_folder(tmp_path / "photos", corrupt=False, size=24)
    from PIL import Image

    data = load_data(resolution=24, data=str(root))
    png = next(i for i, f in enumerate(data.train.files) if f.endswith(".png"))
    images, _ = data.train.arrays()
    assert np.array_equal(images[png], np.asarray(Image.open(data.train.files[png]).convert("RGB")))


def test_folder_separate_validation_folder(tmp_path):
    train = write_image_folder(tmp_path / "train", corrupt=False)
    val = write_image_folder(tmp_path / "val", per_class=2, corrupt=False)
    data = load_data(resolution=16, data=str(train), val_data=str(val))
    assert len(data.val) == 6 and len(data.train) == 24
    other = write_image_folder(tmp_path / "other", classes=("circle", "ring", "star"), per_class=1,
                               corrupt=False)
    with pytest.raises(UsageError, match="differ"):
        load_data(resolution=16, data=str(train), val_data=str(other))


def test_folder_bad_inputs_are_one_line_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no such folder"):
        load_data(resolution=16, data=str(tmp_path / "missing"))
    one = write_image_folder(tmp_path / "one", classes=("circle",), corrupt=False)
    with pytest.raises(UsageError, match="two class sub-folders"):
        load_data(resolution=16, data=str(one))
    empty = write_image_folder(tmp_path / "empty", corrupt=False)
    (empty / "zzz_empty").mkdir()
    with pytest.raises(UsageError, match="zzz_empty"):
        load_data(resolution=16, data=str(empty))


def test_embedded_is_the_default_source():
    data = load_data(resolution=16, counts={"train": 64, "val": 32, "test": 32})
    assert data.labels == EMBEDDED_LABELS and data.info["name"] == "embedded"
    assert len(data.train) == 64 and len(data.test) == 32
    assert np.array_equal(data.test.arrays()[0], embedded_arrays("test", resolution=16, count=32)[0])


# --- TFDS ----------------------------------------------------------------------------------------

def test_tfds_mock_dataset_streams_rgb_batches():
    tfds = pytest.importorskip("tensorflow_datasets")
    from mobilekit.data.tfds import load_tfds

    with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
        data = load_tfds("mnist", resolution=20)
        images, labels = data.train.arrays()
        batches = [data.train.dataset(batch_size=5, seed=3, epoch=1, augment_images=True)
                   for _ in range(2)]
        first, second = ([x.numpy() for x, _ in b] for b in batches)
    assert images.shape == (12, 20, 20, 3) and images.dtype == np.uint8
    assert np.all(images[..., 0] == images[..., 2])  # grey digits become grey RGB
    assert data.test is not None and len(data.labels) == 10
    assert len(data.train) == len(data.val) == 12  # mocked: every split exists
    assert [len(b) for b in first] == [5, 5, 2]
    assert all(np.array_equal(a, b) for a, b in zip(first, second))  # an epoch is reproducible


def test_tfds_not_prepared_needs_download_flag(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    from mobilekit.data.tfds import load_tfds

    with pytest.raises(UsageError, match="--download"):
        load_tfds("mnist", resolution=16, data_dir=str(tmp_path))
    with pytest.raises(UsageError, match="unknown dataset"):
        load_tfds("no_such_dataset_xyz", resolution=16, data_dir=str(tmp_path))
