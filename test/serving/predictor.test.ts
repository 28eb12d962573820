import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/ml/tf.ts';
import type { Normalization } from '../../src/ml/types.ts';
import { createPredictor, type LoadedModel } from '../../src/serving/predictor.ts';
import { normalizePixels } from '../../src/ml/data/normalize.ts';

const ZERO_ONE: Normalization = { kind: 'zero-one', mean: 0.13, std: 0.31 };

/** Deterministic pseudo-random values so models and inputs are the same on every run. */
function seeded(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648) * scale;
  }
  return out;
}

/** A dense softmax classifier over flat input, with fixed weights. */
function denseModel(classes = 3, inputShape: number[] = [784]): tf.LayersModel {
  const size = inputShape.reduce((a, b) => a * b, 1);
  const m = tf.sequential({
    layers: [
      ...(inputShape.length > 1 ? [tf.layers.flatten({ inputShape })] : []),
      tf.layers.dense({ units: classes, activation: 'softmax', ...(inputShape.length > 1 ? {} : { inputShape }) }),
    ],
  });
  const weights = [tf.tensor2d(seeded(size * classes, 7, 0.2).map((v) => v - 0.1), [size, classes]), tf.zeros([classes])];
  m.setWeights(weights);
  tf.dispose(weights);
  return m;
}

/** A small conv net over 28×28×1 input. */
function convModel(): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 2, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  return m;
}

/** What the model says when called directly (the reference the predictor must match). */
function direct(model: tf.LayersModel, pixels: Float32Array, n: number, norm: Normalization): Float32Array {
  const shape = model.inputs[0].shape.slice(1) as number[];
  return tf.tidy(() => (model.predict(tf.tensor(normalizePixels(pixels, norm), [n, ...shape])) as tf.Tensor).dataSync() as Float32Array);
}

function assertClose(actual: Float32Array, expected: Float32Array, tol = 1e-5) {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `at ${i}: ${actual[i]} vs ${expected[i]}`);
}

describe('normalizePixels', () => {
  it('maps [0,1] pixels per kind, into a new array or in place', () => {
    const p = Float32Array.of(0, 0.5, 1);
    assert.deepEqual([...normalizePixels(p, ZERO_ONE)], [0, 0.5, 1]);
    assert.deepEqual([...normalizePixels(p, { kind: 'minus-one-one', mean: 0, std: 1 })], [-1, 0, 1]);
    const st = normalizePixels(p, { kind: 'standardize', mean: 0.5, std: 0.25 });
    assert.deepEqual([...st], [-2, 0, 2]);
    assert.deepEqual([...p], [0, 0.5, 1], 'input untouched');
    assert.equal(normalizePixels(p, { kind: 'minus-one-one', mean: 0, std: 1 }, p), p);
    assert.deepEqual([...p], [-1, 0, 1]);
    assert.throws(() => normalizePixels(p, { kind: 'standardize', mean: 0.1, std: 0 }), /std > 0/);
  });
});

describe('createPredictor', () => {
  for (const inferenceThreads of [2, 0]) {
    it(`matches the model called directly, for every normalization kind (${inferenceThreads ? `${inferenceThreads} inference threads` : 'on the calling thread'})`, async () => {
      const norms: Normalization[] = [ZERO_ONE, { kind: 'minus-one-one', mean: 0, std: 1 }, { kind: 'standardize', mean: 0.13, std: 0.31 }];
      const models = norms.map(() => denseModel());
      const predictor = createPredictor({
        loadModel: async (id) => ({ model: models[Number(id)], normalization: norms[Number(id)] }),
        inferenceThreads,
      });
      const pixels = seeded(3 * 784, 42);
      for (let k = 0; k < norms.length; k++) {
        const { probabilities, numClasses } = await predictor.predict(String(k), pixels, 3);
        assert.equal(numClasses, 3);
        assertClose(probabilities, direct(models[k], pixels, 3, norms[k]));
      }
      // The kinds really differ, so the comparison above would notice a skipped normalization.
      assert.notDeepEqual([...direct(models[0], pixels, 3, norms[0])], [...direct(models[0], pixels, 3, norms[1])]);
      await predictor.close();
    });
  }

  it('batches concurrent requests into few model calls, loads once, leaks no tensors', async () => {
    const model = convModel();
    let loads = 0;
    const predictor = createPredictor({
      loadModel: async () => {
        loads++;
        return { model, normalization: ZERO_ONE, inputShape: [28, 28, 1] };
      },
      maxBatch: 16,
      windowMs: 2,
    });
    const inputs = Array.from({ length: 40 }, (_, i) => seeded(784, i + 1));
    await predictor.predict('m', inputs[0], 1); // load + warm up before counting tensors
    const tensorsBefore = tf.memory().numTensors;

    const results = await Promise.all(inputs.map((x) => predictor.predict('m', x, 1)));
    assert.equal(loads, 1);
    results.forEach((r, i) => {
      assert.equal(r.numClasses, 10);
      assertClose(r.probabilities, direct(model, inputs[i], 1, ZERO_ONE));
    });
    const stats = predictor.stats().m;
    assert.equal(stats.rows, 41);
    assert.ok(stats.batches <= 5, `${stats.batches} model calls for 41 rows`);
    assert.equal(tf.memory().numTensors, tensorsBefore);
    await predictor.close();
  });

  it('takes the input shape from the model, and rejects models that do not take 784 pixels', async () => {
    const conv = convModel();
    const wrong = denseModel(3, [100]);
    const predictor = createPredictor({
      loadModel: async (id) => ({ model: id === 'conv' ? conv : wrong, normalization: ZERO_ONE }),
      windowMs: 0,
    });
    const x = seeded(2 * 784, 3);
    assertClose((await predictor.predict('conv', x, 2)).probabilities, direct(conv, x, 2, ZERO_ONE));
    await assert.rejects(predictor.predict('wrong', x, 2), /does not hold 784 pixels/);
    await assert.rejects(predictor.predict('conv', x, 3), RangeError);
    await predictor.close();
  });

  it('evicts and disposes models beyond cacheSize, reloading them on demand', async () => {
    const made: tf.LayersModel[] = [];
    const predictor = createPredictor({
      loadModel: async () => {
        const model = denseModel();
        made.push(model);
        return { model, normalization: ZERO_ONE };
      },
      cacheSize: 1,
      windowMs: 0,
    });
    const baseline = tf.memory().numTensors;
    const x = seeded(784, 5);
    const a = await predictor.predict('a', x, 1);
    const b = await predictor.predict('b', x, 1); // evicts a
    const a2 = await predictor.predict('a', x, 1); // loads a again, evicts b
    assert.equal(made.length, 3);
    assertClose(a2.probabilities, direct(made[2], x, 1, ZERO_ONE));
    assert.equal(a.numClasses, 3);
    assert.equal(b.numClasses, 3);
    // Evicted models lose their weights; the cached one keeps them.
    await new Promise<void>((r) => setImmediate(r));
    assert.throws(() => made[0].getWeights(), /disposed/);
    assert.throws(() => made[1].getWeights(), /disposed/);
    assert.equal(made[2].getWeights()[0].isDisposed, false);
    await predictor.close();
    assert.throws(() => made[2].getWeights(), /disposed/);
    assert.ok(tf.memory().numTensors <= baseline, `${tf.memory().numTensors} tensors left, ${baseline} before`);
    await assert.rejects(predictor.predict('a', x, 1), /closed/);
  });

  it('propagates a failing model to the callers of its batch', async () => {
    const model = denseModel();
    const loaded: LoadedModel = { model, normalization: ZERO_ONE };
    const predictor = createPredictor({ loadModel: async () => loaded, windowMs: 0, warmUp: false });
    model.dispose(); // weights gone: every prediction must fail, not hang
    const results = await Promise.allSettled([predictor.predict('m', seeded(784, 1), 1), predictor.predict('m', seeded(784, 2), 1)]);
    assert.ok(results.every((r) => r.status === 'rejected'));
    await predictor.close();
  });
});
