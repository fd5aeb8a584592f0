"""The browser demo end to end: LiteRT.js (WASM) in headless Chromium answers as Python LiteRT does.

Real MobileNetV2 bundles exported by mobilekit (BN statistics calibrated, so the outputs are not
constant), served by `mobilekit web`, driven with Selenium through Debian's chromedriver. The
page's screenshot is saved to $MOBILEKIT_ARTIFACTS (default: the test's temp directory).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobilekit.bench.targets.browser import call, launch_chromium
from mobilekit.cli import main
from mobilekit.deploy.predict import Classifier, preprocess
from mobilekit.web import DemoServer
from test_web import DEMO, SAMPLE, require_browser

pytestmark = pytest.mark.slow

BUILDER = ["mobilenet_v2", "--alpha", "0.35", "--resolution", "96"]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """fp32 and int8 (float io) bundles, and an int8-io manifest the page must refuse."""
    root = tmp_path_factory.mktemp("web_bundles")
    for quant in ("fp32", "int8"):
        assert main(["export", *BUILDER, "--quant", quant, "--samples", "32", "--out", str(root / quant)]) == 0
    shutil.copytree(root / "int8", root / "int8io")
    manifest = json.loads((root / "int8io" / "manifest.json").read_text())
    manifest["name"] += "-int8io"
    for side in ("input", "output"):
        manifest[side].update(dtype="int8", quantization={"scale": 0.0078125, "zero_point": -1})
    (root / "int8io" / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture(scope="module")
def browser():
    require_browser()
    driver = launch_chromium("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
    yield driver
    driver.quit()


def floats(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), np.float32)


def exif_rotated_png(path: Path) -> Path:
    """The sample photo stored on its side with EXIF orientation 6 (display rotated 90° clockwise)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.open(SAMPLE).convert("RGB").transpose(Image.Transpose.ROTATE_90).save(path, exif=exif.tobytes())
    return path


def translucent_png(path: Path) -> Path:
    """The sample photo with random alpha: the RGB under it must reach the model untouched."""
    rgba = Image.open(SAMPLE).convert("RGBA")
    rgba.putalpha(Image.fromarray(np.random.default_rng(0).integers(0, 256, rgba.size[::-1], dtype=np.uint8)))
    rgba.save(path)
    return path


def test_browser_classifies_as_python_litert_does(bundles, browser, tmp_path):
    version = json.loads((DEMO / "node_modules/@litertjs/core/package.json").read_text())["version"]
    with DemoServer(bundles) as server:
        browser.get(server.url)
        ready = call(browser, "window.mobilekit.ready")
        assert ready == {"runtime": f"litert.js {version}", "crossOriginIsolated": True,
                         "maxThreads": ready["maxThreads"]} and ready["maxThreads"] >= 1

        rotated = exif_rotated_png(tmp_path / "rotated_exif6.png")
        translucent = translucent_png(tmp_path / "translucent.png")
        for image in (SAMPLE, rotated, translucent):  # the sample is what the page shows first
            if image != SAMPLE:  # through the page's own file picker, as a user picks a photo
                browser.find_element("id", "file-input").send_keys(str(image))
                call(browser, "new Promise((ok) => { const t = setInterval(() => "
                              "document.getElementById('source-note').textContent.startsWith(arguments[0])"
                              " && (clearInterval(t), ok()), 50); })", image.name)
            for key, tolerance in (("fp32", 1e-4), ("int8", 0.0)):
                page = call(browser, "window.mobilekit.classify(arguments[0])", key)
                python = Classifier(bundles / key)
                want_input = preprocess(image, python.manifest["input"])
                want = python.scores(image)
                assert np.unique(want).size > 20, "the model's outputs must not be constant"
                assert np.array_equal(floats(page["input"]).reshape(want_input.shape), want_input), key
                got = floats(page["scores"])
                assert np.abs(got - want).max() <= tolerance, (key, image.name, np.abs(got - want).max())
                assert page["top"][0]["index"] == int(np.argmax(want)) and page["ms"] > 0

        refused = call(browser, "window.mobilekit.unsupported()")
        assert len(refused) == 1 and refused[0].startswith(
            "mobilenet_v2-separable-int8-a0.35-r96-int8io cannot run here: its input is int8 and its output is int8")

        # the webcam (Chromium's fake camera): every frame classified, a rolling median shown
        browser.find_element("id", "webcam-button").click()
        call(browser, "new Promise((ok) => { const t = setInterval(() => /median of the last ([5-9]|\\d\\d)/"
                      ".test(document.getElementById('latency').textContent) && (clearInterval(t), ok()), 50); })")
        assert browser.find_element("id", "source-note").text == "Webcam: classifying every frame."
        browser.find_element("id", "webcam-button").click()

        browser.find_element("id", "sample-button").click()
        call(browser, "new Promise((ok) => { const t = setInterval(() => document.getElementById"
                      "('source-note').textContent.startsWith('Sample') && (clearInterval(t), ok()), 50); })")
        rows = call(browser, "window.mobilekit.benchmark({warmup: 3, runs: 15})")
        assert sorted(r["name"] for r in rows) == sorted(Classifier(bundles / k).manifest["name"] for k in ("fp32", "int8"))
        assert all(r["runs"] == 15 and 0 < r["median"] <= r["p90"] for r in rows)
        call(browser, "window.mobilekit.classify(arguments[0])", "fp32")
        assert "ms per inference" in browser.find_element("id", "latency").text

        artifacts = Path(os.environ.get("MOBILEKIT_ARTIFACTS", tmp_path))
        artifacts.mkdir(parents=True, exist_ok=True)
        shot = artifacts / "web_demo.png"
        assert browser.save_screenshot(str(shot))
        print(f"screenshot: {shot}")
    assert Image.open(shot).size[0] >= 1000
    errors = [e["message"] for e in browser.get_log("browser")
              if e["level"] == "SEVERE" and "litert_wasm" not in e["message"]]  # LiteRT logs INFO as errors
    assert not errors, errors


def test_bench_target_browser_gives_the_local_output_digest(bundles, capsys):
    """`mobilekit bench --target browser` beside local: same input from --input-seed, same outputs."""
    require_browser()
    paths = [str(bundles / "fp32"), str(bundles / "int8")]
    code = main(["bench", *paths, "--target", "local", "--target", "browser", "--runs", "5", "--warmup", "1",
                 "--min-secs", "0", "--input-seed", "7", "--json"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and len(rows) == 4 and not any(r["error"] for r in rows)
    by = {(r["target"], r["model"]): r for r in rows}
    for path in paths:
        local, browser = by["local", path], by["browser", path]
        assert browser["runtime"].startswith("litert.js ") and local["runtime"].startswith("ai-edge-litert ")
        assert browser["output_sha256"] == local["output_sha256"], path
        assert browser["runs"] == 5 and browser["median_ms"] > 0 and browser["input_seed"] == 7
