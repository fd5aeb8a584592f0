"""One entry point for recipes: the embedded data, an image folder or a TFDS dataset, as arrays.

Every source ends as uint8 arrays at the model's resolution plus labels, so training treats them
alike (seeded per-epoch order and augmentation, exact resume) and the summary says where the data
came from, what was skipped and how big each split is.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from mobilekit.data import embedded
from mobilekit.data.folders import check_images, decode_files, scan_folder, split_indices
from mobilekit.errors import UsageError

Split = tuple[np.ndarray, np.ndarray]


@dataclass
class Data:
    train: Split
    val: Split
    test: Split | None
    labels: list[str]
    info: dict  # goes into run.json "dataset"


def load_data(*, resolution: int, data: str | None = None, val_data: str | None = None,
              tfds: str | None = None, download: bool = False, seed: int = 0,
              val_fraction: float = 0.1, on_corrupt: str = "skip",
              counts: dict | None = None) -> Data:
    """The data a recipe asked for: ``data`` (an image folder), ``tfds`` (a TFDS name) or, when
    neither is given, the embedded dataset (``counts`` per split overrides its default sizes)."""
    if data and tfds:
        raise UsageError("--data and --tfds: give one of them, not both")
    if not 0 < val_fraction < 1:
        raise UsageError(f"--val-fraction: must be between 0 and 1, got {val_fraction}")
    if data:
        return _folder(data, val_data, resolution, seed, val_fraction, on_corrupt)
    if val_data:
        raise UsageError("--val-data needs --data")
    if tfds:
        from mobilekit.data.tfds import load_tfds
        return load_tfds(tfds, resolution=resolution, download=download, seed=seed,
                         val_fraction=val_fraction)
    counts = {**embedded.DEFAULT_COUNTS, **(counts or {})}
    splits = {s: embedded.embedded_arrays(s, resolution=resolution, count=counts[s], seed=seed)
              for s in embedded.SPLITS}
    return Data(splits["train"], splits["val"], splits["test"], list(embedded.EMBEDDED_LABELS),
                {"name": "embedded", "seed": seed, "sizes": counts})


def _folder(root, val_root, resolution, seed, val_fraction, on_corrupt) -> Data:
    files, labels, classes = scan_folder(root)
    files, labels, corrupt = check_images(files, labels, on_corrupt=on_corrupt)
    info = {"name": "image_folder", "path": str(root), "classes": len(classes)}
    if val_root:
        val_files, val_labels, val_classes = scan_folder(val_root, flag="--val-data")
        if val_classes != classes:
            raise UsageError(f"--val-data {val_root}: class folders {val_classes} differ from "
                             f"--data's {classes}")
        val_files, val_labels, val_corrupt = check_images(val_files, val_labels,
                                                          on_corrupt=on_corrupt)
        corrupt += val_corrupt
        info["val_path"] = str(val_root)
        train_split = (decode_files(files, resolution=resolution), labels)
        val_split = (decode_files(val_files, resolution=resolution), val_labels)
    else:
        images = decode_files(files, resolution=resolution)
        tr, va = split_indices(labels, fraction=val_fraction, seed=seed)
        train_split, val_split = (images[tr], labels[tr]), (images[va], labels[va])
        info.update(val_fraction=val_fraction, split_seed=seed)
    if len(train_split[1]) == 0 or len(val_split[1]) == 0:
        raise UsageError(f"--data {root}: not enough readable images for a train and a "
                         "validation split")
    info.update(sizes={"train": len(train_split[1]), "val": len(val_split[1])},
                skipped_corrupt=len(corrupt))
    print(f"data: {root}: {len(classes)} classes, {len(train_split[1])} train / "
          f"{len(val_split[1])} val images, {len(corrupt)} corrupt skipped", file=sys.stderr)
    return Data(train_split, val_split, None, classes, info)
