// The demo page: pick a bundle (variant), classify the sample photo, a dropped file or the webcam,
// and benchmark every variant. window.mobilekit exposes the same actions to the browser test.

import {decodeBlob, decodeUrl, decodeVideoFrame} from "./decode.js";
import {listBundles, startRuntime, toBase64, Variant} from "./model.js";
import {latencyStats, makeInput, topK, unsupportedReason} from "./preprocess.js";

const SAMPLE = {url: "sample/chelsea.png", note: "Sample: Chelsea the cat, photo by Stefan van der Walt (CC0)."};
const TOP_K = 5;
const ROLLING = 30; // webcam latency: median of the last runs

const $ = (id) => document.getElementById(id);
const state = {entries: [], image: null, variants: new Map(), webcamStream: null, queue: Promise.resolve()};

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

// One model operation at a time: a benchmark and a classification never interleave.
function enqueue(work) {
  const done = state.queue.then(work);
  state.queue = done.catch(() => {});
  return done;
}

function drawRgb(canvas, image) {
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext("2d");
  const pixels = context.createImageData(image.width, image.height);
  for (let i = 0, j = 0; i < image.data.length; i += 3, j += 4) {
    pixels.data.set(image.data.subarray(i, i + 3), j);
    pixels.data[j + 3] = 255;
  }
  context.putImageData(pixels, 0, 0);
}

function runnableEntries() {
  return state.entries.filter((e) => e.manifest && !unsupportedReason(e.manifest));
}

function entryByKey(key) {
  const entry = state.entries.find((e) => e.key === key);
  if (!entry) throw new Error(`no bundle ${key} in bundles/index.json`);
  return entry;
}

function threads() {
  return Number($("threads-select").value || 1);
}

async function variantFor(entry, numThreads) {
  const key = `${entry.key}@${numThreads}`;
  if (!state.variants.has(key)) state.variants.set(key, Variant.load(entry, numThreads));
  return state.variants.get(key);
}

function kindOf(manifest) {
  const kind = manifest.builder?.kind;
  return Array.isArray(kind) ? "hybrid" : kind ?? "—";
}

// The name of the bundle that differs from this one only in being "standard" (CONTRACTS: bundle
// names are <builder>-<kind>-<quant>..., a per-stage kind list is hybrid-<code>).
function standardName(manifest) {
  const builder = manifest.builder;
  if (!builder || !manifest.name.startsWith(`${builder.name}-`)) return null;
  const parts = manifest.name.slice(builder.name.length + 1).split("-");
  const rest = parts.slice(parts[0] === "hybrid" ? 2 : 1);
  return [builder.name, "standard", ...rest].join("-");
}

function renderTop(top) {
  const best = Math.max(top[0]?.score ?? 1, 1e-12);
  $("top-k").replaceChildren(...top.map(({label, score}) => {
    const item = document.createElement("li");
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${Math.max(0, Math.min(1, score / best)) * 100}%`;
    const text = document.createElement("span");
    text.className = "label";
    text.textContent = `${label}  ${score.toPrecision(4)}`;
    item.append(bar, text);
    return item;
  }));
}

async function classifyWith(entry, {rolling = null} = {}) {
  const variant = await variantFor(entry, threads());
  const start = performance.now();
  const {data, resized} = makeInput(state.image, variant.manifest.input);
  const prepMs = performance.now() - start;
  const tensor = variant.tensor(data);
  try {
    if (!variant.warm) await variant.run(tensor); // the first run sets up kernels: not typical
    variant.warm = true;
    const {raw, ms} = await variant.run(tensor);
    const scores = variant.scores(raw);
    const top = topK(scores, variant.labels, TOP_K);
    drawRgb($("model-input"), resized);
    $("input-caption").textContent = `model input ${resized.width}×${resized.height} ${variant.manifest.input.dtype}`;
    renderTop(top);
    let latency = `${ms.toFixed(2)} ms`;
    if (rolling) {
      rolling.push(ms);
      if (rolling.length > ROLLING) rolling.shift();
      latency = `${latencyStats(rolling).median.toFixed(2)} ms (median of the last ${rolling.length})`;
    }
    $("latency").textContent = `${variant.manifest.name}: ${latency} per inference — LiteRT.js run() alone, ` +
      `${variant.numThreads} thread(s); preprocessing ${prepMs.toFixed(1)} ms; compile ${variant.initMs.toFixed(0)} ms`;
    return {name: variant.manifest.name, top, ms, scores, input: data};
  } finally {
    tensor.delete();
  }
}

function classifySelected() {
  const key = $("variant-select").value;
  if (!key || !state.image) return Promise.resolve(null);
  return enqueue(() => classifyWith(entryByKey(key))).catch((e) => setStatus(String(e.message ?? e), true));
}

async function setImage(image, note) {
  state.image = image;
  drawRgb($("photo"), image);
  $("source-note").textContent = `${note} ${image.width}×${image.height} pixels.`;
  return classifySelected();
}

function renderBundles(index) {
  const runnable = runnableEntries();
  $("variant-select").replaceChildren(...runnable.map((e) => new Option(e.manifest.name, e.key)));
  const notes = state.entries.filter((e) => !runnable.includes(e)).map((e) => {
    const p = document.createElement("p");
    p.className = "unsupported";
    p.textContent = e.error ?? unsupportedReason(e.manifest);
    return p;
  });
  if (!runnable.length) {
    const p = document.createElement("p");
    p.className = "unsupported";
    p.textContent = `No bundle in ${index.bundles_dir} can run here: export one, e.g. ` +
      "`mobilekit export mobilenet_v2 --quant fp32`, then reload.";
    notes.unshift(p);
  }
  $("unsupported").replaceChildren(...notes);
}

async function benchmark({warmup = 5, runs = 30, numThreads = threads()} = {}) {
  const rows = [];
  const body = $("bench-table").tBodies[0];
  body.replaceChildren();
  for (const entry of runnableEntries()) {
    setStatus(`Benchmarking ${entry.manifest.name}…`);
    const variant = await variantFor(entry, numThreads);
    const tensor = variant.tensor(makeInput(state.image, variant.manifest.input).data);
    try {
      const samples = await variant.time(tensor, {warmup, runs});
      rows.push({name: entry.manifest.name, manifest: entry.manifest, threads: numThreads, ...latencyStats(samples)});
    } finally {
      tensor.delete();
    }
    const byName = new Map(rows.map((r) => [r.name, r]));
    body.replaceChildren(...rows.map((row) => {
      const base = byName.get(standardName(row.manifest));
      row.speedup = base ? base.median / row.median : null;
      const tr = document.createElement("tr");
      const cells = [row.name, kindOf(row.manifest), row.manifest.quantization,
        (row.manifest.model_bytes / 1e6).toFixed(2), row.threads, row.median.toFixed(2), row.p90.toFixed(2),
        row.speedup ? `${row.speedup.toFixed(2)}×` : "—"];
      tr.replaceChildren(...cells.map((c) => Object.assign(document.createElement("td"), {textContent: c})));
      return tr;
    }));
  }
  setStatus(`Benchmark done: ${warmup} warm-up + ${runs} timed runs per variant.`);
  return rows.map(({manifest, ...row}) => row);
}

async function webcamLoop(video, stream) {
  const rolling = [];
  const streaming = () => state.webcamStream === stream; // stopped, or another source chosen
  while (streaming()) {
    const frame = await decodeVideoFrame(video).catch((e) => { if (streaming()) throw e; });
    if (!streaming()) break;
    state.image = frame;
    drawRgb($("photo"), frame);
    const key = $("variant-select").value;
    if (key) await enqueue(() => classifyWith(entryByKey(key), {rolling}));
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
}

function stopWebcam() {
  state.webcamStream?.getTracks().forEach((t) => t.stop());
  state.webcamStream = null;
  $("webcam-button").textContent = "Start webcam";
}

async function toggleWebcam() {
  if (state.webcamStream) return stopWebcam();
  const video = $("webcam");
  state.webcamStream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}});
  video.srcObject = state.webcamStream;
  await video.play();
  $("webcam-button").textContent = "Stop webcam";
  $("source-note").textContent = "Webcam: classifying every frame.";
  webcamLoop(video, state.webcamStream).catch((e) => setStatus(String(e.message ?? e), true));
}

async function openFile(file) {
  stopWebcam();
  setStatus(`Decoding ${file.name}…`);
  await setImage(await decodeBlob(file), `${file.name}:`);
  setStatus("");
}

function wireUi() {
  const fail = (e) => setStatus(String(e.message ?? e), true);
  $("sample-button").onclick = () => { stopWebcam(); decodeUrl(SAMPLE.url).then((im) => setImage(im, SAMPLE.note)).catch(fail); };
  $("file-input").onchange = (ev) => ev.target.files[0] && openFile(ev.target.files[0]).catch(fail);
  $("webcam-button").onclick = () => toggleWebcam().catch(fail);
  $("variant-select").onchange = classifySelected;
  $("threads-select").onchange = classifySelected;
  const zone = $("drop-zone");
  zone.ondragover = (ev) => { ev.preventDefault(); zone.classList.add("over"); };
  zone.ondragleave = () => zone.classList.remove("over");
  zone.ondrop = (ev) => {
    ev.preventDefault();
    zone.classList.remove("over");
    if (ev.dataTransfer.files[0]) openFile(ev.dataTransfer.files[0]).catch(fail);
  };
  $("bench-button").onclick = () => enqueue(() => benchmark({
    warmup: Number($("warmup-input").value), runs: Number($("runs-input").value),
  })).catch(fail);
}

async function init() {
  wireUi();
  const runtime = await startRuntime();
  const isolation = runtime.threads ? "cross-origin isolated: WASM threads available" :
    "not cross-origin isolated: one thread (serve with `mobilekit web`)";
  $("runtime").textContent = `LiteRT.js ${runtime.version} · WebAssembly on the CPU · ${isolation}`;
  $("threads-select").replaceChildren(...Array.from({length: runtime.maxThreads}, (_, i) => new Option(i + 1, i + 1)));
  const index = await listBundles();
  state.entries = index.bundles;
  renderBundles(index);
  await setImage(await decodeUrl(SAMPLE.url), SAMPLE.note);
  return {runtime: `litert.js ${runtime.version}`, crossOriginIsolated: runtime.threads, maxThreads: runtime.maxThreads};
}

const ready = init();
ready.catch((e) => setStatus(`Could not start: ${e.message ?? e}`, true));

window.mobilekit = {
  ready,
  /** Classify the current image with one bundle; scores and input as base64 of their bytes. */
  async classify(key) {
    await ready;
    const result = await enqueue(() => classifyWith(entryByKey(key)));
    $("variant-select").value = key;
    return {name: result.name, top: result.top, ms: result.ms,
      scores: toBase64(result.scores), input: toBase64(result.input), inputType: result.input.constructor.name};
  },
  async benchmark(options) {
    await ready;
    return enqueue(() => benchmark(options));
  },
  unsupported: () => [...document.querySelectorAll("#unsupported p")].map((p) => p.textContent),
};
