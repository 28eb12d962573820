import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '../../src/ml/tf.js';
import { initBackend } from '../../src/ml/backend.js';
import { ARCHITECTURES, buildModel } from '../../src/ml/models.js';
import {
  disposeCheckpointTensors, fileSystemHandler, loadCheckpoint, loadModel, saveCheckpoint, saveModel,
} from '../../src/ml/model-io.js';
import { createOptimizer } from '../../src/ml/optim.js';

let root: string;
before(async () => {
  await initBackend();
  root = await mkdtemp(path.join(os.tmpdir(), 'model-io-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const input = () => tf.randomUniform([5, 28, 28, 1], 0, 1, 'float32', 123);

/** Gives batch-norm layers non-trivial moving statistics so that saving them is really tested. */
function perturb(model: tf.LayersModel) {
  tf.tidy(() => {
    model.setWeights(model.getWeights().map((w, i) => tf.add(w, tf.randomUniform(w.shape, 0, 0.1, 'float32', i))));
  });
}

for (const arch of ARCHITECTURES) {
  test(`${arch}: a saved model loads back and predicts bit-identically`, async () => {
    const model = buildModel(arch, { numClasses: 10, seed: 5 });
    perturb(model);
    const dir = path.join(root, arch);
    await saveModel(model, dir);
    assert.deepEqual((await readdir(dir)).sort(), ['model.json', 'weights.bin']);
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
    const loaded = await loadModel(dir);
    const x = input();
    const a = (model.predict(x) as tf.Tensor).dataSync();
    const b = (loaded.predict(x) as tf.Tensor).dataSync();
    assert.deepEqual(b, a);
    assert.deepEqual(loaded.layers.map((l) => l.name), model.layers.map((l) => l.name));
    tf.dispose([x]);
    model.dispose();
    loaded.dispose();
  });
}

test('saving over an existing model replaces it and leaves no temporary folders', async () => {
  const dir = path.join(root, 'replace');
  const a = buildModel('mlp', { numClasses: 10, seed: 1 });
  const b = buildModel('mlp', { numClasses: 10, seed: 2 });
  await saveModel(a, dir);
  await saveModel(b, dir);
  assert.deepEqual((await readdir(root)).filter((n) => n.startsWith('replace')), ['replace']);
  const loaded = await loadModel(dir);
  assert.deepEqual(loaded.getWeights()[0].dataSync(), b.getWeights()[0].dataSync());
  a.dispose(); b.dispose(); loaded.dispose();
});

test('a swap interrupted between its two renames is recovered from the .old folder', async () => {
  const dir = path.join(root, 'crash');
  const m = buildModel('mlp', { numClasses: 10, seed: 3 });
  await saveModel(m, dir);
  await rename(dir, `${dir}.old-1234-abcd`); // as if the process died right after the first rename
  const loaded = await loadModel(dir);
  assert.deepEqual(loaded.getWeights()[0].dataSync(), m.getWeights()[0].dataSync());
  // The next successful save clears the leftover.
  await saveModel(m, dir);
  assert.deepEqual((await readdir(root)).filter((n) => n.startsWith('crash')), ['crash']);
  m.dispose(); loaded.dispose();
});

test('loading a missing model fails with ENOENT', async () => {
  await assert.rejects(loadModel(path.join(root, 'nothing-here')), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
});

test('the IOHandler also works with tf.loadLayersModel / model.save directly, on the cpu backend too', async () => {
  const previous = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    const m = buildModel('simple-cnn', { numClasses: 4, seed: 8 });
    const dir = path.join(root, 'handler');
    const result = await m.save(fileSystemHandler(dir));
    assert.ok(result.modelArtifactsInfo.weightDataBytes! > 0);
    assert.equal((await stat(path.join(dir, 'weights.bin'))).size, result.modelArtifactsInfo.weightDataBytes);
    const loaded = await tf.loadLayersModel(fileSystemHandler(dir));
    const x = input();
    assert.deepEqual((loaded.predict(x) as tf.Tensor).dataSync(), (m.predict(x) as tf.Tensor).dataSync());
    tf.dispose(x);
    m.dispose(); loaded.dispose();
  } finally {
    await tf.setBackend(previous);
  }
});

test('checkpoints round-trip weights, optimizer state, best weights and loop state', async () => {
  const model = buildModel('mlp', { numClasses: 4, seed: 9 });
  const optimizer = createOptimizer({ type: 'adam', learningRate: 0.01 });
  // Two steps so Adam has moments and an iteration count.
  const x = tf.randomUniform([8, 28, 28, 1], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32'), 4);
  for (let i = 0; i < 2; i++) {
    optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar);
  }
  const bestWeights = model.getWeights().map((w) => tf.mul(w, 2));
  const dir = path.join(root, 'ckpt');
  const before = tf.memory().numTensors;
  await saveCheckpoint(dir, {
    model, optimizer,
    state: { epoch: 4, bestValLoss: 0.25, bestEpoch: 3, epochsWithoutImprovement: 1, bestWeights },
  });
  assert.equal(tf.memory().numTensors, before, 'saving leaks no tensors');

  const cp = await loadCheckpoint(dir);
  assert.deepEqual(
    { epoch: cp.state.epoch, bestValLoss: cp.state.bestValLoss, bestEpoch: cp.state.bestEpoch, epochsWithoutImprovement: cp.state.epochsWithoutImprovement },
    { epoch: 4, bestValLoss: 0.25, bestEpoch: 3, epochsWithoutImprovement: 1 },
  );
  assert.deepEqual(cp.model.getWeights().map((w) => Array.from(w.dataSync())), model.getWeights().map((w) => Array.from(w.dataSync())));
  assert.deepEqual(cp.state.bestWeights!.map((w) => Array.from(w.dataSync())), bestWeights.map((w) => Array.from(w.dataSync())));
  const original = await optimizer.getWeights();
  assert.equal(cp.optimizerWeights.length, original.length);
  assert.equal(cp.optimizerWeights[0].name, 'iter');
  assert.equal(cp.optimizerWeights[0].tensor.dataSync()[0], 2);
  cp.optimizerWeights.forEach((w, i) => {
    assert.equal(w.name, original[i].name);
    assert.deepEqual(w.tensor.dataSync(), original[i].tensor.dataSync());
  });
  // The checkpoint folder is also a plain model folder.
  const asModel = await loadModel(dir);
  assert.deepEqual(asModel.getWeights()[0].dataSync(), model.getWeights()[0].dataSync());

  // The brief's positional form, without optimizer: no optimizer weights come back.
  await saveCheckpoint(model, null, dir, { epoch: 5, bestValLoss: null, bestEpoch: null, epochsWithoutImprovement: 0 });
  const cp2 = await loadCheckpoint(dir);
  assert.equal(cp2.state.epoch, 5);
  assert.deepEqual(cp2.optimizerWeights, []);
  assert.equal(cp2.state.bestWeights, undefined);

  tf.dispose([x, y, ...bestWeights, original[0].tensor]);
  disposeCheckpointTensors(cp);
  for (const m of [model, cp.model, asModel, cp2.model]) m.dispose();
  optimizer.dispose();
});

test('loading a missing checkpoint fails with ENOENT', async () => {
  await assert.rejects(loadCheckpoint(path.join(root, 'no-ckpt')), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
});
