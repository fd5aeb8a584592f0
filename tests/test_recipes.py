"""Recipes: shared flags, one-line bad-input errors (exit 2), and end-to-end runs on tiny settings."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mobilekit.cli import recipes as ra
from mobilekit.runtime.inspect import describe
from test_data import write_image_folder

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
NAMES = ("image_folder", "standard_vs_separable", "qat", "prune_xnnpack")
TINY = ["--alpha", "0.35", "--resolution", "32", "--epochs", "1", "--batch-size", "32"]


def recipe(name):
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", RECIPES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_recipe(name, argv):
    module = recipe(name)
    return ra.run(module.main, module.parser(), argv)


@pytest.mark.parametrize("name", NAMES)
def test_recipe_has_shared_flags(name):
    help_text = recipe(name).parser().format_help()
    for flag in ("--out", "--epochs", "--batch-size", "--seed", "--resume", "--strategy",
                 "--data", "--tfds", "--download", "--builder", "--alpha", "--kind",
                 "--export-dir"):
        assert flag in help_text, flag


def test_recipe_runs_as_a_script():
    out = subprocess.run([sys.executable, str(RECIPES / "qat.py"), "--help"], capture_output=True,
                         text=True, check=True)
    assert "--qat-epochs" in out.stdout


def _bad_inputs(tmp_path):
    one = write_image_folder(tmp_path / "one", classes=("circle",), corrupt=False)
    empty = write_image_folder(tmp_path / "empty", corrupt=False)
    (empty / "nothing_here").mkdir()
    return {
        "missing folder": (["--data", str(tmp_path / "missing")], "missing"),
        "one class": (["--data", str(one)], "two class"),
        "empty class": (["--data", str(empty)], "nothing_here"),
        "unknown builder": (["--builder", "resnet_9000"], "resnet_9000"),
        "unknown tfds": (["--tfds", "no_such_dataset_xyz"], "no_such_dataset_xyz"),
        "bad quant": (["--quant", "int3"], "int3"),
        "zero epochs": (["--epochs", "0"], "--epochs"),
        "zero verification samples": (["--verify-samples", "0"], "--verify-samples"),
    }


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    for case, (argv, needle) in _bad_inputs(tmp_path).items():
        capsys.readouterr()
        code = run_recipe("image_folder", argv + ["--out", str(tmp_path / "run")])
        err = capsys.readouterr().err.strip()
        assert code == 2, case
        assert len(err.splitlines()) == 1 and needle in err, (case, err)


def test_image_folder_recipe_end_to_end_on_real_files(tmp_path):
    root = write_image_folder(tmp_path / "photos", per_class=12)
    run_dir, export = tmp_path / "run", tmp_path / "export"
    code = run_recipe("image_folder", TINY + ["--data", str(root), "--out", str(run_dir),
                                              "--export-dir", str(export), "--quant", "fp32"])
    assert code == 0
    run = json.loads((run_dir / "run.json").read_text())
    assert run["dataset"]["skipped_corrupt"] == 1
    assert run["builder"]["classes"] == 3
    assert (run_dir / "labels.txt").read_text().split() == ["circle", "square", "star"]
    bundles = list(export.iterdir())
    assert [b.name for b in bundles] == ["mobilenet_v2-separable-fp32-a0.35-r32-c3"]
    manifest = json.loads((bundles[0] / "manifest.json").read_text())
    assert manifest["trained"] is True and manifest["verification"]["passed"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["standard_vs_separable", "qat", "prune_xnnpack"])
def test_other_recipes_train_on_a_real_image_folder(tmp_path, name):
    """The data path (decode, the corrupt file skipped and counted, sorted labels) in every recipe;
    the export gate is off: a dozen images per class teach too little to judge int8 by."""
    root = write_image_folder(tmp_path / "photos", per_class=12)
    extra = {"standard_vs_separable": ["--kinds", "separable", "--quant", "fp32"],
             "qat": ["--qat-epochs", "1"], "prune_xnnpack": ["--prune-epochs", "1"]}[name]
    code = run_recipe(name, TINY + ["--data", str(root), "--out", str(tmp_path / "run"),
                                    "--export-dir", str(tmp_path / "export"),
                                    "--min-agreement", "0"] + extra)
    assert code == 0
    runs = [json.loads(path.read_text()) for path in (tmp_path / "run").rglob("run.json")]
    assert runs and all(run["dataset"]["skipped_corrupt"] == 1 for run in runs)
    assert all(run["builder"]["classes"] == 3 for run in runs)
    assert list((tmp_path / "export").iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_recipe_end_to_end_on_embedded_data(tmp_path, name):
    # QAT needs a model that has learnt something: near-uniform outputs of an untrained model make
    # int8 vs float top-1 agreement meaningless (the export gate would refuse it).
    # (--min-agreement 0.5: the tiny models here are too weak for the 0.98 default gate.)
    extra = {"qat": ["--qat-epochs", "1", "--train-count", "1536", "--epochs", "4",
                     "--learning-rate", "0.01", "--min-agreement", "0.5"],
             "prune_xnnpack": ["--prune-epochs", "1"],
             "standard_vs_separable": ["--quant", "fp32"], "image_folder": ["--quant", "int8"]}
    code = run_recipe(name, TINY + ["--train-count", "256", "--out", str(tmp_path / "run"),
                                    "--export-dir", str(tmp_path / "export")] + extra[name])
    exported = {p.name for p in (tmp_path / "export").iterdir()}
    if name == "qat":
        assert code == 0
        assert "mobilenet_v2-separable-qat-int8-a0.35-r32-c8" in exported
        assert json.loads((tmp_path / "run" / "qat" / "run.json").read_text())["qat"] is True
    else:
        assert code == 0 and exported
    if name == "prune_xnnpack":
        run = json.loads((tmp_path / "run" / "pruned" / "run.json").read_text())
        assert run["pruned"] is True and run["sparsity"] >= 0.66
        assert run["pruning_policy"] == "policy"  # the default symmetric padding is accepted
        bundle = tmp_path / "export" / exported.pop()
        assert bundle.name.endswith("-sparse")  # not the float bundle's name
        manifest = json.loads((bundle / "manifest.json").read_text())
        assert manifest["sparsity"] == run["sparsity"]
        ops = {row["op"] for row in describe(bundle / "model.tflite")["ops"]}
        assert "DENSIFY" in ops  # weights stored sparse: XNNPACK's cue for its sparse kernels


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_training_on_two_local_workers(tmp_path):
    """--strategy multi-worker with TF_CONFIG: two processes train in lockstep; only the chief
    (worker 0) writes the run directory and the bundles, which both were pointed at."""
    cluster = [f"localhost:{port}" for port in _free_ports(2)]
    argv = [sys.executable, str(RECIPES / "image_folder.py"), *TINY, "--train-count", "256",
            "--strategy", "multi-worker", "--quant", "fp32", "--out", str(tmp_path / "run"),
            "--export-dir", str(tmp_path / "export")]
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True))
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err[-2000:]
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["training"]["replicas"] == 2
    assert run["training"]["strategy"] in ("MultiWorkerMirroredStrategy",
                                           "CollectiveAllReduceStrategy")
    assert [p.name for p in (tmp_path / "export").iterdir()] == \
        ["mobilenet_v2-separable-fp32-a0.35-r32-c8"]
