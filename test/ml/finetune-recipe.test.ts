// Fine-tuning knobs of the training loop: discriminative learning rates and frozen batch-norm statistics.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import type * as tf from '../../src/ml/tf.js';
import { initBackend } from '../../src/ml/backend.js';
import { buildModel } from '../../src/ml/models.js';
import { train } from '../../src/ml/train.js';
import type { ImageSet } from '../../src/ml/types.js';

const set: ImageSet = (() => {
  const n = 64;
  const images = new Float32Array(n * 784);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 10;
    for (let p = 0; p < 784; p++) images[i * 784 + p] = ((p * (i + 3)) % 17) / 17;
  }
  return { images, labels, count: n, height: 28, width: 28 };
})();

before(async () => {
  await initBackend();
});

const snapshot = (m: tf.LayersModel) => new Map(m.weights.map((w) => [w.originalName, Float32Array.from(w.read().dataSync())]));
const moved = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => Math.max(s, Math.abs(v - b[i]!)), 0);

test('a learning-rate multiplier of 0.1 moves those weights a tenth as far with Adam (one step)', async () => {
  const model = buildModel('mlp', { numClasses: 10, seed: 1 });
  const before = snapshot(model);
  await train(model, { train: set }, {
    epochs: 1, batchSize: 64, optimizer: { type: 'adam', learningRate: 0.01 }, seed: 1,
    learningRateMultiplier: (w) => (w.originalName.startsWith('head/') ? 1 : 0.1),
  });
  const after = snapshot(model);
  // Adam's first step is ±lr for every weight with a non-zero gradient.
  assert.ok(Math.abs(moved(before.get('head/bias')!, after.get('head/bias')!) - 0.01) < 1e-4);
  assert.ok(Math.abs(moved(before.get('dense1/bias')!, after.get('dense1/bias')!) - 0.001) < 1e-4);
  model.dispose();
});

test('batchNormStats frozen keeps the moving statistics; the default recomputes them', async () => {
  for (const mode of ['frozen', 'trainable'] as const) {
    const model = buildModel('strong-cnn', { numClasses: 10, seed: 1 });
    const before = snapshot(model);
    await train(model, { train: set }, { epochs: 1, batchSize: 32, optimizer: { type: 'adam', learningRate: 0.001 }, seed: 1, batchNormStats: mode });
    const after = snapshot(model);
    const d = moved(before.get('bn1/moving_mean')!, after.get('bn1/moving_mean')!) + moved(before.get('bn1/moving_variance')!, after.get('bn1/moving_variance')!);
    if (mode === 'frozen') assert.equal(d, 0);
    else assert.ok(d > 0);
    assert.ok(moved(before.get('bn1/gamma')!, after.get('bn1/gamma')!) > 0, 'gamma still trains');
    model.dispose();
  }
});
