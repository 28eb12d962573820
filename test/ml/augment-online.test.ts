// Augmentation in the training loop: reproducible from the seed, no flips, labels kept.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import seedrandom from 'seedrandom';
import { initBackend } from '../../src/ml/backend.js';
import { augmentBatch, type OnlineAugment } from '../../src/ml/data/augment.js';
import { buildModel } from '../../src/ml/models.js';
import { train } from '../../src/ml/train.js';
import { evaluate } from '../../src/ml/evaluate.js';
import { mnistImages } from '../fixtures/mnist-images.js';

const P: OnlineAugment = { rotationDeg: 10, shiftPx: 2, scale: [0.9, 1.1], elastic: { alpha: 8, sigma: 4 } };
const digits = mnistImages('t10k', 100);
const augmented = (seed: string, p = P) => {
  const x = digits.images.slice();
  augmentBatch(x, digits.count, 28, 28, p, seedrandom(seed));
  return x;
};
const corr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let ab = 0, aa = 0, bb = 0, ma = 0, mb = 0;
  for (let i = 0; i < a.length; i++) { ma += a[i]!; mb += b[i]!; }
  ma /= a.length; mb /= b.length;
  for (let i = 0; i < a.length; i++) { ab += (a[i]! - ma) * (b[i]! - mb); aa += (a[i]! - ma) ** 2; bb += (b[i]! - mb) ** 2; }
  return ab / Math.sqrt(aa * bb);
};

/** Best correlation of `a` with `b` shifted by up to 3 pixels either way (augmentation shifts by up to 2). */
const shiftedCorr = (a: Float32Array, b: Float32Array) => {
  let best = -1;
  for (let dy = -3; dy <= 3; dy++) {
    for (let dx = -3; dx <= 3; dx++) {
      const s = new Float32Array(784);
      for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) {
        const rr = r - dy, cc = c - dx;
        if (rr >= 0 && rr < 28 && cc >= 0 && cc < 28) s[r * 28 + c] = b[rr * 28 + cc]!;
      }
      best = Math.max(best, corr(a, s));
    }
  }
  return best;
};

before(async () => {
  await initBackend();
});

test('the same seed gives the same augmented batch, another seed another one; zero parameters change nothing', () => {
  assert.deepEqual(augmented('a'), augmented('a'));
  assert.notDeepEqual(augmented('a'), augmented('b'));
  const none = augmented('a', { rotationDeg: 0, shiftPx: 0, scale: [1, 1] });
  for (let i = 0; i < none.length; i++) assert.ok(Math.abs(none[i]! - digits.images[i]!) < 1e-5);
});

test('flip mirrors about half the images left-right and leaves the others as they were', () => {
  const x = augmented('d', { rotationDeg: 0, shiftPx: 0, scale: [1, 1], flip: true });
  let mirrored = 0;
  for (let i = 0; i < digits.count; i++) {
    const orig = digits.images.subarray(i * 784, (i + 1) * 784);
    const aug = x.subarray(i * 784, (i + 1) * 784);
    const same = aug.every((v, j) => Math.abs(v - orig[j]!) < 1e-5);
    const flipped = aug.every((v, j) => Math.abs(v - orig[(j - (j % 28)) + 27 - (j % 28)]!) < 1e-5);
    assert.ok(same || flipped, `image ${i} is neither the original nor its mirror`);
    if (flipped && !same) mirrored++;
  }
  assert.ok(mirrored > 30 && mirrored < 70, `${mirrored} of ${digits.count} mirrored`);
});

test('augmented digits stay close to the original, never mirrored, and keep their ink', () => {
  const x = augmented('c');
  // Rotation and scaling only, so that plain pixel correlation can tell a mirror image.
  const turned = augmented('c', { rotationDeg: 10, shiftPx: 0, scale: [0.9, 1.1] });
  for (let i = 0; i < digits.count; i++) {
    const orig = digits.images.subarray(i * 784, (i + 1) * 784);
    const aug = x.subarray(i * 784, (i + 1) * 784);
    assert.ok(shiftedCorr(aug, orig) > 0.45, `digit ${i}: correlation ${shiftedCorr(aug, orig)}`);
    const t = turned.subarray(i * 784, (i + 1) * 784);
    const mirror = new Float32Array(784);
    for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) mirror[r * 28 + c] = orig[r * 28 + 27 - c]!;
    // A mirrored '7' is no digit: a turned digit is nearer the original than the original's mirror is.
    assert.ok(corr(t, orig) > corr(t, mirror) || corr(orig, mirror) > 0.8, `digit ${i}`);
    const ink = (a: Float32Array) => a.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(ink(aug) / ink(orig) - 1) < 0.35, `digit ${i} ink ${ink(aug)} vs ${ink(orig)}`);
    assert.ok(aug.every((v) => v >= -1e-6 && v <= 1 + 1e-6));
  }
});

test('training with augmentation and label smoothing replays from its seed and still learns the labels', async () => {
  const set = mnistImages('train', 2000);
  const run = async () => {
    const model = buildModel('mlp', { numClasses: 10, seed: 1 });
    const r = await train(model, { train: set }, { epochs: 2, batchSize: 32, optimizer: { type: 'adam', learningRate: 0.002 }, seed: 7, augment: P, labelSmoothing: 0.1 });
    const ev = await evaluate(model, mnistImages('t10k', 1000));
    model.dispose();
    return { losses: r.history.map((m) => m.loss), accuracy: ev.accuracy };
  };
  const a = await run();
  const b = await run();
  assert.deepEqual(a.losses, b.losses);
  assert.ok(a.accuracy > 0.8, `clean test accuracy ${a.accuracy} after augmented training`);
});
