// The native backend (src/ml/kernels/native/, the oneDNN addon in native/): every kernel it replaces
// computes what the cpu backend computes (within 1e-4 relative error) on random shapes; a model
// trains on it as on wasm; training leaks neither tensors, heap buffers nor native memory; and
// without the addon the ladder falls back to wasm with the same results.
// Skipped, with the reason, only when the addon is not built and oneDNN's headers are absent; on a
// machine with libdnnl-dev (CI installs it) a missing addon is a failure.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import seedrandom from 'seedrandom';
import * as tf from '../../src/ml/tf.js';
import { initBackend } from '../../src/ml/backend.js';
import { NATIVE_BATCH_NORM_TRAIN, loadNativeAddon, nativeFallbacks, setNativeBatchNorm, setNativeGemm } from '../../src/ml/kernels/native/index.js';
import { batchNormGeometry, convGeometry } from '../../src/ml/kernels/native/addon.js';
import { buildModel } from '../../src/ml/models.js';
import { train } from '../../src/ml/train.js';
import { evaluate, predictProbs } from '../../src/ml/evaluate.js';
import { bands } from '../fixtures/bands.js';
import { type Input, relError, runOn } from '../fixtures/kernel-check.js';

const addon = loadNativeAddon();
const headers = existsSync('/usr/include/oneapi/dnnl/dnnl.hpp');
const skip = typeof addon === 'string' && !headers ? `${addon}` : false;

const rng = seedrandom('native');
const int = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)];
const randomData = (n: number) => Float32Array.from({ length: n }, () => rng() * 2 - 1);

const make = (shape: number[]): Input => ({ shape, data: randomData(shape.reduce((a, b) => a * b, 1)) });


/** The native kernel (not a wasm fallback) gives the cpu backend's result within 1e-4. */
async function expectSameAsCpu(kernel: string, inputs: Record<string, Input>, attrs: object, label: string) {
  const expected = await runOn('cpu', kernel, inputs, attrs);
  nativeFallbacks.clear();
  const actual = await runOn('native', kernel, inputs, attrs);
  assert.equal(nativeFallbacks.size, 0, `${label}: fell back to wasm (${[...nativeFallbacks.keys()]})`);
  assert.deepEqual(actual.shape, expected.shape, label);
  const err = relError(actual.values, expected.values);
  assert.ok(err <= 1e-4, `${label}: relative error ${err}`);
}

interface ConvCase {
  x: number[];
  filter: number[];
  dy: number[];
  strides: [number, number];
  pad: 'valid' | 'same';
  dilations: [number, number];
  label: string;
}

function randomConv(allowDilation = false): ConvCase {
  for (;;) {
    const b = pick([1, 1, 2, 3]);
    const h = int(3, 15);
    const w = int(3, 15);
    const ci = pick([1, int(1, 7), 16, 33]);
    const co = pick([1, int(1, 9), 32, 17]);
    const kh = int(1, 5);
    const kw = pick([kh, int(1, 5)]);
    const s = pick([1, 2, 3] as const);
    const strides: [number, number] = [s, pick([s, 1, 2])];
    const d = allowDilation && s === 1 && rng() < 0.3 ? 2 : 1;
    const dilations: [number, number] = [d, d];
    const pad = pick(['valid', 'same'] as const);
    if (pad === 'valid' && ((kh - 1) * d + 1 > h || (kw - 1) * d + 1 > w)) continue;
    const info = tf.backend_util.computeConv2DInfo([b, h, w, ci], [kh, kw, ci, co], strides, dilations, pad);
    return { x: [b, h, w, ci], filter: [kh, kw, ci, co], dy: info.outShape, strides, pad, dilations, label: `x=${[b, h, w, ci]} f=${[kh, kw, ci, co]} s=${strides} d=${d} ${pad}` };
  }
}

describe('native backend', { skip }, () => {
  before(async () => {
    assert.equal(typeof addon, 'object', `libdnnl-dev is installed but the addon is not built: ${addon} (run npm run build:native)`);
    const info = await initBackend('native');
    assert.equal(info.name, 'native');
    assert.equal(tf.getBackend(), 'native');
  });

  describe('kernels match the cpu backend', () => {
    test('Conv2D and FusedConv2D (bias, ReLU), strides, dilations, same/valid, batch 1, odd sizes', async () => {
      for (let i = 0; i < 30; i++) {
        const c = randomConv(true);
        const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dilations: c.dilations };
        await expectSameAsCpu(tf.Conv2D, { x: make(c.x), filter: make(c.filter) }, attrs, `Conv2D ${c.label}`);
        const fused = { x: make(c.x), filter: make(c.filter), ...(i % 3 ? { bias: make([c.filter[3]]) } : {}) };
        await expectSameAsCpu(tf.FusedConv2D, fused, { ...attrs, activation: pick(['relu', 'linear']) }, `FusedConv2D ${c.label}`);
      }
    });

    test('Conv2DBackpropInput', async () => {
      for (let i = 0; i < 30; i++) {
        const c = randomConv();
        await expectSameAsCpu(tf.Conv2DBackpropInput, { dy: make(c.dy), filter: make(c.filter) }, { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x }, c.label);
      }
    });

    test('Conv2DBackpropFilter', async () => {
      for (let i = 0; i < 30; i++) {
        const c = randomConv();
        await expectSameAsCpu(tf.Conv2DBackpropFilter, { x: make(c.x), dy: make(c.dy) }, { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter }, c.label);
      }
    });

    for (const gemm of ['onednn', 'openblas'] as const) {
      test(`BatchMatMul and _FusedMatMul (${gemm}): transposes, batches, broadcast batch, bias, ReLU`, async () => {
        setNativeGemm(gemm);
        for (let i = 0; i < 32; i++) {
          const [m, k, n] = [int(1, 70), int(1, 70), int(1, 70)];
          const batch = i % 4 === 0 ? [int(2, 3)] : i % 4 === 1 ? [1] : [];
          const bBatch = i % 8 === 0 ? [] : batch; // a batched a times an unbatched b
          const transposeA = i % 2 === 0;
          const transposeB = i % 3 === 0;
          const a = make([...batch, ...(transposeA ? [k, m] : [m, k])]);
          const b = make([...bBatch, ...(transposeB ? [n, k] : [k, n])]);
          const label = `a=${a.shape} b=${b.shape} tA=${transposeA} tB=${transposeB}`;
          await expectSameAsCpu(tf.BatchMatMul, { a, b }, { transposeA, transposeB }, label);
          if (batch.length === 0) {
            const bias = make([n]);
            await expectSameAsCpu(tf._FusedMatMul, { a, b, bias }, { transposeA, transposeB, activation: pick(['relu', 'linear']) }, `fused ${label}`);
          }
        }
        setNativeGemm('onednn');
      });
    }

    test('MaxPool and MaxPoolGrad, including ties routed to the first maximum', async () => {
      for (let i = 0; i < 40; i++) {
        const shape = [pick([1, 2, 3]), int(2, 13), int(2, 13), pick([1, int(1, 6), 32])];
        const f = int(1, 4);
        const filterSize: [number, number] = [f, pick([f, int(1, 4)])];
        const strides: [number, number] = [int(1, 3), int(1, 3)];
        const pad = pick(['valid', 'same'] as const);
        if (pad === 'valid' && (filterSize[0] > shape[1] || filterSize[1] > shape[2])) continue;
        const x = make(shape);
        if (i % 2 === 0) x.data = x.data.map((v) => Math.round(v)); // windows full of ties
        const attrs = { filterSize, strides, pad };
        const label = `x=${shape} f=${filterSize} s=${strides} ${pad}`;
        await expectSameAsCpu(tf.MaxPool, { x }, attrs, `MaxPool ${label}`);
        const info = tf.backend_util.computePool2DInfo(shape as [number, number, number, number], filterSize, strides, 1, pad);
        const y = await runOn('cpu', tf.MaxPool, { x }, attrs);
        await expectSameAsCpu(tf.MaxPoolGrad, { dy: make(info.outShape), input: x, output: { shape: y.shape, data: y.values } }, attrs, `MaxPoolGrad ${label}`);
      }
    });

    test('element-wise Add, Sub, Multiply, RealDiv (same shape, bias broadcast either side, scalar, one per row) and Relu, Step, Square, Sqrt, Floor', async () => {
      for (const [as, bs] of [
        [[2, 5, 5, 3], [2, 5, 5, 3]],
        [[64, 7, 7, 33], [33]],
        [[5], [3, 4, 5]],
        [[4, 9], [1, 9]],
        [[1, 1, 6], [2, 3, 6]],
        [[3, 7], []],
        [[], [2, 300]],
        [[70000], [70000]],
        [[64, 10], [64, 1]],
        [[64, 1], [64, 10]],
        [[2, 3, 5], [2, 3, 1]],
        [[7000, 20], [7000, 1]],
      ] as Array<[number[], number[]]>) {
        for (const op of [tf.Add, tf.Sub, tf.Multiply, tf.RealDiv]) {
          const a = make(as);
          const b = make(bs);
          if (op === tf.RealDiv) b.data = b.data.map((v) => (Math.abs(v) < 0.1 ? 0.5 : v));
          await expectSameAsCpu(op, { a, b }, {}, `${op} ${as} ${bs}`);
        }
      }
      for (const shape of [[3, 11, 11, 7], [1], [100001]]) {
        const x = make(shape);
        for (const op of [tf.Relu, tf.Step, tf.Square, tf.Floor]) await expectSameAsCpu(op, { x }, op === tf.Step ? { alpha: 0 } : {}, `${op} ${shape}`);
        await expectSameAsCpu(tf.Step, { x }, { alpha: 0.25 }, `Step alpha ${shape}`);
        await expectSameAsCpu(tf.Sqrt, { x: { shape, data: x.data.map(Math.abs) } }, {}, `Sqrt ${shape}`);
      }
    });

    test('Sum over leading axes (bias gradients) and over all axes, keepDims or not', async () => {
      for (const [shape, axis] of [
        [[64, 26, 26, 32], [0, 1, 2]],
        [[64, 10], [0]],
        [[3, 5], [0, 1]],
        [[7], [0]],
        [[2, 3, 4], [1, 0]],
        [[1200, 1000], [0]],
      ] as Array<[number[], number[]]>) {
        for (const keepDims of [false, true]) await expectSameAsCpu(tf.Sum, { x: make(shape) }, { axis, keepDims }, `Sum ${shape} axis ${axis} keepDims ${keepDims}`);
      }
    });

    test('ArgMax over the last axis, ties to the first maximum', async () => {
      for (const shape of [[64, 10], [1, 1], [3, 4, 7], [500, 3]]) {
        const x = make(shape);
        if (shape[0] === 3) x.data = x.data.map((v) => Math.round(v)); // ties
        await expectSameAsCpu(tf.ArgMax, { x }, { axis: shape.length - 1 }, `ArgMax ${shape}`);
      }
    });

    test('Softmax over the last axis (rows of 1 to 1000 classes, large logits)', async () => {
      for (const shape of [[256, 10], [1, 10], [3, 1], [2, 3, 7], [5, 1000], [70000, 2]]) {
        const logits = make(shape);
        if (shape[0] === 2) logits.data = logits.data.map((v) => v * 80); // exp would overflow without the max shift
        await expectSameAsCpu(tf.Softmax, { logits }, { dim: -1 }, `Softmax ${shape}`);
      }
    });

    for (const impl of ['loops', 'onednn'] as const) {
      test(`FusedBatchNorm (${impl}; inference: given statistics, with and without scale and offset)`, async () => {
        setNativeBatchNorm(impl);
        for (let i = 0; i < 24; i++) {
          const c = i === 1 ? 32 : pick([1, int(2, 9), 32, 64, 128]);
          const shape = i === 1 ? [256, 12, 12, 32] : i % 3 === 0 ? [1, 1, int(1, 70), c] : [pick([1, 2, 5]), int(1, 9), int(1, 9), c];
          const variance = make([c]);
          variance.data = variance.data.map((v) => Math.abs(v) + 0.01);
          const inputs = { x: make(shape), mean: make([c]), variance, ...(i % 4 !== 1 ? { scale: make([c]) } : {}), ...(i % 4 !== 2 ? { offset: make([c]) } : {}) };
          await expectSameAsCpu(tf.FusedBatchNorm, inputs, { varianceEpsilon: pick([1e-3, 1e-5]) }, `FusedBatchNorm x=${shape} ${Object.keys(inputs)}`);
        }
      });

      test(`batch norm in training (${impl}; batch statistics) and its gradient match tfjs-layers on cpu, 2-D and 4-D`, async () => {
        setNativeBatchNorm(impl);
        // What tfjs-layers' BatchNormalization computes in training: tf.moments, then batchNorm;
        // on cpu differentiated by autodiff, on native the NativeBatchNormTrain kernel and its gradient.
        const composite = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number) => {
          const { mean, variance } = tf.moments(x, x.shape.slice(0, -1).map((_, k) => k));
          return [tf.batchNorm(x, mean, variance, beta, gamma, eps), mean, variance];
        };
        const kernel = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number) =>
          tf.engine().runKernel(NATIVE_BATCH_NORM_TRAIN, { x, gamma, beta }, { epsilon: eps }) as tf.Tensor[];
        for (let i = 0; i < 20; i++) {
          const c = i === 1 ? 32 : pick([1, int(2, 9), 32, 64, 128]);
          // i = 1: large enough (≥ 2^20 values) for the loops to split rows across threads.
          const shape = i === 1 ? [64, 24, 24, 32] : i % 2 === 0 ? [pick([1, 2, 3, int(4, 70)]), c] : [pick([1, 2, 5]), int(1, 9), int(1, 9), c];
          // Rows to normalize over: with one the variance is 0, with two the gradient w.r.t. x cancels to
          // ~0 (x̂ = ±1), where a relative error means nothing.
          if (shape.slice(0, -1).reduce((a, b) => a * b, 1) < 3) shape[0] = 3;
          const eps = pick([1e-3, 1e-5]);
          const inputs = { x: make(shape), gamma: make([c]), beta: make([c]), w: make(shape) };
          const run = async (backend: string, f: typeof composite) => {
            await tf.setBackend(backend);
            const [x, gamma, beta, w] = [inputs.x, inputs.gamma, inputs.beta, inputs.w].map((v) => tf.tensor(v.data, v.shape));
            // A loss that weighs each output differently, so the gradient is not trivially zero.
            const grads = tf.grads((a, g, b) => tf.sum(tf.mul(f(a, g, b, eps)[0]!, w!)))([x!, gamma!, beta!]);
            const [y, mean, variance] = f(x!, gamma!, beta!, eps);
            const out = [y, mean, variance, ...grads].map((t) => Float32Array.from(t!.dataSync()));
            tf.dispose([x, gamma, beta, w, y, mean, variance, ...grads]);
            return out;
          };
          const expected = await run('cpu', composite);
          nativeFallbacks.clear();
          const actual = await run('native', kernel);
          assert.equal(nativeFallbacks.size, 0, `fell back to wasm (${[...nativeFallbacks.keys()]})`);
          ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'].forEach((what, k) => {
            const err = relError(actual[k]!, expected[k]!);
            assert.ok(err <= 1e-4, `${what} x=${shape} eps=${eps}: relative error ${err}`);
          });
        }
        setNativeBatchNorm('loops');
      });
    }

    test('a BatchNormalization layer in training updates its output and moving averages on native as on cpu', async () => {
      for (const shape of [[16, 5, 5, 8], [64, 128], [3, 2, 2, 1]]) {
        const x = make(shape);
        const c = shape[shape.length - 1]!;
        const weights = [make([c]), make([c]), make([c]), make([c])].map((w, i) => (i === 3 ? { ...w, data: w.data.map((v) => Math.abs(v) + 0.1) } : w));
        const run = async (backend: string) => {
          await tf.setBackend(backend);
          const layer = tf.layers.batchNormalization({ momentum: 0.9 });
          layer.build(shape);
          layer.setWeights(weights.map((w) => tf.tensor(w.data, w.shape)));
          const y = tf.tidy(() => layer.apply(tf.tensor(x.data, x.shape), { training: true }) as tf.Tensor);
          const out = [y, ...layer.getWeights()].map((t) => Float32Array.from(t.dataSync()));
          y.dispose();
          for (const w of layer.weights) w.dispose();
          return out;
        };
        const expected = await run('cpu');
        nativeFallbacks.clear();
        const actual = await run('native');
        assert.equal(nativeFallbacks.size, 0);
        ['y', 'gamma', 'beta', 'moving mean', 'moving variance'].forEach((what, k) => {
          const err = relError(actual[k]!, expected[k]!);
          assert.ok(err <= 1e-4, `${what} x=${shape}: relative error ${err}`);
        });
      }
    });

    test("the models' batch norms run on optimised oneDNN kernels, not its reference loops", () => {
      const a = addon as Exclude<typeof addon, string>;
      for (const shape of [[64, 12, 12, 32], [64, 4, 4, 64], [64, 128], [256, 12, 12, 32], [1, 128]]) {
        for (const op of ['T', 'I'] as const) {
          const impl = a.batchNormImpl(op, batchNormGeometry(shape)!);
          assert.doesNotMatch(impl, /(^|\/)ref/, `${op} ${shape}: ${impl}`);
        }
      }
    });

    test("the models' convolutions run on optimised oneDNN kernels, not its reference loops", () => {
      const a = addon as Exclude<typeof addon, string>;
      // keras-cnn's and strong-cnn's convolutions at batch 64 (and 1, as when serving one image).
      for (const [b, h, c, oc, k] of [[64, 28, 1, 32, 3], [64, 13, 32, 64, 3], [64, 5, 64, 64, 3], [64, 28, 1, 32, 5], [64, 12, 32, 64, 5], [1, 13, 32, 64, 3]]) {
        const info = tf.backend_util.computeConv2DInfo([b, h, h, c], [k, k, c, oc], 1, 1, 'valid');
        for (const op of ['F', 'D', 'W'] as const) {
          const impl = a.convImpl(op, convGeometry(info));
          assert.doesNotMatch(impl, /^ref/, `${op} ${[b, h, h, c]} ${k}×${k}→${oc}: ${impl}`);
        }
      }
    });

    test('what the native kernels do not cover runs the wasm kernel (NCHW-free, int32, PReLU)', async () => {
      const x = make([1, 5, 5, 2]);
      const filter = make([3, 3, 2, 3]);
      nativeFallbacks.clear();
      const expected = await runOn('cpu', tf.FusedConv2D, { x, filter, preluActivationWeights: make([3]) }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, activation: 'prelu' });
      const actual = await runOn('native', tf.FusedConv2D, { x, filter, preluActivationWeights: make([3]) }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, activation: 'prelu' });
      assert.equal(nativeFallbacks.get(tf.FusedConv2D), 1);
      assert.deepEqual(actual.shape, expected.shape);
    });
  });

  describe('training', () => {
    test('simple-cnn trains to the same weights on native as on cpu; strong-cnn to the same accuracy as on wasm', async () => {
      // sgd, and adam (one fused native kernel per variable on this backend, see adam.ts).
      for (const optimizer of [{ type: 'sgd', learningRate: 0.05 }, { type: 'adam', learningRate: 0.01 }] as const) {
        const run = async (backend: string) => {
          await tf.setBackend(backend);
          const m = buildModel('simple-cnn', { numClasses: 4, seed: 3 });
          await train(m, { train: bands(48, 5) }, { epochs: 1, batchSize: 16, optimizer, seed: 2 });
          const w = m.getWeights().map((t) => Float32Array.from(t.dataSync()));
          m.dispose();
          return w;
        };
        const expected = await run('cpu');
        const actual = await run('native');
        expected.forEach((e, i) => {
          const err = relError(actual[i], e);
          assert.ok(err <= 1e-3, `${optimizer.type}: weight ${i}: relative error ${err}`);
        });
      }

      const accuracy = async (backend: string) => {
        await tf.setBackend(backend);
        const m = buildModel('strong-cnn', { numClasses: 4, seed: 7 });
        await train(m, { train: bands(256, 11) }, { epochs: 2, batchSize: 32, optimizer: { type: 'adam', learningRate: 0.002 }, seed: 2 });
        const r = await evaluate(m, bands(200, 12));
        m.dispose();
        return r.accuracy;
      };
      const onWasm = await accuracy('wasm');
      const onNative = await accuracy('native');
      assert.ok(onNative >= 0.9, `native accuracy ${onNative}`);
      assert.ok(Math.abs(onNative - onWasm) <= 0.03, `native ${onNative} vs wasm ${onWasm}`);
    });

    test('training steps leak neither tensors, heap buffers, primitives nor native memory', async () => {
      await tf.setBackend('native');
      const model = buildModel('strong-cnn', { numClasses: 10, seed: 1 });
      const set = bands(64 * 4, 3, 10);
      const opts = { epochs: 1, batchSize: 64, optimizer: { type: 'adam' as const, learningRate: 1e-3 }, seed: 1 };
      await train(model, { train: set }, opts); // warm-up: primitives, optimizer slots, heap growth
      await train(model, { train: set }, opts);
      const tensors = tf.memory().numTensors;
      const buffers = tf.engine().backend.numDataIds();
      const primitives = (addon as Exclude<typeof addon, string>).info().cached;
      const rss = process.memoryUsage.rss();
      for (let i = 0; i < 6; i++) await train(model, { train: set }, opts);
      assert.equal(tf.memory().numTensors, tensors);
      assert.equal(tf.engine().backend.numDataIds(), buffers);
      assert.equal((addon as Exclude<typeof addon, string>).info().cached, primitives, 'no new oneDNN primitives for the same shapes');
      const grown = (process.memoryUsage.rss() - rss) / 2 ** 20;
      assert.ok(grown < 24, `RSS grew by ${grown.toFixed(1)} MiB over 24 steps`);
      model.dispose();
    });
  });

  test('without the addon, auto falls back to wasm with the same predictions, and forcing native says why', async () => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./native-fallback.child.ts', import.meta.url))], {
      env: { ...process.env, MNIST_NATIVE_ADDON: '/nonexistent/mnist_native.node', TFJS_BACKEND: '' },
      encoding: 'utf8',
    });
    assert.equal(res.status, 0, res.stderr);
    const child = JSON.parse(res.stdout.trim().split('\n').pop()!) as { forced: string; backend: string; probs: number[] };
    assert.equal(child.backend, 'wasm');
    assert.match(child.forced, /backend "native" is not available: the native addon is not built .*libdnnl-dev/);
    await tf.setBackend('native');
    const m = buildModel('keras-cnn', { numClasses: 4, seed: 9 });
    const probs = await predictProbs(m, bands(8, 4).images, 8);
    m.dispose();
    assert.ok(relError(probs, child.probs) <= 1e-4, `native vs wasm predictions: ${relError(probs, child.probs)}`);
  });
});
