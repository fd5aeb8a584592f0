// The bundle contract's preprocessing (CONTRACTS.md "Bundle"), ported from mobilekit/deploy/predict.py.
//
// A pure ES module: no DOM, so node runs it in the tests against Python on the same pixels.
// An image here is {width, height, data}: data a Uint8Array of RGB bytes, row-major, already
// decoded with EXIF orientation applied (decode.js does that in the browser).
//
// The resize is Pillow's Image.resize(size, BILINEAR) to the last bit: a triangle filter with
// half-pixel centres whose support widens with the downscale factor, coefficients in 22-bit fixed
// point, a horizontal then a vertical pass with 8-bit rounding between them.

const PRECISION_BITS = 22; // Pillow's 32 - 8 - 2
const ONE = 1 << PRECISION_BITS;

const RANGES = {int8: [-128, 127], uint8: [0, 255]};
// what a LiteRT.js Tensor can hold (its DType); int8 and the rest cannot be fed from JavaScript
const TENSOR_TYPES = {float32: Float32Array, uint8: Uint8Array, int32: Int32Array};

function triangle(x) {
  x = Math.abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Per output index: the first input index, the number of taps and their fixed-point weights.
function coefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1.0);
  const support = 1.0 * filterScale; // the bilinear filter's support is 1
  const invScale = 1.0 / filterScale; // Pillow multiplies by the inverse: keep its rounding
  const taps = [];
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const first = Math.max(Math.trunc(center - support + 0.5), 0);
    const count = Math.min(Math.trunc(center + support + 0.5), inSize) - first;
    const w = new Float64Array(Math.max(count, 0));
    let sum = 0.0;
    for (let x = 0; x < count; x++) {
      w[x] = triangle((x + first - center + 0.5) * invScale);
      sum += w[x];
    }
    const fixed = new Int32Array(w.length);
    for (let x = 0; x < count; x++) {
      const k = sum !== 0.0 ? w[x] / sum : w[x];
      fixed[x] = Math.trunc(k < 0 ? -0.5 + k * ONE : 0.5 + k * ONE);
    }
    taps.push({first, weights: fixed});
  }
  return taps;
}

function clip8(acc) {
  return Math.min(Math.max(Math.floor(acc / ONE), 0), 255);
}

// One pass along x (stride 3 between pixels) or along y (stride 3 * width).
function resample(image, outWidth, outHeight, horizontal) {
  const {width, data} = image;
  const taps = coefficients(horizontal ? width : image.height, horizontal ? outWidth : outHeight);
  const out = new Uint8Array(outWidth * outHeight * 3);
  const step = horizontal ? 3 : 3 * width;
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const {first, weights} = taps[horizontal ? x : y];
      const base = horizontal ? (y * width + first) * 3 : (first * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        let acc = ONE / 2;
        for (let t = 0; t < weights.length; t++) acc += data[base + t * step + c] * weights[t];
        out[(y * outWidth + x) * 3 + c] = clip8(acc);
      }
    }
  }
  return {width: outWidth, height: outHeight, data: out};
}

/**
 * Pillow's image.resize((width, height), Image.BILINEAR) on an RGB image (Pillow 13).
 * Pass order matters to the last bit, since the pass between rounds to 8 bits: Pillow 13 runs the
 * vertical pass first when the height shrinks by more than twice as many pixels as the width
 * does (python-pillow/Pillow#9549); Pillow 12 and older always ran the horizontal pass first.
 */
export function resizeBilinear(image, width, height) {
  const {width: w, height: h} = image;
  const verticalFirst = height < h && h - height > 2 * (w - width);
  let out = image;
  if (verticalFirst) {
    out = resample(out, w, height, false);
    if (width !== w) out = resample(out, width, height, true);
  } else {
    if (width !== w) out = resample(out, width, h, true);
    if (height !== h) out = resample(out, width, height, false);
  }
  return out === image ? {...image, data: image.data.slice()} : out;
}

// Python's round(): half to even.
function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The largest central box with the given aspect ratio (width / height), as predict._center_crop. */
export function centerCrop(image, aspect) {
  const {width: w, height: h} = image;
  const [cw, ch] = w / h > aspect ? [roundHalfEven(h * aspect), h] : [w, roundHalfEven(w / aspect)];
  const left = Math.floor((w - cw) / 2);
  const top = Math.floor((h - ch) / 2);
  const data = new Uint8Array(cw * ch * 3);
  for (let y = 0; y < ch; y++) {
    const from = ((top + y) * w + left) * 3;
    data.set(image.data.subarray(from, from + cw * 3), y * cw * 3);
  }
  return {width: cw, height: ch, data};
}

/** x = (pixel - mean) / std per channel, in float32 arithmetic as numpy does it. */
export function normalize(image, normalization) {
  const mean = normalization.mean.map(Math.fround);
  const std = normalization.std.map(Math.fround);
  const x = new Float32Array(image.data.length);
  for (let i = 0; i < x.length; i++) {
    const c = i % 3;
    x[i] = Math.fround(Math.fround(image.data[i] - mean[c]) / std[c]);
  }
  return x;
}

function roundHalfAwayFromZero(v) {
  return Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
}

/** q = clamp(round_half_away_from_zero(x / scale) + zero_point, dtype min, dtype max). */
export function quantize(x, dtype, quantization) {
  const [lo, hi] = RANGES[dtype];
  const q = new (dtype === "int8" ? Int8Array : Uint8Array)(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = roundHalfAwayFromZero(x[i] / quantization.scale) + quantization.zero_point;
    q[i] = Math.min(Math.max(v, lo), hi);
  }
  return q;
}

/** A model output as float32: scale * (q - zero_point) for a quantized output. */
export function dequantize(y, quantization) {
  if (!quantization) return Float32Array.from(y);
  const scale = Math.fround(quantization.scale);
  return Float32Array.from(y, (v) => Math.fround(scale * Math.fround(v - quantization.zero_point)));
}

/** Why LiteRT.js cannot run this bundle (one sentence), or null when it can. */
export function unsupportedReason(manifest) {
  const problems = [];
  for (const [side, spec] of [["input", manifest.input], ["output", manifest.output]]) {
    if (!(spec.dtype in TENSOR_TYPES)) {
      problems.push(`its ${side} is ${spec.dtype}`);
    }
  }
  if (manifest.output.semantics === "segmentation-logits") problems.push("it is a segmentation model");
  if (!problems.length) return null;
  return `${manifest.name} cannot run here: ${problems.join(" and ")}; LiteRT.js tensors are ` +
    `float32, int32 or uint8 and this page classifies. Export it with ` +
    `\`mobilekit export ... --io float\` (or --io uint8).`;
}

/**
 * The model's input for one decoded image, exactly as the manifest's "input" says:
 * (centre crop) -> bilinear resize to H x W -> normalize -> quantize for an integer input.
 * Returns {data, resized}: the tensor data (Float32Array, Uint8Array or Int8Array) and the
 * resized RGB image (what the page shows).
 */
export function makeInput(image, input) {
  const [, height, width] = input.shape;
  if (input.resize !== "bilinear") throw new Error(`resize ${input.resize} is not known; only bilinear`);
  const cropped = input.crop === "center" ? centerCrop(image, width / height) : image;
  const resized = resizeBilinear(cropped, width, height);
  const x = normalize(resized, input.normalization);
  const data = input.quantization ? quantize(x, input.dtype, input.quantization) : x;
  return {data, resized};
}

/** The k best classes, ties broken by index (as numpy's stable argsort of -scores). */
export function topK(scores, labels, k) {
  const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, k).map((i) => ({index: i, label: labels[i] ?? String(i), score: scores[i]}));
}

/** Median and p90 (numpy's linear interpolation) of latency samples in ms. */
export function latencyStats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p) => {
    const pos = (s.length - 1) * p;
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, s.length - 1);
    return s[lo] + (s[hi] - s[lo]) * (pos - lo);
  };
  return {median: at(0.5), p90: at(0.9), runs: s.length};
}
