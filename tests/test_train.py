"""train.train: the run directory, checkpoints, resume, Ctrl-C, bad input, strategies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mobilekit.nets.config import BuilderConfig
from mobilekit.data import EMBEDDED_LABELS, embedded_arrays
from mobilekit.errors import UsageError
from mobilekit.keras import keras, layers, tf
from mobilekit.train.loop import WarmupCosine, default_schedule, train

RES = 16


def tiny_model(classes: int = len(EMBEDDED_LABELS)):
    """No dropout: with deterministic data order a resumed run must equal an uninterrupted one."""
    keras.utils.set_random_seed(1)
    return keras.Sequential([
        layers.Input((RES, RES, 3)), layers.Conv2D(8, 3, strides=2), layers.BatchNormalization(),
        layers.ReLU(), layers.GlobalAveragePooling2D(), layers.Dense(classes, activation="softmax"),
    ])


@pytest.fixture(scope="module")
def data():
    return (embedded_arrays("train", resolution=RES, count=192),
            embedded_arrays("val", resolution=RES, count=64))


def _train(run_dir, data, **kwargs):
    (tr, va), model = data, kwargs.pop("model", None) or tiny_model()
    kwargs.setdefault("epochs", 3)
    return train(model, tr, va, test=va, run_dir=run_dir, labels=EMBEDDED_LABELS, batch_size=32,
                 verbose=0, **kwargs)


def test_train_writes_contract_run_directory(tmp_path, data):
    model = tiny_model()
    run = _train(tmp_path / "run", data, model=model, dataset_info={"name": "embedded"})
    run_dir = tmp_path / "run"
    for name in ("model.keras", "labels.txt", "run.json", "history.json", "history.png"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "labels.txt").read_text().splitlines() == EMBEDDED_LABELS
    on_disk = json.loads((run_dir / "run.json").read_text())
    assert on_disk == json.loads(json.dumps(run))
    assert on_disk["input"] == {"shape": [RES, RES, 3], "resize": "bilinear", "crop": "none",
                                "normalization": {"mean": [127.5] * 3, "std": [127.5] * 3}}
    assert on_disk["qat"] is False and on_disk["pruned"] is False
    assert on_disk["dataset"] == {"name": "embedded"}
    assert 0 <= on_disk["metrics"]["val_accuracy"] <= 1
    assert 0 <= on_disk["metrics"]["test_accuracy"] <= 1
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history["loss"]) == len(history["val_accuracy"]) == 3
    loaded = keras.models.load_model(run_dir / "model.keras")
    x = np.random.default_rng(0).uniform(-1, 1, (4, RES, RES, 3)).astype(np.float32)
    # the saved model is the trained one: same outputs, and not those of a fresh model
    np.testing.assert_allclose(loaded(x), model(x, training=False), atol=1e-6)
    assert not np.allclose(loaded(x), tiny_model()(x, training=False), atol=1e-3)
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == \
        ["epoch-0002", "epoch-0003", "state.json"]


def test_training_learns_something(tmp_path, data):
    _train(tmp_path / "run", data, epochs=6, learning_rate=1e-2)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["loss"][-1] < history["loss"][0]


def test_warmup_then_cosine():
    lr = WarmupCosine(1.0, total_steps=100, warmup_steps=10)
    values = [float(lr(s)) for s in (0, 9, 10, 55, 99)]
    assert values[0] == pytest.approx(0.1) and values[1] == pytest.approx(1.0)
    assert values[2] == pytest.approx(1.0) and values[3] == pytest.approx(0.5, abs=0.02)
    assert values[4] < 0.01


def test_default_schedule_per_builder_and_overrides():
    assert default_schedule(BuilderConfig("mobilenet_v3_small"))["learning_rate"] < \
        default_schedule(BuilderConfig("mobilenet_v2"))["learning_rate"]
    assert default_schedule(None, label_smoothing=0.0)["label_smoothing"] == 0.0
    with pytest.raises(TypeError):
        default_schedule(None, learning_rat=1.0)


class _InterruptAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.at = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == self.at and batch == 2:
            raise KeyboardInterrupt  # as Ctrl-C in the middle of an epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch


def test_ctrl_c_then_resume_equals_uninterrupted_run(tmp_path, data):
    _train(tmp_path / "a", data)
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "b", data, callbacks=[_InterruptAt(2)])
    state = json.loads((tmp_path / "b" / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 2
    assert len(json.loads((tmp_path / "b" / "history.json").read_text())["loss"]) == 2
    assert not (tmp_path / "b" / "model.keras").exists()
    _train(tmp_path / "b", data, resume=True)
    a = keras.models.load_model(tmp_path / "a" / "model.keras").get_weights()
    b = keras.models.load_model(tmp_path / "b" / "model.keras").get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_resume_restores_weights_and_optimizer_bit_for_bit(tmp_path, data):
    _train(tmp_path / "run", data, epochs=2)
    ckpt = tf.train.load_checkpoint(str(tmp_path / "run" / "checkpoints" / "epoch-0002" / "ckpt"))
    model = tiny_model()
    seen = {}

    class Capture(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["weights"] = [v.numpy() for v in self.model.weights]
            seen["optimizer"] = [v.numpy() for v in self.model.optimizer.variables]

    _train(tmp_path / "run", data, model=model, epochs=3, resume=True, callbacks=[Capture()])
    saved = {k: ckpt.get_tensor(k) for k in ckpt.get_variable_to_shape_map()
             if k.endswith("VARIABLE_VALUE") and "_current_learning_rate" not in k}
    restored = seen["weights"] + seen["optimizer"]
    assert len(restored) == len(saved)
    for value in restored:  # every restored variable is one of the saved ones, exactly
        assert any(np.array_equal(value, s) for s in saved.values())
    assert int(seen["optimizer"][0]) == 2 * 6  # iterations: 2 epochs x 6 batches


def test_existing_run_without_resume_is_usage_error(tmp_path, data):
    _train(tmp_path / "run", data, epochs=1)
    with pytest.raises(UsageError, match="--resume"):
        _train(tmp_path / "run", data, epochs=1)


def test_label_count_mismatch_is_usage_error(tmp_path, data):
    with pytest.raises(UsageError, match="labels"):
        _train(tmp_path / "run", data, model=tiny_model(classes=3))


def test_accepts_tf_data_datasets(tmp_path, data):
    (tr, va) = data
    to_ds = lambda d: tf.data.Dataset.from_tensor_slices(  # noqa: E731
        ((d[0].astype(np.float32) - 127.5) / 127.5, d[1]))
    run = train(tiny_model(), to_ds(tr), to_ds(va).batch(16), run_dir=tmp_path / "run",
                labels=EMBEDDED_LABELS, epochs=1, batch_size=32, verbose=0)
    assert "val_accuracy" in run["metrics"]


_KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from mobilekit.keras import keras
    sys.path.insert(0, {tests!r})
    from test_train import tiny_model, RES
    from mobilekit.data import EMBEDDED_LABELS, embedded_arrays
    from mobilekit.train.loop import train

    class Slow(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.05)

    train(tiny_model(), embedded_arrays("train", resolution=RES, count=384),
          embedded_arrays("val", resolution=RES, count=64), run_dir=sys.argv[1],
          labels=EMBEDDED_LABELS, epochs=4, batch_size=32, verbose=0, resume="--resume" in sys.argv,
          callbacks=[Slow()])
""")


def test_kill_9_mid_epoch_then_resume(tmp_path):
    script = tmp_path / "kill.py"
    script.write_text(_KILL_SCRIPT.format(tests=str(Path(__file__).parent)))
    env = dict(os.environ, PYTHONHASHSEED="0")
    ref = tmp_path / "ref"
    subprocess.run([sys.executable, str(script), str(ref)], check=True, env=env,
                   capture_output=True)
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(script), str(run)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = run / "checkpoints" / "state.json"
    deadline = time.time() + 120
    while time.time() < deadline and not state.exists():
        time.sleep(0.05)
    time.sleep(0.3)  # into epoch 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads(state.read_text())["epoch"] < 4
    assert not (run / "model.keras").exists()
    subprocess.run([sys.executable, str(script), str(run), "--resume"], check=True, env=env,
                   capture_output=True)
    ref_run = json.loads((ref / "run.json").read_text())
    resumed = json.loads((run / "run.json").read_text())
    assert abs(ref_run["metrics"]["val_accuracy"] - resumed["metrics"]["val_accuracy"]) <= 0.01
    a = keras.models.load_model(ref / "model.keras").get_weights()
    b = keras.models.load_model(run / "model.keras").get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


_MIRRORED_SCRIPT = textwrap.dedent("""
    import json, sys
    from mobilekit.keras import tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, {tests!r})
    from test_train import tiny_model, RES
    from mobilekit.data import EMBEDDED_LABELS, embedded_arrays
    from mobilekit.train.strategy import make_strategy, scope
    from mobilekit.train.loop import train

    strategy = make_strategy("mirrored")
    with scope(strategy):
        model = tiny_model()
    run = train(model, embedded_arrays("train", resolution=RES, count=128),
                embedded_arrays("val", resolution=RES, count=64), run_dir=sys.argv[1],
                labels=EMBEDDED_LABELS, epochs=2, batch_size=32, verbose=0, strategy=strategy)
    print(json.dumps(run["training"]))
""")


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(_MIRRORED_SCRIPT.format(tests=str(Path(__file__).parent)))
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "run")], check=True,
                         capture_output=True, text=True)
    training = json.loads(out.stdout.strip().splitlines()[-1])
    assert training["strategy"] == "MirroredStrategy" and training["replicas"] == 2
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())["loss"]) == 2


def test_keras_applications_weights_load_by_name(tmp_path):
    from mobilekit.nets.models import build_model
    from mobilekit.train.loop import load_pretrained

    app = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None,
                                         include_top=False)
    app.save_weights(tmp_path / "app.h5")
    model = build_model(BuilderConfig("mobilenet_v2", alpha=0.35, resolution=32, include_top=False))
    assert load_pretrained(model, tmp_path / "app.h5") > 50
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(model(x), app(x))
    with_head = build_model(BuilderConfig("mobilenet_v2", alpha=0.35, resolution=32, classes=8))
    load_pretrained(with_head, tmp_path / "app.h5")  # the 8-class head keeps fresh weights
    with pytest.raises(UsageError, match="weights"):
        load_pretrained(with_head, tmp_path / "missing.h5")


def test_pruning_reaches_target_sparsity_on_1x1_convs():
    from mobilekit.nets.models import build_model
    from mobilekit.train.prune import measured_sparsity, prune_for_xnnpack, pruning_callbacks, strip

    model = build_model(BuilderConfig("mobilenet_v2", alpha=0.35, resolution=32, classes=4))
    x = np.random.default_rng(0).uniform(-1, 1, (32, 32, 32, 3)).astype(np.float32)
    pruned, how = prune_for_xnnpack(model, sparsity=0.75)
    assert how == "1x1"  # "same" padding at stride 2: PruneForLatencyOnXNNPack refuses the stem
    np.testing.assert_allclose(pruned(x[:2]), model(x[:2]), atol=1e-6)  # weights carried over
    pruned.compile("adam", "sparse_categorical_crossentropy")
    pruned.fit(x, np.arange(32) % 4, batch_size=8, epochs=1, verbose=0,
               callbacks=pruning_callbacks())
    assert measured_sparsity(model) < 0.01
    assert measured_sparsity(strip(pruned)) == pytest.approx(0.75, abs=0.01)
    with pytest.raises(UsageError, match="2/3"):
        prune_for_xnnpack(model, sparsity=0.5)
    symmetric = build_model(BuilderConfig("mobilenet_v2", alpha=0.35, resolution=32, classes=4,
                            padding="symmetric"))
    assert prune_for_xnnpack(symmetric, sparsity=0.75)[1] == "policy"
