"""TFDS datasets by name (optional extra: pip install 'mobilekit[tfds]'), streamed from records.

tensorflow_datasets is imported only here and only when asked for. It never downloads unless
``download=True``: offline, a real download would retry for minutes, so a dataset that is not
prepared in the local data directory is a one-line UsageError instead. Images are read encoded
(TFDS's own decoder skipped) and decoded by ``preprocess`` like every image file, so training on
TFDS sees the pixels ``predict`` would.
"""

from __future__ import annotations

from mobilekit.data import preprocess
from mobilekit.data.pipeline import AUTOTUNE, Data, Split
from mobilekit.errors import UsageError
from mobilekit.keras import tf

SHUFFLE_BUFFER = 4096  # records: files are shuffled too, so the order mixes beyond the buffer


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as exc:
        raise UsageError(f"--tfds needs tensorflow-datasets: pip install 'mobilekit[tfds]' "
                         f"({exc})") from None
    return tfds


class TFDSSplit(Split):
    """A TFDS split read from its record files each epoch: files and a record buffer shuffled
    by (seed, epoch), workers sharded by file. No random access, so no exact per-file order."""

    def __init__(self, builder, split: str, *, size: tuple[int, int], crop: str = "none"):
        self.builder, self.split = builder, split
        self.size, self.crop = tuple(size), crop
        self.image_key = builder.info.supervised_keys[0]
        self.count = int(self._records(seed=None, epoch=0, shard=(1, 0)).cardinality())

    def __len__(self) -> int:
        return self.count

    def _records(self, *, seed, epoch, shard):
        """(encoded image, label) records of the split, files shuffled by (seed, epoch)."""
        tfds = _import_tfds()
        shards, index = shard
        context = tf.distribute.InputContext(shards, index, 1) if shards > 1 else None
        read = tfds.ReadConfig(try_autocache=False, input_context=context,
                               shuffle_seed=None if seed is None else _seed(seed, epoch))
        return self.builder.as_dataset(split=self.split, shuffle_files=seed is not None,
                                       read_config=read, as_supervised=True,
                                       decoders={self.image_key: tfds.decode.SkipDecoding()})

    def epoch(self, *, seed, epoch, shard):
        ds = self._records(seed=seed, epoch=epoch, shard=shard)
        if seed is not None:
            ds = ds.shuffle(SHUFFLE_BUFFER, seed=_seed(seed, epoch), reshuffle_each_iteration=False)
        size, crop = self.size, self.crop

        def load(index, example):
            encoded, label = example
            pixels = tf.numpy_function(lambda b: preprocess.load_pixels(b, size, crop), [encoded],
                                       tf.uint8)
            return index, tf.ensure_shape(pixels, (*size, 3)), tf.cast(label, tf.int64)

        return ds.enumerate().map(load, num_parallel_calls=AUTOTUNE, deterministic=True)


def _seed(seed: int, epoch: int) -> int:
    return seed * 1_000_003 + epoch


def load_tfds(name: str, *, resolution: int, crop: str = "none", download: bool = False,
              val_fraction: float = 0.1, data_dir: str | None = None) -> Data:
    """train / validation / test of a TFDS image classification dataset, as streaming splits
    (without a validation split, the last ``val_fraction`` of train validates)."""
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
    size = (resolution, resolution)

    def split(name):
        try:
            return TFDSSplit(builder, name, size=size, crop=crop)
        except (AssertionError, KeyError, ValueError):  # not prepared here / no such split
            return None

    splits = {"train": split("train"), "val": split("validation"), "test": split("test")}
    if splits["train"] is None:
        raise UsageError(f"--tfds {name}: no prepared train split in {builder.data_dir}; "
                         "pass --download to fetch it")
    names = {k: s.split for k, s in splits.items() if s is not None}
    if splits["val"] is None:
        cut = round(100 * (1 - val_fraction))
        names.update(train=f"train[:{cut}%]", val=f"train[{cut}%:]")
        splits.update(train=split(names["train"]), val=split(names["val"]))
    sizes = {k: len(s) for k, s in splits.items() if s is not None}
    return Data(splits["train"], splits["val"], splits["test"], list(info.features["label"].names),
                {"name": f"tfds:{name}", "sizes": sizes, "version": str(info.version),
                 "splits": names, "data_dir": str(data_dir) if data_dir else None,
                 "val_fraction": val_fraction if names["val"].startswith("train[") else None})
