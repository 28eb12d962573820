// Batched inference and test-set metrics (accuracy, loss, per-class precision/recall/F1, confusion,
// calibration), and temperature scaling (Guo et al., "On calibration of modern neural networks", 2017).
import { accuracyFromConfusion, argmaxRows, confusionMatrix, perClassFromConfusion } from './metrics.js';
import * as tf from './tf.js';
import type { EvaluationResult } from './results.js';
import type { ImageSet } from './types.js';
import { HEAD_LAYER } from './models.js';
import { forward } from './train.js';

export type { EvaluationResult, PerClassMetrics, ReliabilityBin } from './results.js';

/** What evaluate computes: the published metrics with the calibration fields always present. */
export type Evaluation = EvaluationResult & Required<Pick<EvaluationResult, 'ece' | 'reliability'>>;


export const RELIABILITY_BINS = 10;

function inputDims(model: tf.LayersModel): [number, number, number] {
  const s = model.inputs[0].shape;
  if (s.length !== 4) throw new Error(`expected a model with image input [h,w,c], got ${JSON.stringify(s)}`);
  return [s[1] as number, s[2] as number, s[3] as number];
}

/**
 * Class probabilities for `n` images (row-major n×h×w×c in `images`), `batchSize` at a time so that
 * memory stays bounded whatever n is. Returns n×numClasses values.
 */
export async function predictProbs(
  model: tf.LayersModel,
  images: Float32Array,
  n: number,
  batchSize = 256,
): Promise<Float32Array> {
  const [h, w, c] = inputDims(model);
  const px = h * w * c;
  if (images.length < n * px) throw new Error(`expected ${n * px} input values for ${n} images, got ${images.length}`);
  const k = model.outputs[0].shape[1] as number;
  const out = new Float32Array(n * k);
  for (let start = 0; start < n; start += batchSize) {
    const m = Math.min(batchSize, n - start);
    // slice() copies: the cpu backend would otherwise keep a view on the caller's array.
    const batch = images.slice(start * px, (start + m) * px);
    // predictOnBatch, not predict: predict would cut the batch into sub-batches of 32 (slices, then
    // a concat, and 8× the kernel calls at 256), as serving's run-model.ts also avoids.
    const probs = tf.tidy(() => model.predictOnBatch(tf.tensor4d(batch, [m, h, w, c])) as tf.Tensor);
    out.set(await probs.data(), start * k);
    probs.dispose();
  }
  return out;
}

/** Metrics from class probabilities (count×numClasses) and true labels; no TensorFlow involved. */
export function metricsFromProbs(
  probs: Float32Array,
  labels: Uint8Array,
  count: number,
  numClasses: number,
): Evaluation {
  const k = numClasses;
  let lossSum = 0;
  const predicted = argmaxRows(probs, count, k);
  const cm = confusionMatrix(labels, predicted, k, count); // throws on a label out of range
  const bins = Array.from({ length: RELIABILITY_BINS }, () => ({ n: 0, conf: 0, right: 0 }));
  for (let i = 0; i < count; i++) {
    const label = labels[i]!;
    const top = probs[i * k + predicted[i]!]!;
    const bin = bins[Math.min(RELIABILITY_BINS - 1, Math.max(0, Math.ceil(top * RELIABILITY_BINS) - 1))]!;
    bin.n++;
    bin.conf += top;
    if (predicted[i] === label) bin.right++;
    lossSum -= Math.log(Math.min(Math.max(probs[i * k + label]!, 1e-7), 1 - 1e-7));
  }
  return {
    accuracy: accuracyFromConfusion(cm),
    loss: count ? lossSum / count : 0,
    perClass: perClassFromConfusion(cm),
    confusionMatrix: cm,
    count,
    ece: count ? bins.reduce((e, b) => e + Math.abs(b.right - b.conf), 0) / count : 0,
    reliability: bins.map((b, j) => ({
      lower: j / RELIABILITY_BINS,
      upper: (j + 1) / RELIABILITY_BINS,
      count: b.n,
      confidence: b.n ? b.conf / b.n : null,
      accuracy: b.n ? b.right / b.n : null,
    })),
  };
}

export async function evaluate(
  model: tf.LayersModel,
  set: ImageSet,
  opts: { batchSize?: number } = {},
): Promise<Evaluation> {
  const [h, w, c] = inputDims(model);
  if (set.height !== h || set.width !== w || c !== 1) {
    throw new Error(`images are ${set.height}×${set.width}×1 but the model expects ${h}×${w}×${c}`);
  }
  const probs = await predictProbs(model, set.images, set.count, opts.batchSize ?? 256);
  return metricsFromProbs(probs, set.labels, set.count, model.outputs[0].shape[1] as number);
}

// ---- temperature scaling ----------------------------------------------------------------------

/** Logits (the head's output, before the softmax) for a split, `batchSize` images at a time. */
export async function predictLogits(model: tf.LayersModel, set: ImageSet, batchSize = 256): Promise<Float32Array> {
  const k = model.outputs[0].shape[1] as number;
  const px = set.height * set.width;
  const out = new Float32Array(set.count * k);
  for (let start = 0; start < set.count; start += batchSize) {
    const m = Math.min(batchSize, set.count - start);
    const batch = set.images.slice(start * px, (start + m) * px);
    const logits = tf.tidy(() => {
      const { out: o, kind } = forward(model, tf.tensor4d(batch, [m, set.height, set.width, 1]), false);
      // A model without a separate softmax layer: log-probabilities are logits up to a constant per row.
      return kind === 'logits' ? o : tf.log(tf.clipByValue(o, 1e-30, 1));
    });
    out.set(await logits.data(), start * k);
    logits.dispose();
  }
  return out;
}

/** Mean negative log-likelihood of softmax(logits / t). */
export function temperatureNll(logits: Float32Array, labels: Uint8Array, count: number, k: number, t: number): number {
  let nll = 0;
  for (let i = 0; i < count; i++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[i * k + j]! / t);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(logits[i * k + j]! / t - max);
    nll += Math.log(sum) + max - logits[i * k + labels[i]!]! / t;
  }
  return count ? nll / count : 0;
}

/**
 * The temperature T minimizing the validation NLL of softmax(z / T): a one-dimensional convex-ish
 * problem in log T, solved by golden-section search over T ∈ [0.05, 20] (to ~1e-4 relative).
 */
export function fitTemperature(logits: Float32Array, labels: Uint8Array, count: number, k: number): number {
  if (count === 0) return 1;
  const f = (logT: number) => temperatureNll(logits, labels, count, k, Math.exp(logT));
  const g = (Math.sqrt(5) - 1) / 2;
  let a = Math.log(0.05);
  let b = Math.log(20);
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  while (b - a > 1e-4) {
    if (fc < fd) {
      b = d; d = c; fd = fc; c = b - g * (b - a); fc = f(c);
    } else {
      a = c; c = d; fc = fd; d = a + g * (b - a); fd = f(d);
    }
  }
  return Math.exp((a + b) / 2);
}

/**
 * Divides the head's logits by `t` by scaling its kernel and bias: softmax(z / T) then comes out of
 * the model itself, so every consumer (serving, bulk predict, the ONNX export, a client loading
 * model.json) gets calibrated probabilities without knowing about the temperature.
 */
export function applyTemperature(model: tf.LayersModel, t: number): void {
  if (!(t > 0) || !Number.isFinite(t)) throw new Error(`temperature must be a positive number, got ${t}`);
  const head = model.layers.find((l) => l.name === HEAD_LAYER) ?? [...model.layers].reverse().find((l) => l.getClassName() === 'Dense');
  if (!head) throw new Error('the model has no dense head to scale');
  const scaled = tf.tidy(() => head.getWeights().map((w) => tf.div(w, t)));
  head.setWeights(scaled);
  tf.dispose(scaled);
}

export interface Calibration {
  temperature: number;
  /** Validation ECE and NLL before and after the temperature. */
  valEceBefore: number;
  valEceAfter: number;
  valNllBefore: number;
  valNllAfter: number;
  valCount: number;
}

/** Fits the temperature on `val` and folds it into the head (see applyTemperature). */
export async function calibrate(model: tf.LayersModel, val: ImageSet): Promise<Calibration> {
  const k = model.outputs[0].shape[1] as number;
  const logits = await predictLogits(model, val);
  const temperature = fitTemperature(logits, val.labels, val.count, k);
  const eceAt = (t: number) => {
    const probs = new Float32Array(logits.length);
    for (let i = 0; i < val.count; i++) {
      let max = -Infinity;
      for (let j = 0; j < k; j++) max = Math.max(max, logits[i * k + j]! / t);
      let sum = 0;
      for (let j = 0; j < k; j++) sum += probs[i * k + j] = Math.exp(logits[i * k + j]! / t - max);
      for (let j = 0; j < k; j++) probs[i * k + j]! /= sum;
    }
    return metricsFromProbs(probs, val.labels, val.count, k).ece;
  };
  const result: Calibration = {
    temperature,
    valEceBefore: eceAt(1),
    valEceAfter: eceAt(temperature),
    valNllBefore: temperatureNll(logits, val.labels, val.count, k, 1),
    valNllAfter: temperatureNll(logits, val.labels, val.count, k, temperature),
    valCount: val.count,
  };
  applyTemperature(model, temperature);
  return result;
}
