// Evaluation on a labelled split: accuracy, loss, per-class precision / recall / F1 and the
// confusion matrix (rows = true class, columns = predicted class).
import * as tf from './tf.js';
import type { ImageSet } from './types.js';

export interface PerClassMetric {
  class: number;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}
export interface Evaluation {
  accuracy: number;
  loss: number;
  count: number;
  perClass: PerClassMetric[];
  confusionMatrix: number[][];
}

/** Class probabilities for `n` images (n × pixels, row-major), batch by batch; n × numClasses. */
export async function predictProbs(model: tf.LayersModel, images: Float32Array, n: number, batchSize = 256): Promise<Float32Array> {
  const inShape = model.inputs[0]!.shape.slice(1) as number[];
  const px = inShape.reduce((a, b) => a * b, 1);
  const k = model.outputs[0]!.shape[1] as number;
  const out = new Float32Array(n * k);
  for (let start = 0; start < n; start += batchSize) {
    const m = Math.min(batchSize, n - start);
    const y = tf.tidy(() => model.predict(tf.tensor(images.subarray(start * px, (start + m) * px), [m, ...inShape])) as tf.Tensor);
    out.set(await y.data(), start * k);
    y.dispose();
  }
  return out;
}

/** Metrics from class probabilities and true labels (no TensorFlow needed). */
export function metricsFromProbs(probs: Float32Array, labels: Uint8Array, count: number, numClasses: number): Evaluation {
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  let lossSum = 0;
  let correct = 0;
  for (let i = 0; i < count; i++) {
    const row = probs.subarray(i * numClasses, (i + 1) * numClasses);
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (row[c]! > row[best]!) best = c;
    const label = labels[i]!;
    confusion[label]![best]!++;
    if (best === label) correct++;
    lossSum -= Math.log(Math.min(1 - 1e-7, Math.max(1e-7, row[label]!))); // clipped as Keras does
  }
  const perClass = confusion.map((row, c) => {
    const tp = row[c]!;
    const support = row.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, r) => a + r[c]!, 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { class: c, precision, recall, f1, support };
  });
  return { accuracy: count ? correct / count : 0, loss: count ? lossSum / count : 0, count, perClass, confusionMatrix: confusion };
}

export async function evaluate(model: tf.LayersModel, set: ImageSet, { batchSize = 256 } = {}): Promise<Evaluation> {
  const probs = await predictProbs(model, set.images, set.count, batchSize);
  return metricsFromProbs(probs, set.labels, set.count, model.outputs[0]!.shape[1] as number);
}
