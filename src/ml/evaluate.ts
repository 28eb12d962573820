// Batched inference and test-set metrics (accuracy, loss, per-class precision/recall/F1, confusion).
import { accuracyFromConfusion, argmaxRows, confusionMatrix, perClassFromConfusion } from './metrics.js';
import * as tf from './tf.js';
import type { EvaluationResult } from './results.js';
import type { ImageSet } from './types.js';

export type { EvaluationResult, PerClassMetrics } from './results.js';

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
    const probs = tf.tidy(() => model.predict(tf.tensor4d(batch, [m, h, w, c])) as tf.Tensor);
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
): EvaluationResult {
  const k = numClasses;
  const cm = confusionMatrix(labels, argmaxRows(probs, count, k), k, count); // throws on a label out of range
  let lossSum = 0;
  for (let i = 0; i < count; i++) lossSum -= Math.log(Math.min(Math.max(probs[i * k + labels[i]!]!, 1e-7), 1 - 1e-7));
  return {
    accuracy: accuracyFromConfusion(cm),
    loss: count ? lossSum / count : 0,
    perClass: perClassFromConfusion(cm),
    confusionMatrix: cm,
    count,
  };
}

export async function evaluate(
  model: tf.LayersModel,
  set: ImageSet,
  opts: { batchSize?: number } = {},
): Promise<EvaluationResult> {
  const [h, w, c] = inputDims(model);
  if (set.height !== h || set.width !== w || c !== 1) {
    throw new Error(`images are ${set.height}×${set.width}×1 but the model expects ${h}×${w}×${c}`);
  }
  const probs = await predictProbs(model, set.images, set.count, opts.batchSize ?? 256);
  return metricsFromProbs(probs, set.labels, set.count, model.outputs[0].shape[1] as number);
}
