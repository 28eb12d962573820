import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import seedrandom from 'seedrandom';
import * as tf from '../../src/ml/tf.js';
import { initBackend } from '../../src/ml/backend.js';
import { buildModel, type Architecture } from '../../src/ml/models.js';
import { TrainingDivergedError, epochPermutation, lossAndAccuracy, train, type EpochMetrics, type TrainOptions } from '../../src/ml/train.js';
import { learningRateAt } from '../../src/ml/optim.js';
import { disposeCheckpointTensors, loadCheckpoint, saveCheckpoint } from '../../src/ml/model-io.js';
import { bands } from '../fixtures/bands.js';

before(async () => {
  await initBackend();
});


const weightsOf = (m: tf.LayersModel) => m.getWeights().map((t) => Array.from(t.dataSync()));

function model(arch: Architecture = 'mlp', classes = 4, seed = 1) {
  return buildModel(arch, { numClasses: classes, seed });
}

const base: TrainOptions = { epochs: 3, batchSize: 32, optimizer: { type: 'adam', learningRate: 0.003 }, seed: 7 };

test('learns a separable task and reports per-epoch metrics', async () => {
  const m = model();
  const history: EpochMetrics[] = [];
  const r = await train(m, { train: bands(512, 1), val: bands(128, 2) }, base, { onEpochEnd: (e) => { history.push(e); } });
  try {
    assert.equal(r.epochsRun, 3);
    assert.equal(r.epochsCompleted, 3);
    assert.equal(r.cancelled, false);
    assert.equal(r.stoppedEarly, false);
    assert.deepEqual(r.history, history);
    assert.deepEqual(history.map((h) => h.epoch), [1, 2, 3]);
    assert.ok(history[2].loss < history[0].loss, 'training loss falls');
    assert.ok(history[2].valAccuracy! >= 0.95, `val accuracy ${history[2].valAccuracy}`);
    for (const h of history) {
      assert.ok(h.seconds > 0 && h.samplesPerSec > 0);
      assert.equal(h.learningRate, 0.003);
      assert.ok(h.accuracy >= 0 && h.accuracy <= 1);
    }
    // Validation metrics agree with an independent pass over the split.
    const again = await lossAndAccuracy(m, bands(128, 2));
    assert.ok(Math.abs(again.loss - history[2].valLoss!) < 1e-5);
    assert.equal(again.accuracy, history[2].valAccuracy);
    assert.ok(r.samplesPerSec > 0);
  } finally {
    m.dispose();
  }
});

test('onBatch sees every batch of every epoch; the running loss is read back every syncEvery batches', async () => {
  const m = model();
  const seen: { epoch: number; batch: number; batches: number; loss: number; samplesSeen: number }[] = [];
  await train(m, { train: bands(100, 3) }, { ...base, epochs: 2, batchSize: 16, syncEvery: 3 }, { onBatch: (b) => { seen.push(b); } });
  m.dispose();
  assert.equal(seen.length, 2 * 7);
  assert.deepEqual(seen.slice(0, 7).map((b) => b.batch), [1, 2, 3, 4, 5, 6, 7]);
  assert.ok(seen.every((b) => b.batches === 7));
  assert.equal(seen[6].samplesSeen, 100, 'the last batch is partial (100 = 6·16 + 4)');
  assert.ok(Number.isNaN(seen[0].loss) && Number.isNaN(seen[1].loss), 'not synced before batch 3');
  assert.ok(Number.isFinite(seen[2].loss));
  assert.ok(Number.isFinite(seen[6].loss), 'synced at the end of the epoch');
});

test('no tensors leak: the count is equal after every epoch and back to the start at the end', async () => {
  for (const arch of ['mlp', 'strong-cnn'] as const) {
    const m = model(arch);
    const start = tf.memory().numTensors;
    const counts: number[] = [];
    await train(
      m,
      { train: bands(arch === 'mlp' ? 200 : 48, 4), val: bands(32, 5) },
      { ...base, epochs: 3, batchSize: 16, optimizer: { type: 'momentum', learningRate: 0.01 }, earlyStopping: { patience: 5, restoreBest: true } },
      { onEpochEnd: () => { counts.push(tf.memory().numTensors); } },
    );
    assert.equal(counts.length, 3);
    assert.equal(counts[1], counts[0], `${arch}: epoch 2 vs 1`);
    assert.equal(counts[2], counts[0], `${arch}: epoch 3 vs 1`);
    assert.equal(tf.memory().numTensors, start, `${arch}: after training`);
    m.dispose();
  }
});

test('epochPermutation is a reproducible permutation that changes with the epoch', () => {
  const a = epochPermutation(1000, 42, 3);
  assert.deepEqual(a, epochPermutation(1000, 42, 3));
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  assert.notDeepEqual(a, epochPermutation(1000, 42, 4));
  assert.notDeepEqual(a, epochPermutation(1000, 43, 3));
});

test('the same seed reproduces a run bit for bit, dropout and batch norm included', async () => {
  const run = async (seed: number) => {
    const m = model('strong-cnn', 4, 1);
    await train(m, { train: bands(48, 6) }, { ...base, epochs: 2, batchSize: 16, seed });
    const w = weightsOf(m);
    m.dispose();
    return w;
  };
  const a = await run(9);
  const b = await run(9);
  const c = await run(10);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('resuming from a checkpoint continues exactly like an uninterrupted run', async () => {
  for (const [arch, optimizer] of [
    ['mlp', { type: 'momentum', learningRate: 0.02, momentum: 0.9 }],
    ['strong-cnn', { type: 'adam', learningRate: 0.002 }],
  ] as const) {
    const data = { train: bands(arch === 'mlp' ? 160 : 48, 7), val: bands(32, 8) };
    const opts: TrainOptions = {
      ...base, epochs: 3, batchSize: 16, optimizer,
      schedule: { type: 'step', stepSize: 1, gamma: 0.5 },
      earlyStopping: { patience: 10, restoreBest: true },
    };
    const straight = model(arch);
    const full = await train(straight, data, opts);

    const dir = await mkdtemp(path.join(os.tmpdir(), 'ckpt-'));
    const first = model(arch);
    let stop = false;
    const part = await train(first, data, opts, {
      onEpochEnd: async (_m, state, ctx) => {
        await saveCheckpoint(dir, { model: ctx.model, optimizer: ctx.optimizer, state });
        stop = true; // "crash" after epoch 1's checkpoint
      },
      shouldStop: () => stop,
    });
    assert.equal(part.cancelled, true);
    assert.equal(part.epochsRun, 1);
    first.dispose();

    const cp = await loadCheckpoint(dir);
    assert.equal(cp.state.epoch, 1);
    const rest = await train(cp.model, data, { ...opts, startEpoch: cp.state.epoch, initialState: { ...cp.state, optimizerWeights: cp.optimizerWeights } });
    disposeCheckpointTensors(cp);
    assert.equal(rest.optimizerStateRestored, true);
    assert.equal(full.optimizerStateRestored, false);
    assert.equal(rest.epochsRun, 2);
    assert.deepEqual(rest.history.map((h) => h.learningRate), full.history.slice(1).map((h) => h.learningRate));
    const wa = weightsOf(straight);
    const wb = weightsOf(cp.model);
    if (optimizer.type === 'momentum') {
      assert.deepEqual(wb, wa, `${arch}: bit-identical`);
    } else {
      // Adam rebuilds β^t with pow() on restore instead of repeated products: equal up to rounding.
      let maxDiff = 0;
      for (const [i, w] of wa.entries()) for (const [j, v] of w.entries()) maxDiff = Math.max(maxDiff, Math.abs(v - wb[i][j]));
      assert.ok(maxDiff < 1e-5, `${arch}: max weight difference ${maxDiff}`);
    }
    assert.deepEqual(rest.history.map((h) => h.epoch), [2, 3]);
    assert.equal(rest.bestEpoch, full.bestEpoch);
    straight.dispose();
    cp.model.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});

test('shouldStop cancels at the next batch boundary', async () => {
  const m = model();
  let batches = 0;
  let epochEnds = 0;
  const r = await train(m, { train: bands(320, 9) }, { ...base, batchSize: 32 }, {
    onBatch: () => { batches++; },
    onEpochEnd: () => { epochEnds++; },
    shouldStop: () => batches >= 3,
  });
  m.dispose();
  assert.equal(r.cancelled, true);
  assert.equal(batches, 3);
  assert.equal(epochEnds, 0);
  assert.equal(r.epochsRun, 0);
  assert.equal(r.epochsCompleted, 0);
});

test('early stopping stops after `patience` epochs without improvement and restores the best weights', async () => {
  // Validation labels are shuffled: as the model learns the training task, validation loss rises.
  const val = bands(64, 10);
  const rng = seedrandom('x');
  const noisyVal = { ...val, labels: val.labels.map(() => Math.floor(rng() * 4)) };
  const m = model();
  const snapshots = new Map<number, number[][]>();
  const r = await train(m, { train: bands(256, 11), val: noisyVal }, { ...base, epochs: 12, earlyStopping: { patience: 2, restoreBest: true } }, {
    onEpochEnd: (e) => { snapshots.set(e.epoch, weightsOf(m)); },
  });
  try {
    assert.equal(r.stoppedEarly, true);
    assert.ok(r.epochsRun < 12);
    assert.equal(r.epochsRun, r.bestEpoch! + 2);
    const losses = r.history.map((h) => h.valLoss!);
    assert.equal(r.bestValLoss, Math.min(...losses));
    assert.equal(r.restoredBest, true);
    assert.deepEqual(weightsOf(m), snapshots.get(r.bestEpoch!));
  } finally {
    m.dispose();
  }
});

test('without restoreBest the last weights stay; minDelta makes small gains not count', async () => {
  const m = model();
  const r = await train(m, { train: bands(128, 12), val: bands(64, 13) }, { ...base, epochs: 6, earlyStopping: { patience: 1, minDelta: 10, restoreBest: false } });
  m.dispose();
  // Every gain is below minDelta=10, so the run stops after epoch 2 (epoch 1 sets the baseline).
  assert.equal(r.epochsRun, 2);
  assert.equal(r.bestEpoch, 1);
  assert.equal(r.restoredBest, false);
});

test('learning-rate schedules', async () => {
  assert.equal(learningRateAt(undefined, 0.1, 5, 10), 0.1);
  assert.equal(learningRateAt({ type: 'constant' }, 0.1, 5, 10), 0.1);
  assert.deepEqual([0, 1, 2, 3, 4].map((e) => learningRateAt({ type: 'step', stepSize: 2, gamma: 0.1 }, 1, e, 5)), [1, 1, 0.1, 0.1, 0.1 * 0.1]);
  const cos = [0, 5, 10].map((e) => learningRateAt({ type: 'cosine', minLearningRate: 0.01 }, 0.11, e, 10));
  assert.ok(Math.abs(cos[0] - 0.11) < 1e-12 && Math.abs(cos[1] - 0.06) < 1e-12 && Math.abs(cos[2] - 0.01) < 1e-12);
  const m = model();
  const r = await train(m, { train: bands(64, 14) }, { ...base, epochs: 3, optimizer: { type: 'sgd', learningRate: 0.08 }, schedule: { type: 'step', stepSize: 1, gamma: 0.5 } });
  m.dispose();
  assert.deepEqual(r.history.map((h) => h.learningRate), [0.08, 0.04, 0.02]);
});

test('a regularizer is added to the objective; trainableFilter limits what is updated', async () => {
  const norm = (m: tf.LayersModel) => tf.tidy(() => m.trainableWeights.reduce((s, w) => s + tf.sum(tf.square(w.read())).dataSync()[0], 0));
  const plain = model();
  const pulled = model();
  await train(plain, { train: bands(128, 15) }, base);
  await train(pulled, { train: bands(128, 15) }, {
    ...base,
    regularizer: (mm) => tf.tidy(() => tf.mul(tf.addN(mm.trainableWeights.map((w) => tf.sum(tf.square(w.read())))), 0.05) as tf.Scalar),
  });
  assert.ok(norm(pulled) < 0.5 * norm(plain), `${norm(pulled)} vs ${norm(plain)}`);
  plain.dispose();
  pulled.dispose();

  const m = model();
  const before = weightsOf(m);
  await train(m, { train: bands(64, 16) }, { ...base, epochs: 1, trainableFilter: (w) => w.originalName.startsWith('head/') });
  const after = weightsOf(m);
  const names = m.weights.map((w) => w.originalName);
  names.forEach((n, i) => {
    if (n.startsWith('head/')) assert.notDeepEqual(after[i], before[i], n);
    else assert.deepEqual(after[i], before[i], n);
  });
  m.dispose();
});

test('bad inputs are refused before training starts', async () => {
  const m = model();
  const data = bands(32, 17);
  await assert.rejects(train(m, { train: data }, { ...base, epochs: 0 }), /epochs/);
  await assert.rejects(train(m, { train: data }, { ...base, batchSize: 0 }), /batchSize/);
  await assert.rejects(train(m, { train: data }, { ...base, startEpoch: 4 }), /startEpoch/);
  await assert.rejects(train(m, { train: { ...data, labels: data.labels.map(() => 7) } }, base), /out of range/);
  await assert.rejects(train(m, { train: { ...data, count: 0 } }, base), /empty/);
  await assert.rejects(train(m, { train: { ...data, height: 14, width: 14 } }, base), /expects 28×28×1/);
  // Resuming a finished run does nothing.
  const r = await train(m, { train: data }, { ...base, startEpoch: 3 });
  assert.equal(r.epochsRun, 0);
  m.dispose();
});

test('a diverging run fails with TRAINING_DIVERGED and leaks nothing', async () => {
  const m = model();
  const start = tf.memory().numTensors;
  await assert.rejects(
    train(m, { train: bands(64, 18) }, { ...base, epochs: 2, optimizer: { type: 'sgd', learningRate: 1e12 } }),
    (err: unknown) => err instanceof TrainingDivergedError && err.code === 'TRAINING_DIVERGED',
  );
  assert.equal(tf.memory().numTensors, start);
  m.dispose();
});
