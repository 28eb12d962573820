// Classification arithmetic on plain arrays, written once for training, evaluation, the bulk predict
// job and the predict service: the predicted class of a row of probabilities, the confusion matrix,
// accuracy and per-class precision/recall/F1. No TensorFlow, so the API process can load it.
import type { PerClassMetrics } from './results.js';

/** Index of the largest value; on a tie the lowest index wins (as tf.argMax and numpy.argmax). */
export function argmax(values: ArrayLike<number>): number {
  if (values.length === 0) throw new RangeError('argmax of an empty array');
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** The argmax of each row of a rows×numClasses row-major matrix. */
export function argmaxRows(probs: Float32Array, rows: number, numClasses: number): Uint32Array {
  if (probs.length < rows * numClasses) throw new RangeError(`expected ${rows * numClasses} values for ${rows} rows, got ${probs.length}`);
  const out = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) out[i] = argmax(probs.subarray(i * numClasses, (i + 1) * numClasses));
  return out;
}

/** confusionMatrix[true][predicted] counts of the first `count` (default all) label/prediction pairs. */
export function confusionMatrix(labels: ArrayLike<number>, predicted: ArrayLike<number>, numClasses: number, count = labels.length): number[][] {
  if (predicted.length < count || labels.length < count) throw new RangeError(`expected ${count} labels and predictions`);
  const cm = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < count; i++) {
    const label = labels[i]!;
    const p = predicted[i]!;
    if (!(label >= 0 && label < numClasses)) throw new RangeError(`label ${label} at ${i} is out of range for ${numClasses} classes`);
    if (!(p >= 0 && p < numClasses)) throw new RangeError(`prediction ${p} at ${i} is out of range for ${numClasses} classes`);
    cm[label]![p]!++;
  }
  return cm;
}

/** The share of counts on the diagonal; 0 for an empty matrix. */
export function accuracyFromConfusion(cm: number[][]): number {
  let total = 0;
  let correct = 0;
  cm.forEach((row, t) => {
    for (const c of row) total += c;
    correct += row[t] ?? 0;
  });
  return total > 0 ? correct / total : 0;
}

/** Per-class precision/recall/F1 from a confusion matrix; 0 where a denominator is 0 (as sklearn). */
export function perClassFromConfusion(cm: number[][]): PerClassMetrics[] {
  const k = cm.length;
  return cm.map((row, cls) => {
    const tp = row[cls]!;
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let t = 0; t < k; t++) predicted += cm[t]![cls]!;
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { class: cls, precision, recall, f1, support };
  });
}
