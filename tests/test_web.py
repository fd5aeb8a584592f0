"""The browser demo: its JavaScript preprocessing against Python's, and the `mobilekit web` server.

The end-to-end check (LiteRT.js in Chromium against Python LiteRT) is tests/test_web_browser.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from mobilekit.cli import main
from mobilekit.deploy.bundle import read_bundle
from mobilekit.deploy.predict import preprocess, quantize_input
from mobilekit.errors import UsageError
from mobilekit.web import DemoServer, find_demo_dir
from test_export import export, tiny_model
from tflite_fixtures import no_tf_env

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "web_demo"
SAMPLE = DEMO / "sample" / "chelsea.png"
SETUP_HINT = "run .ci/web.sh (apt nodejs npm chromium chromium-driver; npm install --prefix web_demo)"


def require(ok: bool, what: str) -> None:
    """Skip on a developer machine without the browser tool chain; in CI a missing piece fails."""
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"{what} missing: {SETUP_HINT}")
        pytest.skip(f"{what} missing: {SETUP_HINT}")


def npm_installed() -> bool:
    return (DEMO / "node_modules" / "@litertjs" / "core" / "dist" / "index.js").is_file()


def require_browser() -> None:
    """Chromium, chromedriver, selenium and LiteRT.js from npm, or skip (fail in CI)."""
    from mobilekit.bench.targets.browser import check_tools

    require(npm_installed(), "web_demo/node_modules")
    try:
        check_tools()
    except UsageError as exc:
        require(False, str(exc))


# ---- JavaScript preprocessing == Python's, byte for byte ---------------------------------------

NORMALIZATIONS = {
    "symmetric": {"mean": [127.5] * 3, "std": [127.5] * 3},
    "imagenet": {"mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375]},
}
# (dtype, quantization, normalization): float input, int8 input, uint8 input
INPUT_TYPES = [
    ("float32", None, "symmetric"),
    ("float32", None, "imagenet"),
    ("int8", {"scale": 0.0078125, "zero_point": -1}, "symmetric"),
    ("uint8", {"scale": 0.018658, "zero_point": 114}, "imagenet"),
]
# (source width, height) -> (input height, width): down- and upsampling, square and not
SIZES = [
    ((300, 200), (96, 96)),     # the sample photo, downsampled, not square
    ((300, 200), (224, 160)),   # width down, height up
    ((200, 300), (128, 96)),    # portrait
    ((37, 53), (13, 20)),       # height shrinks most: Pillow 13 runs its vertical pass first
    ((13, 9), (80, 64)),        # upsampled both ways
    ((96, 96), (96, 96)),       # no resize at all
    ((1200, 800), (96, 96)),    # a 12.5x shrink: the filter's support widens to 25 taps
]


def photo_pngs(tmp_path: Path) -> dict[tuple[int, int], Path]:
    """PNG fixtures of the sample photo at each source size (noise for the tiniest, where the
    photo would be flat), written and read back through Pillow as any image file is."""
    photo = Image.open(SAMPLE).convert("RGB")
    noise = np.random.default_rng(0).integers(0, 256, (9, 13, 3), dtype=np.uint8)
    paths = {}
    for (w, h), _ in SIZES:
        image = Image.fromarray(noise) if (w, h) == (13, 9) else photo.resize((w, h), Image.LANCZOS)
        paths[w, h] = tmp_path / f"photo_{w}x{h}.png"
        image.save(paths[w, h])
    return paths


def run_js_preprocessing(cases: list[dict]) -> None:
    proc = subprocess.run(["node", str(ROOT / "tests" / "js" / "preprocess_cases.mjs")],
                          input=json.dumps(cases), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_js_preprocessing_equals_python(tmp_path):
    require(shutil.which("node") is not None, "node")
    pngs = photo_pngs(tmp_path)
    cases, expected = [], []
    for (w, h), (height, width) in SIZES:
        rgb = tmp_path / f"photo_{w}x{h}.rgb"
        with Image.open(pngs[w, h]) as image:  # decoded as the browser does: EXIF applied, RGB
            rgb.write_bytes(np.asarray(ImageOps.exif_transpose(image).convert("RGB")).tobytes())
        for crop in ("none", "center"):
            for dtype, quantization, norm in INPUT_TYPES:
                spec = {"shape": [1, height, width, 3], "dtype": dtype, "quantization": quantization,
                        "resize": "bilinear", "crop": crop, "normalization": NORMALIZATIONS[norm]}
                out = tmp_path / f"case{len(cases)}.bin"
                cases.append({"rgb": str(rgb), "width": w, "height": h, "input": spec, "out": str(out)})
                expected.append(quantize_input(preprocess(pngs[w, h], spec), dtype, quantization))
    run_js_preprocessing(cases)
    for case, want in zip(cases, expected):
        got = np.frombuffer(Path(case["out"]).read_bytes(), dtype=want.dtype).reshape(want.shape)
        where = f"{case['width']}x{case['height']} -> {case['input']['shape']} {case['input']['crop']} {want.dtype}"
        if want.dtype == np.float32:
            assert np.abs(got - want).max() <= 1e-6, where
        else:
            assert np.array_equal(got, want), where
    assert len(cases) == len(SIZES) * 2 * len(INPUT_TYPES)


def run_node(script: str) -> object:
    proc = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_js_quantization_rounds_half_away_from_zero_and_clamps():
    require(shutil.which("node") is not None, "node")
    x = [0.0, 0.25, -0.25, 0.75, 100.0, -100.0]
    got = run_node("import {quantize} from './web_demo/preprocess.js';"
                   f"const x = Float32Array.from({x});"
                   "console.log(JSON.stringify([Array.from(quantize(x, 'int8', {scale: 0.5, zero_point: -1})),"
                   "  Array.from(quantize(x, 'uint8', {scale: 0.5, zero_point: 128}))]));")
    want_int8 = quantize_input(np.float32(x), "int8", {"scale": 0.5, "zero_point": -1}).tolist()
    want_uint8 = quantize_input(np.float32(x), "uint8", {"scale": 0.5, "zero_point": 128}).tolist()
    assert got == [want_int8, want_uint8] == [[-1, 0, -2, 1, 127, -128], [128, 129, 127, 130, 255, 0]]


def test_js_latency_statistics_and_top_k_agree_with_numpy():
    require(shutil.which("node") is not None, "node")
    samples = np.random.default_rng(1).gamma(2.0, 3.0, 37).round(3).tolist()
    got = run_node("import {latencyStats, topK} from './web_demo/preprocess.js';"
                   f"const s = latencyStats({samples});"
                   "const top = topK(Float32Array.from([0.5, 2, 2, -1, 0.5]), ['a', 'b', 'c'], 4);"
                   "console.log(JSON.stringify({s, top}));")
    assert got["s"]["median"] == pytest.approx(np.median(samples), abs=1e-12)
    assert got["s"]["p90"] == pytest.approx(np.percentile(samples, 90), abs=1e-12)
    # ties keep index order (numpy's stable argsort of -scores); labels beyond the file: the index
    assert [(t["index"], t["label"]) for t in got["top"]] == [(1, "b"), (2, "c"), (0, "a"), (4, "4")]


def test_js_says_which_bundles_litert_js_cannot_run():
    require(shutil.which("node") is not None, "node")
    got = run_node("import {unsupportedReason} from './web_demo/preprocess.js';"
                   "const m = (i, o) => ({name: 'b', input: {dtype: i}, output: {dtype: o, semantics: 'logits'}});"
                   "console.log(JSON.stringify([m('float32', 'float32'), m('uint8', 'uint8'), m('int8', 'int8'),"
                   "  m('float32', 'int8')].map(unsupportedReason)));")
    assert got[:2] == [None, None]
    assert "input is int8 and its output is int8" in got[2] and "--io float" in got[2]
    assert got[3].startswith("b cannot run here: its output is int8; LiteRT.js tensors are float32")


# ---- the server ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """A bundles directory: one real (tiny) bundle, one whose model no longer matches, one stray file."""
    root = tmp_path_factory.mktemp("bundles")
    export(tiny_model(), root / "tiny-fp32")
    shutil.copytree(root / "tiny-fp32", root / "group" / "broken")
    (root / "group" / "broken" / "model.tflite").write_bytes(b"TFL3 not the model")
    (root / "secret.txt").write_text("not a bundle file")
    return root


def fetch(url: str, method: str = "GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, b""


def test_server_serves_demo_bundles_and_isolation_headers(bundles):
    require(npm_installed(), "web_demo/node_modules")
    with DemoServer(bundles) as server:
        assert server.url.startswith("http://127.0.0.1:")
        status, headers, body = fetch(server.url)
        assert status == 200 and b'type="importmap"' in body
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        status, headers, _ = fetch(server.url + "node_modules/@litertjs/core/wasm/litert_wasm_internal.wasm", "HEAD")
        assert status == 200 and headers["Content-Type"] == "application/wasm"
        assert fetch(server.url + "preprocess.js", "HEAD")[1]["Content-Type"] == "text/javascript"

        status, _, body = fetch(server.url + "bundles/index.json")
        index = json.loads(body)
        assert status == 200 and index["bundles_dir"] == str(bundles.resolve())
        by_key = {entry["key"]: entry for entry in index["bundles"]}
        assert set(by_key) == {"tiny-fp32", "group/broken"}
        assert by_key["tiny-fp32"]["manifest"] == read_bundle(bundles / "tiny-fp32")
        assert "model_sha256" in by_key["group/broken"]["error"] and "manifest" not in by_key["group/broken"]

        status, _, body = fetch(server.url + "bundles/tiny-fp32/model.tflite")
        assert status == 200 and body == (bundles / "tiny-fp32" / "model.tflite").read_bytes()
        assert fetch(server.url + "bundles/tiny-fp32/labels.txt")[2].decode().splitlines()[0] == "c0"
        for outside in ("bundles/secret.txt", "bundles/tiny-fp32/../secret.txt", "bundles/tiny-fp32/x.tflite",
                        "bundles/%2e%2e/%2e%2e/etc/passwd", "../../etc/passwd"):
            assert fetch(server.url + outside)[0] == 404, outside


def test_server_without_npm_packages_says_how_to_install(tmp_path, bundles):
    (tmp_path / "index.html").write_text("<!doctype html>")
    with pytest.raises(UsageError, match=r"npm install --prefix .*Node.js"):
        DemoServer(bundles, demo_dir=tmp_path)


def test_web_command_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["web", "--bundles", str(tmp_path / "missing"), "--port", "0"]) == 2
    assert main(["web", "--bundles", str(tmp_path), "--demo-dir", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"mobilekit web: error: --bundles {tmp_path / 'missing'}: no such directory"
    assert lines[1].startswith("mobilekit web: error: --demo-dir") and "no index.html" in lines[1]
    assert len(lines) == 2


def test_demo_dir_is_found_beside_the_package_or_from_the_environment(tmp_path, monkeypatch):
    assert find_demo_dir() == DEMO
    (tmp_path / "index.html").write_text("")
    monkeypatch.setenv("MOBILEKIT_WEB_DEMO", str(tmp_path))
    assert find_demo_dir() == tmp_path.resolve()


def test_server_runs_without_tensorflow(bundles, tmp_path):
    require(npm_installed(), "web_demo/node_modules")
    script = ("import json, sys, urllib.request\n"
              "from mobilekit.web import DemoServer\n"
              "with DemoServer(sys.argv[1]) as s:\n"
              "    index = json.load(urllib.request.urlopen(s.url + 'bundles/index.json'))\n"
              "print(sorted(e['key'] for e in index['bundles']))\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras')))\n")
    proc = subprocess.run([sys.executable, "-c", script, str(bundles)], capture_output=True, text=True,
                          env=no_tf_env(tmp_path), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["['group/broken', 'tiny-fp32']", "[]"]
