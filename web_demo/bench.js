// The browser benchmark target's side of the demo page: window.mobilekitBench, driven over
// WebDriver by mobilekit/bench/targets/browser.py. Inputs arrive as bytes made by Python (the device runner's
// make_input), outputs leave as bytes, so the output digest is computed as the runner computes it.

import {Tensor} from "@litertjs/core";
import {compile, fetchBytes, runOnce, startRuntime, timeRuns, toBase64} from "./model.js";

const TYPED = {float32: Float32Array, int32: Int32Array, uint8: Uint8Array};

function fromBase64(text, dtype) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return new TYPED[dtype](bytes.buffer);
}

const ready = startRuntime();
let loaded = null;

window.mobilekitBench = {
  ready,

  /** Compile the model at `url`; its inputs' {shape, dtype} in run() order and the compile time. */
  async load(url, numThreads) {
    const runtime = await ready;
    if (numThreads > runtime.maxThreads) {
      throw new Error(`${numThreads} threads: this page offers ${runtime.maxThreads} ` +
        `(${runtime.threads ? "cores" : "not cross-origin isolated"})`);
    }
    loaded?.model.delete();
    loaded = null;
    const bytes = await fetchBytes(url);
    try {
      const {model, initMs} = await compile(bytes, numThreads);
      loaded = {model};
      const inputs = model.getInputDetails().map((d) => ({name: d.name, shape: Array.from(d.shape), dtype: d.dtype}));
      return {initMs, inputs};
    } catch (e) { // e.g. an int8 input: LiteRT.js has no such tensor type
      throw new Error(`LiteRT.js cannot run this model: ${e.message ?? e} (its tensors are float32, int32 or uint8)`);
    }
  },

  /** The runner's loop on the loaded model: first run, warm-up, timed runs; outputs of the first run. */
  async measure(inputs, options) {
    const tensors = inputs.map(({data, dtype, shape}) => new Tensor(fromBase64(data, dtype), shape));
    try {
      const first = await runOnce(loaded.model, tensors);
      const samples = await timeRuns(loaded.model, tensors, options);
      return {firstMs: first.ms, samples, outputs: first.outputs.map(toBase64)};
    } finally {
      for (const t of tensors) t.delete();
      loaded.model.delete();
      loaded = null;
    }
  },
};
