"""One entry point for recipes: the embedded data, an image folder or a TFDS dataset, as splits.

Every source ends as ``pipeline.Split``s at the model's input size plus class names, so training
treats them alike (seeded per-epoch order and augmentation, exact resume, bounded memory), and
``info`` (run.json's "dataset") records enough to load the same data again (``load_recorded``:
export calibrates and verifies on the run's own data).
"""

from __future__ import annotations

import sys

from pathlib import Path

import numpy as np

from mobilekit.data import embedded
from mobilekit.data.folders import check_images, labelled_files, scan_folder, split_indices
from mobilekit.data.pipeline import ArraySplit, Data, FileSplit
from mobilekit.data.preprocess import IMAGE_EXTENSIONS
from mobilekit.errors import UsageError


def load_data(*, resolution: int, data: str | None = None, val_data: str | None = None,
              tfds: str | None = None, download: bool = False, seed: int = 0,
              val_fraction: float = 0.1, on_corrupt: str = "skip", counts: dict | None = None,
              crop: str = "none", cache_dir: str | None = None,
              tfds_data_dir: str | None = None) -> Data:
    """The data a recipe asked for: ``data`` (an image folder), ``tfds`` (a TFDS name) or, when
    neither is given, the embedded dataset (``counts`` per split overrides its default sizes).
    ``crop`` and ``cache_dir`` apply to image files (see ``pipeline.FileSplit``)."""
    if data and tfds:
        raise UsageError("--data and --tfds: give one of them, not both")
    if not 0 < val_fraction < 1:
        raise UsageError(f"--val-fraction: must be between 0 and 1, got {val_fraction}")
    if data:
        return _folder(data, val_data, (resolution, resolution), seed, val_fraction, on_corrupt,
                       crop, cache_dir)
    if val_data:
        raise UsageError("--val-data needs --data")
    if tfds:
        from mobilekit.data.tfds import load_tfds
        return load_tfds(tfds, resolution=resolution, crop=crop, download=download,
                         val_fraction=val_fraction, data_dir=tfds_data_dir)
    counts = {**embedded.DEFAULT_COUNTS, **(counts or {})}
    splits = {s: ArraySplit(*embedded.embedded_arrays(s, resolution=resolution, count=counts[s],
                                                      seed=seed))
              for s in embedded.SPLITS}
    return Data(splits["train"], splits["val"], splits["test"], list(embedded.EMBEDDED_LABELS),
                {"name": "embedded", "seed": seed, "sizes": counts})


def load_recorded(info: dict, *, resolution: int, crop: str = "none") -> Data:
    """The data a run was trained on, from its run.json "dataset" record; UsageError when it is
    gone (folder moved, TFDS not prepared here) or was never recorded."""
    name = info.get("name")
    if name == "embedded":
        return load_data(resolution=resolution, seed=info.get("seed", 0),
                         counts=info.get("sizes"))
    if name == "image_folder":
        return load_data(resolution=resolution, data=info["path"], val_data=info.get("val_path"),
                         seed=info.get("split_seed", 0), val_fraction=info.get("val_fraction", 0.1),
                         crop=crop)
    if name and name.startswith("tfds:"):
        return load_data(resolution=resolution, tfds=name[5:], crop=crop,
                         val_fraction=info.get("val_fraction") or 0.1,
                         tfds_data_dir=info.get("data_dir"))
    raise UsageError(f"the run does not record its dataset ({name or 'no dataset record'})")


def images_split(root, *, size: tuple[int, int], crop: str, labels: list[str],
                 flag: str = "--calibration-data") -> tuple[FileSplit, bool]:
    """The images of ``root`` as one split and whether they are labelled: class sub-folders named
    like ``labels`` are; a flat folder of images is not (its labels are -1)."""
    root = Path(root)
    flat = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS) \
        if root.is_dir() else []
    if flat:
        files, truth = check_images(flat, np.full(len(flat), -1, np.int64))[:2]
        return FileSplit(files, truth, size=size, crop=crop), False
    files, truth = labelled_files(root, labels, flag=flag)[:2]
    return FileSplit(files, truth, size=size, crop=crop), True


def _folder(root, val_root, size, seed, val_fraction, on_corrupt, crop, cache_dir) -> Data:
    files, labels, classes = scan_folder(root)
    files, labels, corrupt = check_images(files, labels, on_corrupt=on_corrupt)
    info = {"name": "image_folder", "path": str(root), "classes": len(classes)}
    split = lambda f, y: FileSplit(f, y, size=size, crop=crop, cache_dir=cache_dir)  # noqa: E731
    if val_root:
        val_files, val_labels, val_classes = scan_folder(val_root, flag="--val-data")
        if val_classes != classes:
            raise UsageError(f"--val-data {val_root}: class folders {val_classes} differ from "
                             f"--data's {classes}")
        val_files, val_labels, val_corrupt = check_images(val_files, val_labels,
                                                          on_corrupt=on_corrupt)
        corrupt += val_corrupt
        info["val_path"] = str(val_root)
        train_split, val_split = split(files, labels), split(val_files, val_labels)
    else:
        tr, va = split_indices(labels, fraction=val_fraction, seed=seed)
        train_split = split([files[i] for i in tr], labels[tr])
        val_split = split([files[i] for i in va], labels[va])
        info.update(val_fraction=val_fraction, split_seed=seed)
    if len(train_split) == 0 or len(val_split) == 0:
        raise UsageError(f"--data {root}: not enough readable images for a train and a "
                         "validation split")
    info.update(sizes={"train": len(train_split), "val": len(val_split)},
                skipped_corrupt=len(corrupt))
    print(f"data: {root}: {len(classes)} classes, {len(train_split)} train / "
          f"{len(val_split)} val images, {len(corrupt)} corrupt skipped", file=sys.stderr)
    return Data(train_split, val_split, None, classes, info)
