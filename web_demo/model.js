// LiteRT.js (WebAssembly) running .tflite models: load the runtime once, compile a model, run it
// and time it. Used by the demo page (app.js) and the browser benchmark target's API (bench.js).

import {loadAndCompile, loadLiteRt, Tensor} from "@litertjs/core";
import {dequantize, unsupportedReason} from "./preprocess.js";

const CORE = new URL("./node_modules/@litertjs/core/", import.meta.url);

let runtime = null;

/**
 * Loads the WASM runtime from this origin once per page, the threaded build when the page is
 * cross-origin isolated (SharedArrayBuffer needs it). Resolves to {version, threads, maxThreads}.
 */
export function startRuntime() {
  runtime ??= (async () => {
    const threads = self.crossOriginIsolated === true;
    await loadLiteRt(new URL("wasm/", CORE).href, {threads});
    const version = (await (await fetch(new URL("package.json", CORE))).json()).version;
    return {version, threads, maxThreads: threads ? navigator.hardwareConcurrency || 1 : 1};
  })();
  return runtime;
}

/** The bundles the server found: [{key, url, name, manifest} | {key, url, name, error}]. */
export async function listBundles() {
  const response = await fetch("bundles/index.json");
  if (!response.ok) throw new Error(`bundles/index.json: HTTP ${response.status}`);
  return response.json();
}

/** A typed array's bytes as base64 (how tensors cross WebDriver to Python). */
export function toBase64(typed) {
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

export async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** A compiled model on the WASM CPU accelerator (XNNPACK) and how long compiling took. */
export async function compile(modelBytes, numThreads) {
  const start = performance.now();
  const model = await loadAndCompile(modelBytes, {accelerator: "wasm", cpuOptions: {numThreads}});
  return {model, initMs: performance.now() - start};
}

/** One inference: {outputs (copies of every output's typed array), ms (run() alone)}. */
export async function runOnce(model, inputs) {
  const start = performance.now();
  const tensors = await model.run(inputs);
  const ms = performance.now() - start;
  const outputs = tensors.map((t) => t.toTypedArray().slice());
  for (const t of tensors) t.delete();
  return {outputs, ms};
}

const YIELD_EVERY_MS = 50;

// run() settles through microtasks only: without a task boundary now and then a long loop would
// freeze the page (no painting, no WebDriver, no navigation away). Called between timed runs.
async function yieldedSince(last) {
  if (performance.now() - last < YIELD_EVERY_MS) return last;
  await new Promise((resolve) => setTimeout(resolve, 0));
  return performance.now();
}

/**
 * `warmup` untimed runs, then timed runs until both `runs` runs and `minMs` milliseconds are
 * reached, at most `maxRuns` (the device runner's loop). Returns the samples in ms.
 */
export async function timeRuns(model, inputs, {warmup = 5, runs = 30, minMs = 0, maxRuns = 10000} = {}) {
  let last = performance.now();
  for (let i = 0; i < warmup; i++) {
    await runOnce(model, inputs);
    last = await yieldedSince(last);
  }
  const samples = [];
  const deadline = performance.now() + minMs;
  while (samples.length < Math.max(runs, 1) || (performance.now() < deadline && samples.length < maxRuns)) {
    samples.push((await runOnce(model, inputs)).ms);
    last = await yieldedSince(last);
  }
  return samples;
}

/** One bundle compiled with a fixed thread count, as the demo page uses it. */
export class Variant {
  static async load(entry, numThreads = 1) {
    const {manifest} = entry;
    const problem = unsupportedReason(manifest);
    if (problem) throw new Error(problem);
    const base = new URL(entry.url, location.href);
    const [modelBytes, labelsText] = await Promise.all([
      fetchBytes(new URL(manifest.model_file, base)),
      fetch(new URL(manifest.labels_file, base)).then((r) => r.text()),
    ]);
    const {model, initMs} = await compile(modelBytes, numThreads);
    return new Variant(manifest, model, labelsText.split("\n").filter((l) => l.length), numThreads, initMs);
  }

  constructor(manifest, model, labels, numThreads, initMs) {
    Object.assign(this, {manifest, model, labels, numThreads, initMs, warm: false});
  }

  /** A reusable input tensor from tensor data in the model's input type. */
  tensor(data) {
    return new Tensor(data, this.manifest.input.shape);
  }

  /** One inference: {raw (the output's typed array), ms}. */
  async run(tensor) {
    const {outputs, ms} = await runOnce(this.model, [tensor]);
    return {raw: outputs[0], ms};
  }

  /** The output as float32 scores (dequantized for a uint8 output). */
  scores(raw) {
    return dequantize(raw, this.manifest.output.quantization);
  }

  time(tensor, options) {
    return timeRuns(this.model, [tensor], options);
  }

  delete() {
    this.model.delete();
  }
}
