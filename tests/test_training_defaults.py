"""Defaults for small real folders: the best validation epoch is kept, early stopping."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mobilekit.data import EMBEDDED_LABELS, embedded_arrays
from mobilekit.keras import keras, layers
from mobilekit.train.loop import best_epoch, train

RES = 16


class _ZeroBeforeValidation(keras.callbacks.Callback):
    """From the second epoch on, validate a model whose weights are all zero: its logits tie,
    so it answers class 0, which the validation split lacks; accuracy 0 makes epoch 1 the best."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_test_begin(self, logs=None):
        if self.epoch >= 1:
            self.model.set_weights([np.zeros_like(w) for w in self.model.get_weights()])


def _model():
    keras.utils.set_random_seed(1)
    return keras.Sequential([layers.Input((RES, RES, 3)), layers.Conv2D(8, 3, strides=2),
                             layers.ReLU(), layers.GlobalAveragePooling2D(),
                             layers.Dense(len(EMBEDDED_LABELS))])


def test_best_epoch_is_restored_and_training_stops_early(tmp_path):
    train_split = embedded_arrays("train", resolution=RES, count=128)
    images, labels = embedded_arrays("val", resolution=RES, count=96)
    val = (images[labels != 0], labels[labels != 0])
    kwargs = dict(run_dir=tmp_path / "run", labels=EMBEDDED_LABELS, epochs=5, batch_size=32,
                  verbose=0, patience=1, callbacks=[_ZeroBeforeValidation()])
    run = train(_model(), train_split, val, **kwargs)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["loss"]) == 2  # epoch 2 was no better: patience 1 stops there
    assert best_epoch(history) == 1 and history["val_accuracy"][1] == 0.0
    assert run["metrics"]["best_epoch"] == 1 and run["metrics"]["epochs_run"] == 2
    assert history["val_accuracy"][0] > 0
    assert run["metrics"]["val_accuracy"] == pytest.approx(history["val_accuracy"][0])
    saved = keras.models.load_model(tmp_path / "run" / "model.keras").get_weights()
    assert any(np.any(w != 0) for w in saved)  # epoch 1's weights, not the zeroed ones
    again = train(_model(), train_split, val, resume=True, **kwargs)  # a stopped run stays stopped
    assert again["metrics"]["epochs_run"] == 2


def test_best_epoch_is_the_first_maximum():
    assert best_epoch({"val_accuracy": [0.2, 0.5, 0.5, 0.4]}) == 2
    assert best_epoch({}) is None
