"""The ``browser`` target: LiteRT.js (WebAssembly, XNNPACK) in headless Chromium on this machine.

The web demo's server publishes the models; the demo page's ``window.mobilekitBench``
(web_demo/bench.js) runs the device runner's loop (first run, warm-up, timed runs until both
--runs and --min-secs) inside the page. The input is
made here exactly as the runner makes it (``make_input`` from --input-seed) and the output bytes
come back, so ``output_sha256`` means the same as on every other target. Each page call has a
timeout: a model the runtime refuses, a page error or a hang becomes that model's error row.

Needs Debian's chromium and chromium-driver, the ``selenium`` package and ``npm install --prefix
web_demo`` (.ci/web.sh installs them). TF-free.
"""

from __future__ import annotations

import base64
import hashlib
import platform
from pathlib import Path

import numpy as np

from mobilekit.bench.targets import Target, error_row
from mobilekit.errors import UsageError
from mobilekit.runtime import graph, stats
from mobilekit.runtime.runner import build_parser, make_input

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--no-first-run", "--disable-background-networking", "--window-size=1280,1000")
LOAD_TIMEOUT_S = 120  # starting the runtime, or compiling one model
MEASURE_SLACK_S = 120  # on top of --min-secs for one model's runs


def check_tools() -> None:
    """UsageError in one line when Chromium, chromedriver or selenium is missing."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    if missing:
        raise UsageError(f"--target browser: {' and '.join(missing)} not found "
                         f"(apt-get install chromium chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        raise UsageError("--target browser: the selenium package is missing (pip install selenium)") from None


def launch_chromium(*extra_flags: str):
    """A headless Chromium under Selenium, with Debian's chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    check_tools()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, *extra_flags):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class PageError(Exception):
    """The page's own error message (a rejected promise)."""


def call(driver, expression: str, *args, timeout_s: float = LOAD_TIMEOUT_S):
    """Await a promise-valued JavaScript expression in the page; its rejection raises PageError
    with the page's message, a page that does not answer in time raises selenium's TimeoutException."""
    driver.set_script_timeout(timeout_s)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"Promise.resolve().then(() => {expression}).then((value) => done({{value}}),"
        " (error) => done({error: String(error && error.message || error)}));", *args)
    if "error" in result:
        raise PageError(result["error"])
    return result["value"]


def _encoded(array: np.ndarray) -> dict:
    return {"data": base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii"),
            "dtype": array.dtype.name, "shape": list(array.shape)}


class _Page:
    """The demo page in a Chromium started on first use; closing it ends that browser."""

    def __init__(self, url: str):
        self.url = url
        self.driver = None
        self.runtime = None

    def open(self):
        """(driver, runtime) with the page loaded and LiteRT.js started."""
        if self.driver is None:
            self.driver = launch_chromium()
            self.driver.set_page_load_timeout(LOAD_TIMEOUT_S)
            self.driver.get(self.url)
            self.runtime = call(self.driver, "window.mobilekitBench.ready")
        return self.driver, self.runtime

    def close(self) -> None:
        if self.driver is not None:
            driver, self.driver = self.driver, None
            driver.quit()


class BrowserTarget(Target):
    host = "localhost"  # shares this machine's cores with local and qemu: runs after them
    emulated = False

    def __init__(self, spec: str = "browser", options=None):
        from mobilekit.web import check_npm_packages, find_demo_dir

        if spec != "browser":
            raise UsageError(f"--target {spec!r}: the browser target is spelled 'browser'")
        self.spec = spec

        check_tools()
        check_npm_packages(find_demo_dir())

    def run(self, models: list[Path], runner_args: list[str]) -> list[dict]:
        from mobilekit.web import DemoServer

        args = build_parser().parse_args(["-", *runner_args])
        if args.kernels != "xnnpack":
            raise UsageError("--target browser: LiteRT.js on WebAssembly runs XNNPACK kernels only (--kernels xnnpack)")
        files = {f"m{i}.tflite": Path(m) for i, m in enumerate(models)}
        rows = []
        with DemoServer(None, files=files) as server:
            page = _Page(server.url)
            try:
                for name, model in files.items():
                    try:
                        rows.append(self._measure(page, server.url + "files/" + name, model, args))
                    except Exception as exc:  # one bad model must not stop the others (as in the runner)
                        text = f"in the page: {exc}" if isinstance(exc, PageError) else graph.one_line(exc)
                        rows.append({"model": str(model), **error_row(text)})
                        page.close()  # whatever state it is in, the next model gets a new browser
            finally:
                page.close()
        return rows

    def _measure(self, page: "_Page", url: str, model: Path, args) -> dict:
        inputs, _ = graph.io_tensors(model)
        if args.input_shape and args.input_shape != inputs[0]["shape"]:
            raise UsageError(f"--input-shape: LiteRT.js cannot resize inputs; {model} takes {inputs[0]['shape']}")
        driver, runtime = page.open()
        loaded = call(driver, "window.mobilekitBench.load(arguments[0], arguments[1])", url, args.threads)
        page_inputs = [(d["shape"], d["dtype"]) for d in loaded["inputs"]]
        if page_inputs != [(t["shape"], t["dtype"]) for t in inputs]:
            raise RuntimeError(f"LiteRT.js sees the inputs as {page_inputs}, the model file as "
                               f"{[(t['shape'], t['dtype']) for t in inputs]}")
        rng = np.random.default_rng(args.input_seed)
        arrays = [make_input(shape, dtype, rng) for shape, dtype in page_inputs]
        options = {"warmup": args.warmup, "runs": args.runs, "minMs": args.min_secs * 1000, "maxRuns": args.max_runs}
        measured = call(driver, "window.mobilekitBench.measure(arguments[0], arguments[1])",
                        [_encoded(a) for a in arrays], options, timeout_s=MEASURE_SLACK_S + args.min_secs * 2)
        digest = hashlib.sha256()
        for output in measured["outputs"]:
            digest.update(base64.b64decode(output))
        samples = measured["samples"]
        return {
            "model": str(model), "error": None,
            "machine": platform.machine(), "threads": args.threads, "kernels": "xnnpack", "api": "compiled",
            "runtime": f"litert.js {runtime['version']}",
            "browser": f"Chromium {driver.capabilities.get('browserVersion', '?')}",
            "cross_origin_isolated": runtime["threads"],
            "warmup_runs": args.warmup, "runs": len(samples),
            "init_ms": loaded["initMs"], "first_ms": measured["firstMs"],
            **stats.summarize(samples),
            "peak_rss_mb": None,
            "ops_total": len(graph.read_graph(model)[0]),
            "xnnpack_partitions": None, "ops_outside_xnnpack": None,  # LiteRT.js does not tell
            "input_seed": args.input_seed, "output_sha256": digest.hexdigest(),
            "samples_ms": samples,
            "warnings": stats.warnings_for(samples),
        }
