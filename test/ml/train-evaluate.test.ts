import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/ml/tf.js';
import { initBackend } from '../../src/ml/backend.js';
import { buildModel } from '../../src/ml/models.js';
import { evaluate, metricsFromProbs, predictProbs } from '../../src/ml/evaluate.js';
import { perClassFromConfusion } from '../../src/ml/metrics.js';

before(async () => {
  await initBackend();
});

test('per-class precision, recall and F1 from a confusion matrix', () => {
  // rows = true class, columns = predicted
  const pc = perClassFromConfusion([
    [3, 1, 0],
    [0, 2, 2],
    [0, 0, 0],
  ]);
  assert.deepEqual(pc[0], { class: 0, precision: 1, recall: 0.75, f1: (2 * 0.75) / 1.75, support: 4 });
  assert.equal(pc[1].precision, 2 / 3);
  assert.equal(pc[1].recall, 0.5);
  assert.ok(Math.abs(pc[1].f1 - (2 * (2 / 3) * 0.5) / (2 / 3 + 0.5)) < 1e-12);
  // Class 2 is never true but predicted twice: precision 0, recall 0 (no support), F1 0.
  assert.deepEqual(pc[2], { class: 2, precision: 0, recall: 0, f1: 0, support: 0 });
});

test('metricsFromProbs: accuracy, clipped cross-entropy, confusion matrix', () => {
  const probs = new Float32Array([
    0.7, 0.2, 0.1, // true 0 → 0
    0.1, 0.8, 0.1, // true 1 → 1
    0.6, 0.3, 0.1, // true 2 → 0
    0, 1, 0, // true 0 → 1 with p(0) = 0: clipped at 1e-7
  ]);
  const m = metricsFromProbs(probs, new Uint8Array([0, 1, 2, 0]), 4, 3);
  assert.equal(m.count, 4);
  assert.equal(m.accuracy, 0.5);
  assert.deepEqual(m.confusionMatrix, [[1, 1, 0], [0, 1, 0], [1, 0, 0]]);
  const expected = -(Math.log(Math.fround(0.7)) + Math.log(Math.fround(0.8)) + Math.log(Math.fround(0.1)) + Math.log(1e-7)) / 4;
  assert.ok(Math.abs(m.loss - expected) < 1e-6, `${m.loss} vs ${expected}`);
  assert.throws(() => metricsFromProbs(probs, new Uint8Array([0, 1, 5, 0]), 4, 3), /out of range/);
});

test('predictProbs in batches equals one predict over everything; evaluate agrees with it', async () => {
  const model = buildModel('simple-cnn', { numClasses: 5, seed: 4 });
  const n = 23;
  const images = tf.tidy(() => tf.randomUniform([n, 28, 28, 1], 0, 1, 'float32', 2).dataSync() as Float32Array);
  const labels = new Uint8Array(n).map((_, i) => i % 5);
  const whole = tf.tidy(() => (model.predict(tf.tensor4d(images, [n, 28, 28, 1])) as tf.Tensor).dataSync() as Float32Array);
  const batched = await predictProbs(model, images, n, 7);
  assert.equal(batched.length, n * 5);
  for (let i = 0; i < whole.length; i++) assert.ok(Math.abs(batched[i] - whole[i]) < 1e-6);
  const before = tf.memory().numTensors;
  const ev = await evaluate(model, { images, labels, count: n, height: 28, width: 28 }, { batchSize: 10 });
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  const direct = metricsFromProbs(batched, labels, n, 5);
  assert.equal(ev.accuracy, direct.accuracy);
  assert.deepEqual(ev.confusionMatrix, direct.confusionMatrix);
  assert.equal(ev.confusionMatrix.flat().reduce((a, b) => a + b, 0), n);
  assert.deepEqual(ev.perClass.map((p) => p.support), [5, 5, 5, 4, 4]);
  await assert.rejects(evaluate(model, { images, labels, count: n, height: 14, width: 14 }), /expects 28×28×1/);
  await assert.rejects(predictProbs(model, images.subarray(0, 100), 2), /expected 1568 input values/);
  model.dispose();
});
