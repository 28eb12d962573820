// npm run bench:train [-- --arch mlp,keras-cnn,strong-cnn --backends wasm,cpu --epochs strong-cnn=10 --speed-only]
//                      [-- --full-only --dataset mnist|fashion-mnist --seeds 1,2,3 --augment off --label-smoothing 0.1]
// For each architecture and each available backend: training and inference samples/s on full MNIST;
// then, on the fastest backend, full training runs with the train job's defaults (the recipe included:
// augmentation on the fly, label smoothing, temperature scaling on the validation split), one per
// seed, with the test accuracy, calibration and wall time of each and the median over the seeds.
import * as tf from '../src/ml/tf.js';
import { initBackend } from '../src/ml/backend.js';
import { buildModel, DEFAULT_ARCHITECTURE, type Architecture } from '../src/ml/models.js';
import { train } from '../src/ml/train.js';
import { calibrate, evaluate, predictProbs } from '../src/ml/evaluate.js';
import { AUGMENT_DEFAULTS, TrainParams } from '../src/jobs/contract.js';
import type { OnlineAugment } from '../src/ml/data/augment.js';
import { head, loadPrepared, table } from './lib/datasets.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const archs = arg('arch', 'mlp,keras-cnn,strong-cnn,vgg-cnn').split(',') as Architecture[];
const backends = arg('backends', 'tensorflow,wasm,cpu').split(',');
const speedOnly = process.argv.includes('--speed-only');
const fullOnly = process.argv.includes('--full-only');
const dataset = arg('dataset', 'mnist') as 'mnist' | 'fashion-mnist';
const seeds = arg('seeds', '1').split(',').map(Number);
// The train job's defaults, read from its schema so the bench measures what a default job does.
const defaults = TrainParams.properties;
// Quick runs for the others; the default architecture trains as long as a default job does.
const epochs: Record<string, number> = { mlp: 5, 'simple-cnn': 5, 'keras-cnn': 3, 'strong-cnn': 3, [DEFAULT_ARCHITECTURE]: defaults.epochs.default as number };
for (const kv of arg('epochs', '').split(',').filter(Boolean)) {
  const [k, v] = kv.split('=');
  epochs[k!] = Number(v);
}
// --augment off | on (the defaults) | a JSON object overriding some of the defaults' fields.
const augmentArg = arg('augment', 'on');
const augment: OnlineAugment | null =
  augmentArg === 'off' ? null : augmentArg === 'on' ? (AUGMENT_DEFAULTS as OnlineAugment) : { ...(AUGMENT_DEFAULTS as OnlineAugment), ...JSON.parse(augmentArg) };
const labelSmoothing = Number(arg('label-smoothing', String(defaults.labelSmoothing.default)));
const BATCH = defaults.batchSize.default as number;
const LR = (defaults.optimizer.default as { learningRate: number }).learningRate;

const data = await loadPrepared(dataset);
console.log(`${dataset}: train ${data.train.count}, val ${data.val.count}, test ${data.test.count}; batch ${BATCH}; ${process.arch}, node ${process.version}`);

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
for (const backend of fullOnly ? backends.slice(0, 0) : backends) {
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
if (fullOnly) {
  for (const backend of backends) {
    try {
      await initBackend(backend);
      available.push(backend);
      break;
    } catch {
      // next one
    }
  }
}
if (!fullOnly) console.log(`\nSpeed (train: ${60} batches of ${BATCH} with adam after warm-up; inference: 10000 test images in batches of 256)\n${table(speedRows)}\n`);

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;

if (!speedOnly && available.length) {
  await initBackend(available[0]);
  const rows: Record<string, string | number>[] = [];
  for (const arch of archs) {
    const accs: number[] = [];
    const walls: number[] = [];
    for (const seed of seeds) {
      const tensorsBefore = tf.memory().numTensors;
      const model = buildModel(arch, { numClasses: 10, seed });
      const t0 = performance.now();
      const r = await train(
        model,
        { train: data.train, val: data.val },
        { epochs: epochs[arch]!, batchSize: BATCH, optimizer: { type: 'adam', learningRate: LR }, schedule: { type: 'cosine', minLearningRate: 0 }, seed, augment, labelSmoothing },
        { onEpochEnd: (m) => console.log(`  ${arch} seed ${seed} epoch ${m.epoch}: loss ${m.loss.toFixed(4)} acc ${(m.accuracy * 100).toFixed(2)}% val acc ${(m.valAccuracy! * 100).toFixed(2)}% ${m.samplesPerSec.toFixed(0)}/s ${m.seconds.toFixed(0)} s`) },
      );
      const cal = await calibrate(model, data.val);
      const seconds = (performance.now() - t0) / 1000;
      const test = await evaluate(model, data.test);
      model.dispose();
      accs.push(test.accuracy);
      walls.push(seconds);
      const row = {
        backend: tf.getBackend(), model: arch, seed, epochs: r.epochsCompleted, 'train samples/s': Math.round(r.samplesPerSec),
        'wall s': Math.round(seconds), 'test accuracy %': Number((test.accuracy * 100).toFixed(2)), 'test loss': Number(test.loss.toFixed(4)),
        temperature: Number(cal.temperature.toFixed(3)), 'test ECE %': Number((test.ece * 100).toFixed(2)),
        // Tensors still alive once the model is gone: anything but 0 is a leak in training or evaluation.
        'tensors leaked': tf.memory().numTensors - tensorsBefore,
      };
      console.log(`  ${JSON.stringify(row)}`);
      rows.push(row);
    }
    if (seeds.length > 1) rows.push({ backend: '', model: arch, seed: 'median', epochs: '', 'train samples/s': '', 'wall s': Math.round(median(walls)), 'test accuracy %': Number((median(accs) * 100).toFixed(2)) });
  }
  const recipe = `adam ${LR}, cosine schedule, batch ${BATCH}, augmentation ${augment ? JSON.stringify(augment) : 'off'}, label smoothing ${labelSmoothing}`;
  console.log(`\n${dataset}: full training with the train job's defaults (${recipe}; ${data.train.count} train / ${data.val.count} val, evaluated on the ${data.test.count} test images)\n${table(rows)}`);
}
