// LiteRT.js (WebAssembly) running mobilekit bundles: load the runtime once, compile a bundle,
// run it on an input tensor and time it. Used by the demo page (app.js) and the browser
// benchmark target (bench.html).

import {loadAndCompile, loadLiteRt, Tensor} from "@litertjs/core";
import {dequantize, unsupportedReason} from "./preprocess.js";

const CORE = new URL("./node_modules/@litertjs/core/", import.meta.url);

/**
 * Loads the WASM runtime from this origin, the threaded build when the page is cross-origin
 * isolated (SharedArrayBuffer needs it). Returns {version, threads, maxThreads}.
 */
export async function startRuntime() {
  const threads = self.crossOriginIsolated === true;
  await loadLiteRt(new URL("wasm/", CORE).href, {threads});
  const version = (await (await fetch(new URL("package.json", CORE))).json()).version;
  return {version, threads, maxThreads: threads ? navigator.hardwareConcurrency || 1 : 1};
}

/** The bundles the server found: [{key, url, name, manifest} | {key, url, name, error}]. */
export async function listBundles() {
  const response = await fetch("bundles/index.json");
  if (!response.ok) throw new Error(`bundles/index.json: HTTP ${response.status}`);
  return response.json();
}

function now() {
  return performance.now();
}

/** One bundle compiled for the WASM CPU accelerator with a fixed thread count. */
export class Variant {
  static async load(entry, numThreads = 1) {
    const {manifest} = entry;
    const problem = unsupportedReason(manifest);
    if (problem) throw new Error(problem);
    const [modelBytes, labelsText] = await Promise.all([
      fetch(new URL(entry.url + manifest.model_file, location.href)).then((r) => r.arrayBuffer()),
      fetch(new URL(entry.url + manifest.labels_file, location.href)).then((r) => r.text()),
    ]);
    const start = now();
    const model = await loadAndCompile(new Uint8Array(modelBytes),
      {accelerator: "wasm", cpuOptions: {numThreads}});
    const initMs = now() - start;
    return new Variant(entry, model, labelsText.split("\n").filter((l) => l.length), numThreads, initMs);
  }

  constructor(entry, model, labels, numThreads, initMs) {
    this.entry = entry;
    this.manifest = entry.manifest;
    this.model = model;
    this.labels = labels;
    this.numThreads = numThreads;
    this.initMs = initMs;
  }

  /** A reusable input tensor from tensor data in the model's input type. */
  tensor(data) {
    return new Tensor(data, this.manifest.input.shape);
  }

  /** One inference: {raw (the output's typed array), ms (run() alone)}. */
  async run(tensor) {
    const start = now();
    const outputs = await this.model.run(tensor);
    const ms = now() - start;
    const raw = outputs[0].toTypedArray().slice();
    for (const output of outputs) output.delete();
    return {raw, ms};
  }

  /** The output as float32 scores (dequantized for a uint8 output). */
  scores(raw) {
    return dequantize(raw, this.manifest.output.quantization);
  }

  /** warmup untimed runs, then timed runs until both `runs` runs and `minMs` have passed. */
  async time(tensor, {warmup = 5, runs = 30, minMs = 0} = {}) {
    for (let i = 0; i < warmup; i++) await this.run(tensor);
    const samples = [];
    const deadline = now() + minMs;
    while (samples.length < runs || now() < deadline) samples.push((await this.run(tensor)).ms);
    return samples;
  }

  delete() {
    this.model.delete();
  }
}
