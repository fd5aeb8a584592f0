"""TFDS datasets by name (optional extra: pip install 'mobilekit[tfds]').

tensorflow_datasets is imported only here and only when asked for. It never downloads unless
``download=True``: offline, a real download would retry for minutes, so a dataset that is not
prepared in the local data directory is a one-line UsageError instead.
"""

from __future__ import annotations

import numpy as np

from mobilekit.data.folders import split_indices
from mobilekit.data.sources import Data
from mobilekit.errors import UsageError


def _import_tfds():
    try:
        import mobilekit.keras  # noqa: F401 - TF_USE_LEGACY_KERAS before TensorFlow loads
        import tensorflow_datasets as tfds
    except ImportError as exc:
        raise UsageError(f"--tfds needs tensorflow-datasets: pip install 'mobilekit[tfds]' "
                         f"({exc})") from None
    return tfds


def _arrays(ds, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """(image, label) examples of any size -> uint8 [N, R, R, 3], int64 [N] (bilinear resize)."""
    from mobilekit.keras import tf

    def prepare(image, label):
        if image.shape.rank == 3 and image.shape[-1] == 1:
            image = tf.image.grayscale_to_rgb(image)
        image = tf.image.resize(image, (resolution, resolution), method="bilinear")
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), label

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).batch(256)
    images, labels = [], []
    for x, y in ds.as_numpy_iterator():
        images.append(x)
        labels.append(y.astype(np.int64))
    return np.concatenate(images), np.concatenate(labels)


def load_tfds(name: str, *, resolution: int, download: bool = False, seed: int = 0,
              val_fraction: float = 0.1, data_dir: str | None = None) -> Data:
    """train / validation / test of a TFDS image classification dataset as uint8 arrays."""
    tfds = _import_tfds()
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as exc:  # DatasetNotFoundError and friends
        raise UsageError(f"--tfds {name}: unknown dataset ({str(exc).splitlines()[0]})") from None
    if download:
        builder.download_and_prepare()
    info = builder.info
    if "label" not in info.features or not getattr(info, "supervised_keys", None):
        raise UsageError(f"--tfds {name}: not an image classification dataset "
                         "(needs supervised (image, label) keys)")

    def load(split):
        try:
            ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
        except (AssertionError, KeyError, ValueError):  # not prepared here / no such split
            return None
        return _arrays(ds, resolution)

    train = load("train")
    if train is None:
        raise UsageError(f"--tfds {name}: no prepared train split in {builder.data_dir}; "
                         "pass --download to fetch it")
    val = load("validation")
    if val is None:
        tr, va = split_indices(train[1], fraction=val_fraction, seed=seed)
        train, val = (train[0][tr], train[1][tr]), (train[0][va], train[1][va])
    test = load("test")
    labels = list(info.features["label"].names)
    sizes = {"train": len(train[1]), "val": len(val[1])}
    if test is not None:
        sizes["test"] = len(test[1])
    return Data(train, val, test, labels, {"name": f"tfds:{name}", "sizes": sizes,
                                           "version": str(info.version)})
