"""The qemu-aarch64 target: argument checks and row labelling (fast, with a recording stand-in for
qemu), and the real ARM64 runner under qemu user-mode (slow; needs .ci/make_arm_root.sh's root)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mobilekit.nets.config import BuilderConfig
from mobilekit.errors import UsageError
from mobilekit.bench.targets import resolve_target
from mobilekit.bench.targets.local import LocalTarget
from mobilekit.bench.targets.qemu import DEFAULT_CPU, EMULATED_WARNING, QemuTarget

FAST = ["--runs", "3", "--warmup", "1", "--min-secs", "0"]
ARM_ROOT = Path(os.environ.get("MOBILEKIT_ARM_ROOT", "/var/cache/mobilekit/arm64-root"))


def options(arm_root=None, remote_python=None) -> argparse.Namespace:
    return argparse.Namespace(arm_root=arm_root, remote_python=remote_python, benchmark_binary=None, taskset=None)


# --- fast: a stand-in qemu that records its argv and runs this machine's Python --------------------

FAKE_QEMU = """\
#!{python}
import json, os, subprocess, sys
argv = sys.argv[1:]
with open(os.environ["FAKE_QEMU_LOG"], "a") as log:
    log.write(json.dumps({{"argv": argv, "PYTHONPATH": os.environ.get("PYTHONPATH"),
                          "PYTHONNOUSERSITE": os.environ.get("PYTHONNOUSERSITE")}}) + "\\n")
# argv: -cpu CPU -L ROOT ROOT/usr/bin/python3 ARGS...; run ARGS with this machine's Python
proc = subprocess.run([{python!r}, *argv[5:]], capture_output=True, text=True)
err = proc.stderr
if os.environ.get("FAKE_QEMU_NO_XNNPACK"):  # what LiteRT prints when its CPU detection fails
    err = "".join(l for l in err.splitlines(True) if "XNNPACK" not in l) + "Error in cpuinfo: failed to parse\\n"
sys.stdout.write(proc.stdout)
sys.stderr.write(err)
sys.exit(proc.returncode)
"""


@pytest.fixture
def fake_qemu(tmp_path, monkeypatch):
    """A fake arm root and a qemu-aarch64-static on PATH that logs each call; returns the log."""
    bin_dir, root = tmp_path / "bin", tmp_path / "root"
    bin_dir.mkdir()
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/python3").touch()
    qemu = bin_dir / "qemu-aarch64-static"
    qemu.write_text(FAKE_QEMU.format(python=sys.executable))
    qemu.chmod(0o755)
    log = tmp_path / "qemu.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_QEMU_LOG", str(log))
    monkeypatch.setenv("MOBILEKIT_ARM_ROOT", str(root))
    monkeypatch.setenv("PYTHONPATH", "/x86/site-packages")
    return log


def calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_runs_the_roots_python_under_qemu_with_a_named_cpu(fake_qemu, tflite_models):
    target = resolve_target("qemu-aarch64", options())
    assert isinstance(target, QemuTarget) and target.emulated and target.host == "localhost"
    rows = target.run([tflite_models["int8"], tflite_models["corrupt"]], FAST)

    root = Path(os.environ["MOBILEKIT_ARM_ROOT"]).resolve()
    first, second = calls(fake_qemu)
    assert first["argv"][:5] == ["-cpu", DEFAULT_CPU, "-L", str(root), str(root / "usr/bin/python3")]
    assert first["argv"][5:7] == ["-m", "mobilekit.runtime.runner"]
    assert first["argv"][7] == "models/0/int8.tflite" and first["argv"][8:] == FAST
    assert second["argv"][7] == "models/1/corrupt.tflite"
    assert first["PYTHONPATH"] is None and first["PYTHONNOUSERSITE"] == "1"  # no x86 packages leak in
    assert rows[0]["error"] is None and rows[0]["emulated"] is True and EMULATED_WARNING in rows[0]["warnings"]
    assert rows[1]["error"]  # the corrupt model's own row
    assert list((root / "tmp").iterdir()) == []  # the staged runner and models are gone


def test_cpu_model_from_the_spec(fake_qemu, tflite_models):
    [row] = resolve_target("qemu-aarch64:cortex-a76", options()).run([tflite_models["int8"]], FAST)
    assert calls(fake_qemu)[0]["argv"][:2] == ["-cpu", "cortex-a76"] and row["qemu_cpu"] == "cortex-a76"


def test_a_run_without_the_xnnpack_delegate_is_an_error_not_a_measurement(fake_qemu, tflite_models, monkeypatch):
    monkeypatch.setenv("FAKE_QEMU_NO_XNNPACK", "1")
    [row] = resolve_target("qemu-aarch64", options()).run([tflite_models["int8"]], FAST)
    assert "XNNPACK delegate not created" in row["error"]
    [row] = resolve_target("qemu-aarch64", options()).run([tflite_models["int8"]], FAST + ["--kernels", "builtin"])
    assert row["error"] is None and row["kernels"] == "builtin"


def test_arm_root_flag_wins_over_the_environment(fake_qemu, tmp_path):
    with pytest.raises(UsageError, match="--arm-root .*no usr/bin/python3"):
        resolve_target("qemu-aarch64", options(arm_root=str(tmp_path / "elsewhere")))


def test_missing_arm_root_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("MOBILEKIT_ARM_ROOT", raising=False)
    with pytest.raises(UsageError, match="--arm-root DIR or MOBILEKIT_ARM_ROOT"):
        resolve_target("qemu-aarch64", options())


@pytest.mark.parametrize("spec", ["qemu-aarch64:max", "qemu-aarch64:max,pauth=off"])
def test_cpu_max_is_refused_for_its_wrong_int8_results(fake_qemu, spec):
    with pytest.raises(UsageError, match="-cpu max"):
        resolve_target(spec, options())


def test_cpu_max_without_sme_is_allowed(fake_qemu):
    assert resolve_target("qemu-aarch64:max,sme=off", options()).cpu == "max,sme=off"


def test_missing_qemu_is_a_usage_error(fake_qemu, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(UsageError, match="qemu-aarch64-static not found"):
        resolve_target("qemu-aarch64", options())


# --- slow: the real ARM64 runtime under qemu ----------------------------------------------------------

DUMP_OUTPUTS = textwrap.dedent("""\
    import json, sys
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=sys.argv[1])
    interpreter.allocate_tensors()
    rng = np.random.default_rng(0)
    for d in interpreter.get_input_details():
        if d["dtype"] == np.float32:
            x = rng.uniform(-1, 1, d["shape"]).astype(np.float32)
        else:
            x = rng.integers(-128, 128, d["shape"]).astype(d["dtype"])
        interpreter.set_tensor(d["index"], x)
    interpreter.invoke()
    print(json.dumps([interpreter.get_tensor(d["index"]).tolist() for d in interpreter.get_output_details()]))
""")

needs_arm_root = pytest.mark.skipif(
    not (ARM_ROOT / "usr/bin/python3").exists() or shutil.which("qemu-aarch64-static") is None,
    reason=f"no arm64 root at {ARM_ROOT} or no qemu-aarch64-static (.ci/make_arm_root.sh {ARM_ROOT})")


@pytest.fixture
def arm_target() -> QemuTarget:
    return resolve_target("qemu-aarch64", options(arm_root=str(ARM_ROOT)))


def _outputs(python: list[str], script: Path, model: Path, env=None) -> list[np.ndarray]:
    proc = subprocess.run([*python, str(script), str(model)], capture_output=True, text=True, check=True, env=env)
    return [np.array(output) for output in json.loads(proc.stdout)]


@pytest.mark.slow
@needs_arm_root
def test_arm64_rows_equal_x86_outputs(arm_target, tflite_models):
    models = [tflite_models["int8"], tflite_models["f32"], tflite_models["custom"], tflite_models["corrupt"]]
    arm = arm_target.run(models, FAST)
    x86 = LocalTarget().run(models[:2], FAST)

    assert [row["error"] is None for row in arm] == [True, True, False, False]
    for row, local in zip(arm[:2], x86):
        assert row["machine"] == "aarch64" and row["emulated"] is True
        assert EMULATED_WARNING in row["warnings"]
        assert row["xnnpack_partitions"] == local["xnnpack_partitions"] >= 1  # ARM XNNPACK took the graph
        assert row["ops_outside_xnnpack"] == local["ops_outside_xnnpack"]
    assert arm[0]["output_sha256"] == x86[0]["output_sha256"]  # int8: bit-exact


@pytest.mark.slow
@needs_arm_root
def test_arm64_fp32_outputs_within_1e5_and_int8_exact(arm_target, tflite_models, tmp_path):
    script = tmp_path / "dump_outputs.py"
    script.write_text(DUMP_OUTPUTS)
    for name in ("f32", "int8"):
        arm = _outputs(arm_target.python_command(), script, tflite_models[name], env=arm_target.environment())
        x86 = _outputs([sys.executable], script, tflite_models[name])
        for a, b in zip(arm, x86, strict=True):
            if name == "int8":
                np.testing.assert_array_equal(a, b)
            else:
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


@pytest.mark.slow
@needs_arm_root
def test_a_root_without_usable_cpuinfo_gives_error_rows(tmp_path, tflite_models):
    # the same root through symlinks, but with an empty /proc/cpuinfo (qemu's first trap)
    broken = tmp_path / "root"
    broken.mkdir()
    for entry in ARM_ROOT.iterdir():
        if entry.name not in ("proc", "tmp"):
            (broken / entry.name).symlink_to(entry)
    (broken / "proc").mkdir()
    (broken / "proc/cpuinfo").write_text("")
    [row] = resolve_target("qemu-aarch64", options(arm_root=str(broken))).run([tflite_models["int8"]], FAST)
    assert row["error"]


@pytest.mark.slow
@needs_arm_root
def test_emulated_device_reached_over_ssh(sshd, monkeypatch, tflite_models):
    monkeypatch.setenv("MOBILEKIT_SSH_CONFIG", str(sshd.client_config))
    python = ["env", "PYTHONNOUSERSITE=1", shutil.which("qemu-aarch64-static"), "-cpu", DEFAULT_CPU,
              "-L", str(ARM_ROOT), str(ARM_ROOT / "usr/bin/python3")]
    target = resolve_target(sshd.url, options(remote_python=shlex.join(python)))
    [row] = target.run([tflite_models["int8"]], FAST)
    [local] = LocalTarget().run([tflite_models["int8"]], FAST)
    assert row["error"] is None and row["machine"] == "aarch64"
    assert row["output_sha256"] == local["output_sha256"]


@pytest.mark.slow
@needs_arm_root
def test_arm64_runs_a_sparse_pruned_bundle_like_x86(arm_target, tmp_path):
    """A pruned model exported with sparse weights (the form XNNPACK's sparse kernels need; they
    are built for ARM) computes on emulated ARM64 what the dense export computes on x86."""
    from mobilekit.data import NORMALIZATION
    from mobilekit.deploy.export import export_bundle
    from mobilekit.nets.models import build_model
    from mobilekit.train.prune import measured_sparsity, zero_smallest_pointwise

    model = zero_smallest_pointwise(build_model(BuilderConfig("mobilenet_v2", alpha=0.35, resolution=64,
                                                classes=4, padding="symmetric")), 0.75)
    sparsity = measured_sparsity(model)
    assert sparsity == pytest.approx(0.75, abs=0.01)
    paths = {}
    for name, recorded in (("dense", None), ("sparse", sparsity)):
        export_bundle(model, tmp_path / name, quant="fp32", name=name, labels=list("abcd"),
                      trained=False, normalization=NORMALIZATION, sparsity=recorded)
        paths[name] = tmp_path / name / "model.tflite"
    assert paths["sparse"].stat().st_size < 0.6 * paths["dense"].stat().st_size
    script = tmp_path / "dump_outputs.py"
    script.write_text(DUMP_OUTPUTS)
    x86 = _outputs([sys.executable], script, paths["dense"])
    for name in ("sparse", "dense"):
        arm = _outputs(arm_target.python_command(), script, paths[name], env=arm_target.environment())
        for a, b in zip(arm, x86, strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-4 * np.abs(b).max())
