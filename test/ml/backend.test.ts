import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import * as tf from '../../src/ml/tf.js';
import { backendName, initBackend, parseBackendRequest, wasmThreadsRequested } from '../../src/ml/backend.js';
import { loadNativeAddon } from '../../src/ml/kernels/native/index.js';

const require = createRequire(import.meta.url);
const installed = (pkg: string) => {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
};

test('parseBackendRequest accepts the documented names and rejects others', () => {
  assert.equal(parseBackendRequest(undefined), 'auto');
  assert.equal(parseBackendRequest(''), 'auto');
  assert.equal(parseBackendRequest('AUTO'), 'auto');
  assert.equal(parseBackendRequest('gpu'), 'tensorflow-gpu');
  assert.equal(parseBackendRequest('tensorflow-gpu'), 'tensorflow-gpu');
  assert.equal(parseBackendRequest('tensorflow'), 'tensorflow');
  assert.equal(parseBackendRequest('wasm'), 'wasm');
  assert.equal(parseBackendRequest('native'), 'native');
  assert.equal(parseBackendRequest('cpu'), 'cpu');
  assert.throws(() => parseBackendRequest('webgl'), /Unknown TFJS_BACKEND "webgl"/);
});

test('TFJS_WASM_THREADS is validated and capped', () => {
  assert.equal(wasmThreadsRequested('1'), 1);
  assert.equal(wasmThreadsRequested('3'), 3);
  assert.equal(wasmThreadsRequested('16'), 4);
  assert.ok(wasmThreadsRequested('auto') >= 1);
  assert.throws(() => wasmThreadsRequested('0'), /positive integer/);
  assert.throws(() => wasmThreadsRequested('two'), /positive integer/);
});

test('cpu can be forced', async () => {
  const info = await initBackend('cpu');
  assert.deepEqual(info, { name: 'cpu', kind: 'cpu' });
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal(backendName(), 'cpu');
});

test('wasm is initialised with SIMD, our training kernels, and is idempotent', async () => {
  const info = await initBackend('wasm');
  assert.equal(info.name, 'wasm');
  assert.equal(info.kind, 'wasm');
  assert.equal(info.simd, true);
  assert.equal(info.threads, wasmThreadsRequested());
  assert.equal(tf.getBackend(), 'wasm');
  assert.ok(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm'), 'Conv2DBackpropFilter registered');
  assert.equal(await initBackend('wasm'), info, 'second call returns the cached result');
  // The kernels work end to end: a conv gradient on wasm.
  const g = tf.tidy(() => tf.grad((w: tf.Tensor) => tf.sum(tf.conv2d(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid')))(tf.ones([3, 3, 1, 1])));
  assert.deepEqual(Array.from(g.dataSync()), Array(9).fill(4));
  g.dispose();
});

for (const [request, pkg] of [
  ['tensorflow', '@tensorflow/tfjs-node'],
  ['gpu', '@tensorflow/tfjs-node-gpu'],
] as const) {
  test(`forcing ${request} fails clearly when ${pkg} is unavailable`, { skip: installed(pkg) && `${pkg} is installed` }, async () => {
    await assert.rejects(initBackend(request), (err: Error) => {
      assert.match(err.message, new RegExp(`Install ${pkg.replace('/', '\\/')}`));
      return true;
    });
  });
}

test('auto falls back to native (the addon built) or else wasm when the tfjs-node packages are absent', { skip: installed('@tensorflow/tfjs-node') && 'tfjs-node is installed' }, async () => {
  const info = await initBackend('auto');
  assert.equal(info.kind, typeof loadNativeAddon() === 'string' ? 'wasm' : 'native');
  assert.equal(backendName(), info.name);
});
