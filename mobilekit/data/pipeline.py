"""tf.data pipelines: uint8 arrays or decoded files -> augmented, normalized, batched, prefetched.

Augmentation uses stateless random ops seeded by (seed, epoch, example index), so an epoch's
batches are a pure function of those numbers: a resumed run sees exactly the data it would have.
"""

from __future__ import annotations

import numpy as np

from mobilekit.keras import tf

AUTOTUNE = tf.data.AUTOTUNE


def normalize_tensor(image):
    """uint8 (or float pixels) -> float32 (x - 127.5) / 127.5, as mobilekit.data.normalize."""
    return (tf.cast(image, tf.float32) - 127.5) / 127.5


def augment(image, seed):
    """Light augmentation that keeps every class's identity: flip and a small random shift."""
    size = tf.shape(image)[:2]
    image = tf.image.stateless_random_flip_left_right(image, seed)
    pad = tf.maximum(size // 8, 1)
    padded = tf.pad(image, [[pad[0], pad[0]], [pad[1], pad[1]], [0, 0]], mode="REFLECT")
    crop = tf.concat([size, tf.shape(image)[2:]], 0)
    return tf.image.stateless_random_crop(padded, crop, seed + 1)


def array_dataset(images: np.ndarray, labels: np.ndarray, *, batch_size: int,
                  shuffle_seed: int | None = None, augment_images: bool = False,
                  epoch: int = 0) -> tf.data.Dataset:
    """(uint8 images, int labels) -> batches of (normalized float32, int64 label) for one epoch.

    With ``shuffle_seed`` the order is a permutation drawn from (seed, epoch); the uint8 arrays
    stay the cache (4x smaller than floats) and normalization runs in the parallel map.
    """
    labels = np.asarray(labels, np.int64)
    order = np.arange(len(labels))
    if shuffle_seed is not None:
        order = np.random.default_rng([shuffle_seed, epoch]).permutation(len(labels))
    ds = tf.data.Dataset.from_tensor_slices((order, images[order], labels[order]))
    seed = tf.constant([shuffle_seed or 0, epoch], tf.int64)

    def prepare(index, image, label):
        if augment_images:
            image = augment(image, tf.stack([seed[0] * 1_000_003 + seed[1], index]))
        return normalize_tensor(image), label

    ds = ds.map(prepare, num_parallel_calls=AUTOTUNE, deterministic=True)
    return ds.batch(batch_size).prefetch(AUTOTUNE)
