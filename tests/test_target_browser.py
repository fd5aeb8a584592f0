"""The browser target: the runner's loop in LiteRT.js (headless Chromium), rows like the local ones."""

from __future__ import annotations

import json
import time

import pytest

from mobilekit.bench.schedule import runner_args
from mobilekit.bench.targets import browser, resolve_target
from mobilekit.bench.targets.browser import BrowserTarget
from mobilekit.bench.targets.local import LocalTarget
from mobilekit.errors import UsageError
from test_web import DEMO, require_browser
from tflite_fixtures import tflite_models  # noqa: F401 - fixture

pytestmark = pytest.mark.slow  # each run starts Chromium


def args(**kw) -> list[str]:
    options = {"threads": 1, "kernels": "xnnpack", "runs": 5, "warmup": 1, "min_secs": 0.0,
               "input_shape": None, "input_seed": 3, "api": "interpreter", **kw}
    return runner_args(**options)


@pytest.fixture(scope="module")
def target():
    require_browser()
    return BrowserTarget("browser")


def test_rows_have_the_local_digest_and_refused_models_are_error_rows(target, tflite_models):
    models = [tflite_models["f32"], tflite_models["int8"], tflite_models["corrupt"], tflite_models["f32"]]
    rows = target.run(models, args())
    local = LocalTarget().run([tflite_models["f32"]], args())[0]
    version = json.loads((DEMO / "node_modules/@litertjs/core/package.json").read_text())["version"]
    assert [r["model"] for r in rows] == [str(m) for m in models]
    for row in (rows[0], rows[3]):  # the model after two refused ones is measured as well
        assert row["error"] is None and row["runtime"] == f"litert.js {version}"
        assert row["output_sha256"] == local["output_sha256"], "LiteRT.js and ai-edge-litert differ"
        assert row["runs"] == 5 and len(row["samples_ms"]) == 5 and row["threads"] == 1
        lo, hi = row["median_ci95_ms"]
        assert 0 < lo <= row["median_ms"] <= hi and row["init_ms"] > 0 and row["first_ms"] > 0
    assert rows[1]["error"].startswith("in the page: LiteRT.js cannot run this model") and "INT8" in rows[1]["error"]
    assert rows[2]["error"] and "\n" not in rows[2]["error"]


def test_more_threads_where_the_page_is_cross_origin_isolated(target, tflite_models):
    row = target.run([tflite_models["f32"]], args(threads=2))[0]
    assert row["error"] is None and row["threads"] == 2 and row["cross_origin_isolated"] is True
    too_many = target.run([tflite_models["f32"]], args(threads=64))[0]
    assert too_many["error"].startswith("in the page: 64 threads: this page offers")


def test_a_page_that_does_not_answer_in_time_is_an_error_row_not_a_hang(target, tflite_models, monkeypatch):
    monkeypatch.setattr(browser, "MEASURE_SLACK_S", 0.5)
    start = time.monotonic()
    rows = target.run([tflite_models["f32"]] * 2, args(runs=10**7))
    assert time.monotonic() - start < 60
    assert all(r["error"].startswith("TimeoutException") for r in rows), rows


def test_flags_the_browser_cannot_honour_are_usage_errors(target, tflite_models):
    assert isinstance(resolve_target("browser"), BrowserTarget)
    with pytest.raises(UsageError, match="spelled 'browser'"):
        resolve_target("browsers")
    with pytest.raises(UsageError, match="XNNPACK kernels only"):
        target.run([tflite_models["f32"]], args(kernels="builtin"))
    row = target.run([tflite_models["f32"]], args(input_shape=[1, 8, 8, 3]))[0]
    assert row["error"].startswith("--input-shape: LiteRT.js cannot resize inputs")
