import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/ml/tf.js';
import { initBackend } from '../../src/ml/backend.js';
import { buildModel } from '../../src/ml/models.js';
import { train } from '../../src/ml/train.js';
import {
  FineTuneError, checkInputShape, l2spRegularizer, prepareFineTune, setTrainable, weightDistance,
} from '../../src/ml/finetune.js';
import { bands } from '../fixtures/bands.js';

before(async () => {
  await initBackend();
});


const byName = (m: tf.LayersModel) =>
  new Map(m.layers.flatMap((l) => l.weights.map((w, i) => [w.originalName, Array.from(l.getWeights()[i].dataSync())] as const)));

/** Moves every weight (and batch-norm statistic) away from its initial value. */
function perturb(model: tf.LayersModel) {
  tf.tidy(() => model.setWeights(model.getWeights().map((w, i) => tf.add(w, tf.randomUniform(w.shape, 0, 0.1, 'float32', i)))));
}

test('errors carry stable codes', async () => {
  const base = buildModel('mlp', { numClasses: 4, seed: 1 });
  const code = (c: string) => (err: unknown) => err instanceof FineTuneError && err.code === c;
  await assert.rejects(prepareFineTune(base, { freeze: 'none', replaceHead: false, numClasses: 3 }), code('HEAD_INCOMPATIBLE'));
  // mlp has 3 layers with weights (dense1, dense2, head): at most 2 can be frozen.
  await assert.rejects(prepareFineTune(base, { freeze: 3, replaceHead: true, numClasses: 3 }), code('FREEZE_TOO_MANY'));
  await assert.rejects(prepareFineTune(base, { freeze: 99, replaceHead: false, numClasses: 4 }), code('FREEZE_TOO_MANY'));
  await assert.rejects(prepareFineTune(base, { freeze: -1, replaceHead: false, numClasses: 4 }), code('FREEZE_TOO_MANY'));
  assert.throws(() => checkInputShape(base, [32, 32, 1]), code('INPUT_SHAPE_MISMATCH'));
  assert.doesNotThrow(() => checkInputShape(base, [28, 28, 1]));
  const ok = await prepareFineTune(base, { freeze: 2, replaceHead: false, numClasses: 4 });
  assert.deepEqual(ok.frozenLayers, ['dense1', 'dense2']);
  ok.model.dispose();
  base.dispose();
});

test('freeze counts only layers with weights; the base model is left untouched', async () => {
  const base = buildModel('strong-cnn', { numClasses: 10, seed: 2 });
  const before = byName(base);
  const p1 = await prepareFineTune(base, { freeze: 3, replaceHead: false, numClasses: 10 });
  assert.deepEqual(p1.frozenLayers, ['conv1', 'bn1', 'conv2'], 'pool/activation layers are skipped');
  const all = await prepareFineTune(base, { freeze: 'all-but-head', replaceHead: true, numClasses: 3, seed: 1 });
  assert.deepEqual(all.frozenLayers, ['conv1', 'bn1', 'conv2', 'bn2', 'dense1', 'bn3']);
  assert.equal(all.headReplaced, true);
  assert.deepEqual(all.newLayers, ['head']);
  assert.deepEqual(all.model.outputs[0].shape, [null, 3]);
  const none = await prepareFineTune(base, { freeze: 'none', replaceHead: false, numClasses: 10 });
  assert.deepEqual(none.frozenLayers, []);
  assert.ok(base.layers.every((l) => l.trainable), 'base layers stay trainable');
  assert.deepEqual(byName(base), before);
  // The copy starts with the base's weights but shares no variable with it.
  const baseVars = new Set(base.weights.map((w) => w.read().id));
  assert.ok(none.model.weights.every((w) => !baseVars.has(w.read().id)));
  assert.deepEqual(byName(none.model), before);
  for (const p of [p1, all, none]) p.model.dispose();
  base.dispose();
});

test('all-but-head with a new head: frozen layers (batch-norm statistics too) stay bit-identical, the head learns', async () => {
  const base = buildModel('strong-cnn', { numClasses: 10, seed: 3 });
  perturb(base);
  const baseWeights = byName(base);
  const prepared = await prepareFineTune(base, { freeze: 'all-but-head', replaceHead: true, numClasses: 3, seed: 4 });
  const headBefore = byName(prepared.model);
  const r = await train(prepared.model, { train: bands(48, 5, 3) }, { epochs: 2, batchSize: 16, optimizer: { type: 'adam', learningRate: 0.01 }, seed: 1 });
  assert.equal(r.epochsRun, 2);
  const tuned = byName(prepared.model);
  for (const [name, values] of tuned) {
    if (name.startsWith('head/')) {
      assert.notDeepEqual(values, headBefore.get(name), `${name} changed`);
    } else {
      assert.deepEqual(values, baseWeights.get(name), `${name} is frozen`);
    }
  }
  assert.ok([...tuned.keys()].some((n) => n === 'bn1/moving_mean'), 'moving statistics were compared');
  assert.deepEqual(byName(base), baseWeights, 'base unchanged');
  prepared.model.dispose();
  base.dispose();
});

test('L2-SP: the penalty is λ·Σ‖θ−θ₀‖² over shared trainable weights, never the new head', async () => {
  const base = buildModel('mlp', { numClasses: 4, seed: 6 });
  const p = await prepareFineTune(base, { freeze: 1, replaceHead: true, numClasses: 4, seed: 7 });
  const reg = l2spRegularizer(p.model, base, 0.5);
  assert.deepEqual(reg.weightNames, ['dense2/kernel', 'dense2/bias'], 'frozen dense1 and the new head are not covered');
  assert.equal(reg().dataSync()[0], 0);
  // Move dense2's bias by 0.1 everywhere: penalty = 0.5 · 64 · 0.01.
  const bias = p.model.getLayer('dense2').getWeights()[1];
  p.model.getLayer('dense2').setWeights([p.model.getLayer('dense2').getWeights()[0], tf.add(bias, 0.1)]);
  const value = reg.loss().dataSync()[0];
  assert.ok(Math.abs(value - 0.5 * 64 * 0.01) < 1e-4, `penalty ${value}`);
  // Unfreezing dense1 later (gradual unfreezing) does not add it: anchors are fixed at creation.
  setTrainable(p.model, ['dense1'], true);
  assert.ok(Math.abs(reg().dataSync()[0] - value) < 1e-6);
  const count = tf.memory().numTensors;
  reg.dispose();
  assert.equal(tf.memory().numTensors, count - 2, 'dispose frees the anchors');
  p.model.dispose();
  base.dispose();
});

test('L2-SP keeps fine-tuned weights nearer the base than no penalty', async () => {
  // Base: trained on horizontal bands. Target task: vertical bands, same class count.
  const base = buildModel('mlp', { numClasses: 4, seed: 8 });
  await train(base, { train: bands(256, 9, 4) }, { epochs: 2, batchSize: 32, optimizer: { type: 'adam', learningRate: 0.003 }, seed: 1 });
  const target = bands(256, 10, 4, true);
  const distance = async (lambda: number) => {
    const p = await prepareFineTune(base, { freeze: 'none', replaceHead: false, numClasses: 4 });
    const reg = l2spRegularizer(p.model, base, lambda);
    const r = await train(p.model, { train: target, val: bands(64, 11, 4, true) }, {
      epochs: 2, batchSize: 32, optimizer: { type: 'adam', learningRate: 0.003 }, seed: 1, regularizer: reg,
    });
    const d = weightDistance(p.model, base);
    reg.dispose();
    p.model.dispose();
    return { d, acc: r.history[r.history.length - 1].valAccuracy! };
  };
  const free = await distance(0);
  const pulled = await distance(1);
  assert.ok(pulled.d < 0.5 * free.d, `distance with λ=1: ${pulled.d}, with λ=0: ${free.d}`);
  assert.ok(free.acc > 0.9, `the unconstrained model learns the new task (${free.acc})`);
  base.dispose();
});

test('gradual unfreezing: optimizer state saved for the head alone is not applied to the unfrozen model', async () => {
  const base = buildModel('mlp', { numClasses: 4, seed: 12 });
  const p = await prepareFineTune(base, { freeze: 'all-but-head', replaceHead: true, numClasses: 4, seed: 1 });
  const data = { train: bands(64, 13, 4) };
  const opts = { epochs: 1, batchSize: 16, optimizer: { type: 'adam' as const, learningRate: 0.01 }, seed: 1 };
  let saved: { name: string; tensor: tf.Tensor }[] = [];
  await train(p.model, data, opts, {
    onEpochEnd: async (_m, _s, ctx) => {
      saved = (await ctx.optimizer.getWeights()).map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
    },
  });
  assert.equal(saved.length, 1 + 2 * 2, 'iter + m and v for head/kernel and head/bias');
  const same = await train(p.model, data, { ...opts, epochs: 2, startEpoch: 1, initialState: { optimizerWeights: saved } });
  assert.equal(same.optimizerStateRestored, true);
  setTrainable(p.model, p.frozenLayers, true);
  const unfrozen = await train(p.model, data, { ...opts, epochs: 3, startEpoch: 2, initialState: { optimizerWeights: saved } });
  assert.equal(unfrozen.optimizerStateRestored, false);
  assert.equal(unfrozen.epochsRun, 1);
  assert.ok(Number.isFinite(unfrozen.history[0].loss));
  tf.dispose(saved.map((w) => w.tensor));
  p.model.dispose();
  base.dispose();
});
