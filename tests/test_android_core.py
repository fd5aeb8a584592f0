"""The Android demo's plain-Kotlin core (android_demo/), checked against Python on real bundles.

The app itself needs Google's Maven repository and is not built here; its Android-free core
(manifest parsing, the contract's preprocessing, top-k, latency statistics) is compiled with the
kotlinc of the app's own Kotlin version and its JUnit tests run against bundles that mobilekit
exports in this test, comparing the input tensors byte for byte with `mobilekit predict`'s.
The tools come from `.ci/android.sh`; without them the tests skip, except under CI, where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import PIL
import pytest
from PIL import Image

from mobilekit.cli import main
from mobilekit.deploy.predict import Classifier, preprocess, quantize_input

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "android_demo"
CORE_SOURCES = [DEMO / "app/src/main/kotlin/dev/mobilekit/demo/core",
                DEMO / "app/src/test/kotlin/dev/mobilekit/demo/core"]
SAMPLE = DEMO / "app/src/main/assets/sample.png"
JAVA_LIBS = [Path("/usr/share/java/com.android.json.jar"), Path("/usr/share/java/junit4.jar")]
PACKAGE = "dev.mobilekit.demo.core"
EXPORTS = {"fp32": ["--quant", "fp32"],
           "int8io": ["--quant", "int8", "--io", "int8"],
           "uint8io": ["--quant", "int8", "--io", "uint8"]}


def app_kotlin_version() -> str:
    catalog = tomllib.loads((DEMO / "gradle/libs.versions.toml").read_text("utf-8"))
    return catalog["versions"]["kotlin"]


def kotlin_home() -> Path:
    """Where .ci/android.sh installs kotlinc for the app's Kotlin version."""
    cache = Path(os.environ.get("MOBILEKIT_KOTLIN_CACHE", "/var/cache/mobilekit"))
    return cache / f"kotlin-compiler-{app_kotlin_version()}" / "node_modules" / "kotlin-compiler"


@pytest.fixture(scope="module")
def kotlinc() -> Path:
    compiler = kotlin_home() / "bin" / "kotlinc-jvm"
    missing = [str(p) for p in [compiler, *JAVA_LIBS] if not p.exists()]
    if shutil.which("java") is None:
        missing.append("java")
    if missing:
        message = f"missing {', '.join(missing)}: run .ci/android.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return compiler


def test_ci_kotlinc_is_the_apps_kotlin_version(kotlinc):
    out = subprocess.run([str(kotlinc), "-version"], capture_output=True, text=True, timeout=300)
    found = re.search(r"kotlinc-jvm (\S+)", out.stdout + out.stderr)
    assert found, out.stdout + out.stderr
    assert found.group(1) == app_kotlin_version()


# --- the fixtures the Kotlin tests read (Fixtures.kt) ---------------------------------------------

def export_bundles(bundles: Path) -> None:
    """Real bundles from `mobilekit export`, a tiny MobileNet V1 so that the export is quick."""
    for name, flags in EXPORTS.items():
        argv = ["export", "mobilenet_v1", "--alpha", "0.25", "--resolution", "32", "--classes", "10",
                "--samples", "16", *flags, "--out", str(bundles / name)]
        assert main(argv) == 0, argv
    # Export cannot write "crop": "center" yet: the same model with a manifest that asks for it,
    # and a manifest (no model) with a non-square input, other normalization and quantization.
    shutil.copytree(bundles / "fp32", bundles / "fp32-center-crop")
    edit_manifest(bundles / "fp32-center-crop", crop="center")
    (bundles / "wide-crop").mkdir()
    shutil.copy(bundles / "int8io" / "manifest.json", bundles / "wide-crop")
    edit_manifest(bundles / "wide-crop", crop="center", shape=[1, 24, 40, 3],
                  normalization={"mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375]},
                  quantization={"scale": 0.0186584, "zero_point": -14})


def edit_manifest(bundle: Path, **input_fields) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text("utf-8"))
    manifest["input"].update(input_fields)
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")


def write_images(images: Path) -> list[str]:
    """The app's sample photo and crops of it: portrait (resized vertical pass first, see
    PillowResize.kt), narrow (widened while its height shrinks), smaller than the input, its size."""
    images.mkdir()
    photo = Image.open(SAMPLE).convert("RGB")
    shutil.copy(SAMPLE, images / "sample.png")
    photo.crop((50, 3, 117, 114)).save(images / "portrait.png")
    photo.crop((140, 10, 160, 100)).save(images / "narrow.png")
    photo.crop((90, 40, 111, 53)).save(images / "small.png")
    photo.crop((80, 30, 112, 62)).save(images / "exact.png")
    return sorted(p.name for p in images.iterdir())


def manifest_facts(bundle: Path) -> dict:
    m = json.loads((bundle / "manifest.json").read_text("utf-8"))
    i, o = m["input"], m["output"]
    return {"dir": bundle.name, "name": m["name"], "model_file": m["model_file"], "kind": m["builder"]["kind"],
            "quantization": m["quantization"], "input_dtype": i["dtype"], "input_shape": i["shape"],
            "crop": i["crop"], "input_quantization": i["quantization"], "output_quantization": o["quantization"],
            "mean": i["normalization"]["mean"], "std": i["normalization"]["std"], "semantics": o["semantics"]}


def expected_inputs(root: Path, bundles: list[Path], images: list[str]) -> list[dict]:
    """Each bundle x image: the input tensor `mobilekit predict` feeds the model, as raw bytes."""
    (root / "tensors").mkdir()
    cases = []
    for bundle in bundles:
        spec = json.loads((bundle / "manifest.json").read_text("utf-8"))["input"]
        for image in images:
            x = quantize_input(preprocess(root / "images" / image, spec), spec["dtype"], spec["quantization"])
            assert x.shape == tuple(spec["shape"])
            tensor = f"tensors/{bundle.name}-{image}.bin"
            (root / tensor).write_bytes(np.ascontiguousarray(x).tobytes())
            cases.append({"bundle": bundle.name, "image": image, "tensor": tensor})
    return cases


def expected_outputs(root: Path) -> list[dict]:
    """predict's top-3 for the sample photo, and the raw output tensor of that run."""
    (root / "outputs").mkdir()
    cases = []
    for name in EXPORTS:
        classifier = Classifier(root / "bundles" / name)
        top = classifier.top(root / "images" / "sample.png", 3)
        raw = classifier.interpreter.get_tensor(classifier.interpreter.get_output_details()[0]["index"])
        (root / "outputs" / f"{name}.bin").write_bytes(raw.tobytes())
        cases.append({"bundle": name, "raw": f"outputs/{name}.bin", "top": top})
    return cases


def expected_stats() -> list[dict]:
    """numpy's median and percentiles, computed as `mobilekit bench` does, on skewed samples."""
    rng = np.random.default_rng(7)
    cases = []
    for n in (1, 2, 7, 50, 101):
        x = np.sort(rng.lognormal(0.0, 0.4, n) * 3.0)
        p5, p50, p90, p95 = np.percentile(x, [5, 50, 90, 95])
        cases.append({"samples": x.tolist(), "median": float(np.median(x)), "p5": float(p5),
                      "p50": float(p50), "p90": float(p90), "p95": float(p95)})
    return cases


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> Path:
    # PillowResize.kt follows Pillow 13's order of the two passes; older Pillows differ by one level
    assert int(PIL.__version__.split(".")[0]) >= 13, f"Pillow {PIL.__version__}: the Kotlin port follows Pillow 13"
    root = tmp_path_factory.mktemp("android_fixtures")
    export_bundles(root / "bundles")
    images = write_images(root / "images")
    bundles = sorted((root / "bundles").iterdir())
    expected = {"manifests": [manifest_facts(b) for b in bundles],
                "inputs": expected_inputs(root, bundles, images),
                "outputs": expected_outputs(root),
                "stats": expected_stats()}
    (root / "expected.json").write_text(json.dumps(expected), "utf-8")
    return root


# --- compile and run the JUnit tests --------------------------------------------------------------

def junit_classes() -> list[str]:
    return sorted(f"{PACKAGE}.{p.stem}" for p in CORE_SOURCES[1].glob("*Test.kt"))


def declared_tests() -> int:
    return sum(p.read_text("utf-8").count("@Test\n") for p in CORE_SOURCES[1].glob("*Test.kt"))


@pytest.mark.slow
def test_kotlin_core_agrees_with_python_on_exported_bundles(kotlinc, fixtures, tmp_path):
    classes = tmp_path / "classes"
    libs = [str(p) for p in JAVA_LIBS]
    # No Android classes on the class path: compiling at all proves the core is Android-free.
    compiled = subprocess.run(
        [str(kotlinc), "-Werror", "-jvm-target", "17", "-cp", os.pathsep.join(libs), "-d", str(classes),
         *map(str, CORE_SOURCES)], capture_output=True, text=True, timeout=900)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    class_path = os.pathsep.join([str(classes), str(kotlin_home() / "lib" / "kotlin-stdlib.jar"), *libs])
    run = subprocess.run(
        ["java", f"-Dmobilekit.fixtures={fixtures}", "-cp", class_path, f"{PACKAGE}.CoreTestMainKt", *junit_classes()],
        capture_output=True, text=True, timeout=300)
    print(run.stdout)  # the JUnit report, shown when this test fails
    closing = re.search(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", run.stdout, re.M)
    assert closing, run.stdout + run.stderr
    assert run.returncode == 0, run.stdout + run.stderr
    assert [int(g) for g in closing.groups()] == [declared_tests(), 0, 0]
