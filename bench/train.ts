// npm run bench:train [-- --arch mlp,keras-cnn,strong-cnn --backends wasm,cpu --epochs strong-cnn=10 --speed-only]
// For each architecture and each available backend: training and inference samples/s on full MNIST;
// then, on the fastest backend, a full training run with the test accuracy it reaches and its time.
import * as tf from '../src/ml/tf.js';
import { initBackend } from '../src/ml/backend.js';
import { buildModel, type Architecture } from '../src/ml/models.js';
import { train } from '../src/ml/train.js';
import { evaluate, predictProbs } from '../src/ml/evaluate.js';
import { head, loadPrepared, table } from './lib/datasets.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const archs = arg('arch', 'mlp,keras-cnn,strong-cnn').split(',') as Architecture[];
const backends = arg('backends', 'tensorflow,wasm,cpu').split(',');
const epochs: Record<string, number> = { mlp: 5, 'simple-cnn': 5, 'keras-cnn': 3, 'strong-cnn': 3 };
for (const kv of arg('epochs', '').split(',').filter(Boolean)) {
  const [k, v] = kv.split('=');
  epochs[k!] = Number(v);
}
const speedOnly = process.argv.includes('--speed-only');
const BATCH = 64;

const data = await loadPrepared('mnist');
console.log(`MNIST: train ${data.train.count}, val ${data.val.count}, test ${data.test.count}; batch ${BATCH}; ${process.arch}, node ${process.version}`);

/** Training samples/s over `batches` batches after a warm-up, on the current backend. */
async function trainSpeed(arch: Architecture, batches: number): Promise<number> {
  const model = buildModel(arch, { numClasses: 10, seed: 1 });
  const warm = head(data.train, BATCH * 3);
  await train(model, { train: warm }, { epochs: 1, batchSize: BATCH, optimizer: { type: 'adam', learningRate: 0.001 }, seed: 1 });
  const r = await train(model, { train: head(data.train, BATCH * batches) }, { epochs: 1, batchSize: BATCH, optimizer: { type: 'adam', learningRate: 0.001 }, seed: 1 });
  model.dispose();
  return r.samplesPerSec;
}

async function inferSpeed(arch: Architecture, n: number): Promise<number> {
  const model = buildModel(arch, { numClasses: 10, seed: 1 });
  const set = head(data.test, n);
  await predictProbs(model, set.images, Math.min(512, n));
  const t0 = performance.now();
  await predictProbs(model, set.images, set.count, 256);
  model.dispose();
  return set.count / ((performance.now() - t0) / 1000);
}

const speedRows: Record<string, string | number>[] = [];
const available: string[] = [];
for (const backend of backends) {
  try {
    const info = await initBackend(backend);
    available.push(backend);
    const label = info.kind === 'wasm' ? `wasm (${info.simd ? 'simd' : 'no simd'}, ${info.threads ?? 1} thr)` : info.name;
    for (const arch of archs) {
      const slow = backend === 'cpu';
      const trainSps = await trainSpeed(arch, slow ? 3 : 60);
      const inferSps = await inferSpeed(arch, slow ? 512 : 10000);
      speedRows.push({ backend: label, model: arch, 'train samples/s': Math.round(trainSps), 'inference samples/s': Math.round(inferSps) });
      console.log(`  ${label} ${arch}: train ${Math.round(trainSps)}/s, inference ${Math.round(inferSps)}/s`);
    }
  } catch (err) {
    console.log(`  backend ${backend}: not available (${(err as Error).message.split('\n')[0]})`);
  }
}
console.log(`\nSpeed (train: ${60} batches of ${BATCH} with adam after warm-up; inference: 10000 test images in batches of 256)\n${table(speedRows)}\n`);

if (!speedOnly && available.length) {
  await initBackend(available[0]);
  const rows: Record<string, string | number>[] = [];
  for (const arch of archs) {
    const tensorsBefore = tf.memory().numTensors;
    const model = buildModel(arch, { numClasses: 10, seed: 1 });
    const t0 = performance.now();
    const r = await train(
      model,
      { train: data.train, val: data.val },
      // The train job's defaults: adam 2e-3 with cosine decay.
      { epochs: epochs[arch]!, batchSize: BATCH, optimizer: { type: 'adam', learningRate: 0.002 }, schedule: { type: 'cosine', minLearningRate: 0 }, seed: 1 },
      { onEpochEnd: (m) => console.log(`  ${arch} epoch ${m.epoch}: loss ${m.loss.toFixed(4)} val acc ${(m.valAccuracy! * 100).toFixed(2)}% ${m.samplesPerSec.toFixed(0)}/s ${m.seconds.toFixed(0)} s`) },
    );
    const seconds = (performance.now() - t0) / 1000;
    const test = await evaluate(model, data.test);
    model.dispose();
    rows.push({
      backend: tf.getBackend(), model: arch, epochs: r.epochsCompleted, 'train samples/s': Math.round(r.samplesPerSec),
      'wall s': Math.round(seconds), 'test accuracy %': Number((test.accuracy * 100).toFixed(2)), 'test loss': Number(test.loss.toFixed(4)),
      // Tensors still alive once the model is gone: anything but 0 is a leak in training or evaluation.
      'tensors leaked': tf.memory().numTensors - tensorsBefore,
    });
  }
  console.log(`\nFull training (the train job's defaults: adam 2e-3, cosine schedule, batch ${BATCH}, 54000 train / 6000 val, evaluated on the 10000 test images)\n${table(rows)}`);
}
