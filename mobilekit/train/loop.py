"""Training: a Keras fit loop that writes the CONTRACTS run directory and can always be resumed.

Why an epoch-at-a-time loop around ``model.fit``: after every epoch the weights and the optimizer
state are checkpointed atomically, and each epoch's data order and augmentation are a function of
(seed, epoch) only, so ``resume=True`` after a ``kill -9`` restores the last completed epoch bit for
bit and continues as if never stopped. Ctrl-C stops after the history of completed epochs is
saved; the checkpoint of the last completed epoch is already on disk.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

import mobilekit
from mobilekit.data.embedded import NORMALIZATION
from mobilekit.data.pipeline import array_dataset
from mobilekit.errors import UsageError
from mobilekit.fsutil import atomic_write_text, staged_dir
from mobilekit.keras import keras, tf
from mobilekit.nets.config import BuilderConfig
from mobilekit.train.run_dir import RUN_JSON, save_run

DEFAULT_SCHEDULE = {
    "optimizer": "adamw",      # or "sgd" (momentum 0.9, nesterov)
    "learning_rate": 3e-3,     # peak, reached after warm-up; scaled by batch_size / 64
    "warmup_epochs": 1.0,
    "min_learning_rate": 0.0,  # end of the cosine decay
    "weight_decay": 1e-4,      # decoupled; not applied to biases and batch-norm parameters
    "label_smoothing": 0.1,
    "augment": True,           # flip + small shift, for array inputs
    "bn_momentum": 0.9,        # batch-norm statistics must settle within a short run (V2/V3: 0.999)
}
# Per-builder departures from the defaults (MobileNetV3's hard-swish and SE like a gentler peak).
BUILDER_SCHEDULE = {
    "mobilenet_v3_small": {"learning_rate": 2e-3},
    "mobilenet_v3_large": {"learning_rate": 2e-3},
}
CHECKPOINTS = "checkpoints"
STATE = "state.json"


def default_schedule(builder: BuilderConfig | None = None, **overrides) -> dict:
    """The schedule for a builder: the defaults, the builder's departures, then ``overrides``."""
    schedule = dict(DEFAULT_SCHEDULE)
    schedule.update(BUILDER_SCHEDULE.get(builder.name if builder else None, {}))
    unknown = set(overrides) - set(DEFAULT_SCHEDULE)
    if unknown:
        raise TypeError(f"unknown schedule settings: {', '.join(sorted(unknown))}")
    schedule.update({k: v for k, v in overrides.items() if v is not None})
    return schedule


class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak`` over ``warmup_steps``, then cosine decay to ``floor``."""

    def __init__(self, peak: float, total_steps: int, warmup_steps: int, floor: float = 0.0):
        self.peak, self.total_steps = float(peak), int(total_steps)
        self.warmup_steps, self.floor = int(warmup_steps), float(floor)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.peak * (step + 1) / max(self.warmup_steps, 1)
        span = max(self.total_steps - self.warmup_steps, 1)
        progress = tf.clip_by_value((step - self.warmup_steps) / span, 0.0, 1.0)
        cosine = self.floor + 0.5 * (self.peak - self.floor) * (1 + tf.cos(math.pi * progress))
        return tf.where(step < self.warmup_steps, warm, cosine)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "floor": self.floor}


def make_optimizer(schedule: dict, *, steps_per_epoch: int, epochs: int, batch_size: int):
    peak = schedule["learning_rate"] * batch_size / 64
    lr = WarmupCosine(peak, steps_per_epoch * epochs,
                      round(schedule["warmup_epochs"] * steps_per_epoch),
                      schedule["min_learning_rate"])
    if schedule["optimizer"] == "adamw":
        opt = keras.optimizers.AdamW(lr, weight_decay=schedule["weight_decay"])
    elif schedule["optimizer"] == "sgd":
        opt = keras.optimizers.SGD(lr, momentum=0.9, nesterov=True,
                                   weight_decay=schedule["weight_decay"])
    else:
        raise UsageError(f"optimizer: choose adamw or sgd, not {schedule['optimizer']!r}")
    opt.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "moving_"])
    return opt


def _dataset(data, *, batch_size: int, classes: int, seed: int, epoch: int, train: bool,
             augment: bool):
    """Arrays or a tf.data.Dataset -> batches of (normalized image, one-hot label)."""
    if isinstance(data, tf.data.Dataset):
        ds = data if len(data.element_spec[0].shape) == 4 else data.batch(batch_size)
    else:
        images, labels = data
        ds = array_dataset(images, labels, batch_size=batch_size,
                           shuffle_seed=seed if train else None, augment_images=train and augment,
                           epoch=epoch)
    return ds.map(lambda x, y: (x, tf.one_hot(tf.cast(y, tf.int32), classes)))


def _count(data) -> int | None:
    if isinstance(data, tf.data.Dataset):
        n = int(data.cardinality())
        return n if n >= 0 else None
    return len(data[1])


class _Checkpoints:
    """RUN/checkpoints/epoch-NNNN/ (weights + optimizer, written atomically) and state.json.

    Read from ``run_dir``, written to ``write_dir``: the same directory except on a non-chief
    worker of a multi-worker run (see ``writes_run``), which resumes from the chief's
    checkpoints (a file system shared by the workers) and writes its own to a scratch directory.
    """

    def __init__(self, run_dir: Path, write_dir: Path, model, optimizer):
        self.dir, self.write_dir = run_dir / CHECKPOINTS, write_dir / CHECKPOINTS
        self.ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer)

    def state(self) -> dict | None:
        path = self.dir / STATE
        return json.loads(path.read_text()) if path.exists() else None

    def save(self, epoch: int, history: dict) -> None:
        final = self.write_dir / f"epoch-{epoch:04d}"
        with staged_dir(final, replace=True) as tmp:
            self.ckpt.write(str(tmp / "ckpt"))  # every worker writes: the save is collective
        atomic_write_text(self.write_dir / STATE, json.dumps({"epoch": epoch, "history": history}))
        for old in self.write_dir.glob("epoch-*"):
            if old.name < f"epoch-{epoch - 1:04d}":  # keep the last two
                shutil.rmtree(old, ignore_errors=True)

    def restore(self, epoch: int) -> None:
        self.ckpt.read(str(self.dir / f"epoch-{epoch:04d}" / "ckpt")).assert_existing_objects_matched()


def writes_run(strategy) -> bool:
    """Whether this process owns the run directory: yes, except a non-chief worker of a
    multi-worker run (TF_CONFIG), which trains in lockstep but must not write the same files."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or resolver.task_type in (None, "", "chief"):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return not has_chief and resolver.task_type == "worker" and resolver.task_id == 0


def train(model, train, val, *, run_dir, labels: list[str], epochs: int, batch_size: int = 64,
          seed: int = 0, builder: BuilderConfig | None = None, dataset_info: dict | None = None,
          resume: bool = False, test=None, strategy=None, callbacks=(), verbose: int | str = "auto",
          finalize: Callable | None = None, run_info: dict | None = None, **schedule) -> dict:
    """Fit ``model`` for ``epochs``, checkpointing each epoch; write RUN and return run.json.

    train/val/test: (uint8 images, int labels) arrays, or tf.data.Datasets of (normalized float
    image, int label), batched or not. ``strategy``: the tf.distribute strategy the model was
    built under (its scope is entered to create the optimizer). ``finalize`` maps the trained
    model to the one saved (e.g. tfmot.sparsity.keras.strip_pruning); ``run_info`` adds to
    run.json (e.g. {"qat": True}). Other keywords override the schedule (DEFAULT_SCHEDULE).
    """
    run_dir = Path(run_dir)
    if epochs < 1 or batch_size < 1:
        raise UsageError(f"--epochs and --batch-size must be >= 1 (got {epochs}, {batch_size})")
    if not resume and ((run_dir / RUN_JSON).exists() or (run_dir / CHECKPOINTS).exists()):
        raise UsageError(f"{run_dir}: already holds a run; pass --resume or another --out")
    classes = int(model.output_shape[-1])
    if len(labels) != classes:
        raise UsageError(f"{len(labels)} labels but the model has {classes} outputs "
                         f"(set --classes {len(labels)})")
    schedule = default_schedule(builder, **schedule)
    n_train = _count(train)
    if n_train is None:
        raise UsageError("the training dataset has unknown size; give it a known cardinality")
    batched = isinstance(train, tf.data.Dataset) and len(train.element_spec[0].shape) == 4
    steps_per_epoch = n_train if batched else math.ceil(n_train / batch_size)
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = schedule["bn_momentum"]
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        optimizer = make_optimizer(schedule, steps_per_epoch=steps_per_epoch, epochs=epochs,
                                   batch_size=batch_size)
        model.compile(optimizer=optimizer,
                      loss=keras.losses.CategoricalCrossentropy(
                          label_smoothing=schedule["label_smoothing"]),
                      metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
        optimizer.build(model.trainable_variables)
    write_dir = run_dir if writes_run(strategy) else Path(tempfile.mkdtemp(prefix="mobilekit-worker-"))
    checkpoints = _Checkpoints(run_dir, write_dir, model, optimizer)
    history: dict[str, list] = {}
    start = 0
    state = checkpoints.state() if resume else None
    if state is not None:
        start, history = state["epoch"], state["history"]
        checkpoints.restore(start)
        print(f"resumed {run_dir} after epoch {start}/{epochs}", file=sys.stderr)
    elif resume:
        print(f"{run_dir}: no checkpoint yet, starting from epoch 0", file=sys.stderr)
    write_dir.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    try:
        for epoch in range(start, epochs):
            keras.utils.set_random_seed(seed * 1000 + epoch)  # dropout etc.: a function of the epoch
            train_ds = _dataset(train, batch_size=batch_size, classes=classes, seed=seed,
                                epoch=epoch, train=True, augment=schedule["augment"])
            val_ds = _dataset(val, batch_size=batch_size, classes=classes, seed=seed, epoch=epoch,
                              train=False, augment=False)
            t0 = time.perf_counter()
            fit = model.fit(train_ds, validation_data=val_ds, epochs=epoch + 1, initial_epoch=epoch,
                            callbacks=list(callbacks), verbose=verbose)
            seconds = time.perf_counter() - t0
            for key, values in fit.history.items():
                history.setdefault(key, []).append(float(values[-1]))
            history.setdefault("learning_rate", []).append(
                float(keras.backend.get_value(optimizer.learning_rate)))
            history.setdefault("seconds", []).append(seconds)
            if not batched:  # a batched dataset's size is in batches, not images
                history.setdefault("train_images_per_s", []).append(n_train / seconds)
            checkpoints.save(epoch + 1, history)
    except KeyboardInterrupt:
        write_history(write_dir, history)
        done = len(history.get("loss", []))
        print(f"interrupted: epochs 1-{done} are checkpointed in {run_dir / CHECKPOINTS}; "
              f"rerun with --resume to continue", file=sys.stderr)
        raise

    final = finalize(model) if finalize else model
    metrics = {"val_accuracy": _accuracy(final, val, batch_size, classes)}
    if test is not None:
        metrics["test_accuracy"] = _accuracy(final, test, batch_size, classes)
    metrics["train_seconds"] = round(sum(history.get("seconds", [])), 3)
    if history.get("train_images_per_s"):
        metrics["train_images_per_s"] = round(float(np.median(history["train_images_per_s"])), 1)
    run = {
        "builder": builder.to_json() if builder else None,
        "input": {"shape": [int(d) for d in final.input_shape[1:]], "normalization": NORMALIZATION,
                  "resize": "bilinear", "crop": "none"},
        "dataset": dataset_info or {},
        "metrics": metrics,
        "qat": False,
        "pruned": False,
        "history": "history.json",
        "training": {"epochs": epochs, "batch_size": batch_size, "seed": seed,
                     "strategy": type(strategy).__name__ if strategy else "default",
                     "replicas": strategy.num_replicas_in_sync if strategy else 1, **schedule},
        "created_by": {"mobilekit": mobilekit.__version__, "tensorflow": tf.__version__,
                       "elapsed_seconds": round(time.perf_counter() - started, 3)},
    }
    run.update(run_info or {})
    write_history(write_dir, history)
    save_run(final, write_dir, labels=labels, run=run)  # run.json last: it marks a finished run
    if write_dir != run_dir:
        shutil.rmtree(write_dir, ignore_errors=True)
    return run


def load_pretrained(model, path) -> int:
    """Load a keras.applications weights file (.h5) into ``model`` by layer name (transfer
    learning; the separable builders use keras.applications' layer names). Layers whose shapes
    differ (e.g. a 1000-class head) keep their fresh weights. Returns how many layers matched."""
    import h5py

    path = Path(path)
    if path.suffix.lower() not in (".h5", ".hdf5") or not path.is_file():
        raise UsageError(f"--weights {path}: not an existing .h5 weights file")
    try:
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "model_weights" in f else f
            names = {n.decode() if isinstance(n, bytes) else n for n in group.attrs["layer_names"]}
    except (OSError, KeyError) as exc:
        raise UsageError(f"--weights {path}: not a Keras weights file ({exc})") from None
    matched = sum(1 for layer in model.layers if layer.name in names and layer.weights)
    if not matched:
        raise UsageError(f"--weights {path}: no layer names match this model (a separable "
                         "builder of the same family takes keras.applications weights)")
    model.load_weights(str(path), by_name=True, skip_mismatch=True)
    return matched


def _all_layers(model):
    """Every layer, also inside nested models and tfmot wrappers."""
    for layer in model.submodules:
        if isinstance(layer, keras.layers.Layer):
            yield layer


def _accuracy(model, data, batch_size: int, classes: int) -> float:
    """Top-1 accuracy of ``model`` on arrays or a dataset (no augmentation)."""
    ds = _dataset(data, batch_size=batch_size, classes=classes, seed=0, epoch=0, train=False,
                  augment=False)
    correct = total = 0
    for x, y in ds:
        pred = np.argmax(model(x, training=False), axis=-1)
        correct += int(np.sum(pred == np.argmax(y, axis=-1)))
        total += len(pred)
    return correct / max(total, 1)


def write_history(run_dir: Path, history: dict) -> None:
    atomic_write_text(run_dir / "history.json", json.dumps(history, indent=2) + "\n")
    if history.get("loss"):
        _plot_history(run_dir / "history.png", history)


def _plot_history(path: Path, history: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for prefix in ("", "val_"):
            if prefix + metric in history:
                ax.plot(epochs, history[prefix + metric], marker="o", label=prefix + metric)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(prefix=".history.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=80)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
