// npm run bench:finetune [-- --epochs 3 --arch strong-cnn --l2sp 0.01 --base-epochs 3]
// Fashion-MNIST test accuracy of (a) the model trained from scratch, (b) the MNIST model fine-tuned
// with frozen features and a new head, (c) the MNIST model fine-tuned whole with L2-SP: same epochs.
import { initBackend } from '../src/ml/backend.js';
import { buildModel, type Architecture } from '../src/ml/models.js';
import { train, type TrainOptions } from '../src/ml/train.js';
import { evaluate } from '../src/ml/evaluate.js';
import { l2spRegularizer, prepareFineTune, weightDistance } from '../src/ml/finetune.js';
import type * as tf from '../src/ml/tf.js';
import { loadPrepared, table } from './lib/datasets.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const epochs = Number(arg('epochs', '3'));
const baseEpochs = Number(arg('base-epochs', '3'));
const arch = arg('arch', 'strong-cnn') as Architecture;
const lambda = Number(arg('l2sp', '0.01'));
const backend = await initBackend(process.env.TFJS_BACKEND);
const [mnist, fashion] = await Promise.all([loadPrepared('mnist'), loadPrepared('fashion-mnist')]);
console.log(`${arch} on ${backend.name}; ${epochs} epochs per variant; Fashion-MNIST ${fashion.train.count}/${fashion.val.count}/${fashion.test.count}`);

const opts = (lr: number): TrainOptions => ({ epochs, batchSize: 64, optimizer: { type: 'adam', learningRate: lr }, schedule: { type: 'cosine', minLearningRate: lr / 100 }, seed: 1 });
const log = (name: string) => ({ onEpochEnd: (m: { epoch: number; valAccuracy: number | null; seconds: number }) => console.log(`  ${name} epoch ${m.epoch}: val ${(m.valAccuracy! * 100).toFixed(2)}% ${m.seconds.toFixed(0)} s`) });

async function timed(name: string, model: tf.LayersModel, o: TrainOptions, base?: tf.LayersModel) {
  const t0 = performance.now();
  const r = await train(model, { train: fashion.train, val: fashion.val }, o, log(name));
  const seconds = (performance.now() - t0) / 1000;
  const test = await evaluate(model, fashion.test);
  return {
    variant: name, epochs: r.epochsCompleted, 'train samples/s': Math.round(r.samplesPerSec), 'wall s': Math.round(seconds),
    'test accuracy %': Number((test.accuracy * 100).toFixed(2)), 'test loss': Number(test.loss.toFixed(4)),
    'distance to base': base ? Number(weightDistance(model, base).toFixed(3)) : '-',
  };
}

// The MNIST model every fine-tune starts from.
const base = buildModel(arch, { numClasses: 10, seed: 1 });
const t0 = performance.now();
await train(base, { train: mnist.train, val: mnist.val }, { ...opts(0.001), epochs: baseEpochs }, log('MNIST base'));
const baseTest = await evaluate(base, mnist.test);
console.log(`MNIST base: ${(baseTest.accuracy * 100).toFixed(2)}% test accuracy after ${baseEpochs} epochs, ${Math.round((performance.now() - t0) / 1000)} s`);

const rows = [];
const scratch = buildModel(arch, { numClasses: 10, seed: 2 });
rows.push(await timed('(a) from scratch', scratch, opts(0.001)));
scratch.dispose();

const frozen = await prepareFineTune(base, { freeze: 'all-but-head', replaceHead: true, numClasses: 10, seed: 2 });
rows.push(await timed('(b) frozen features, new head', frozen.model, opts(0.003), base));
frozen.model.dispose();

const whole = await prepareFineTune(base, { freeze: 'none', replaceHead: true, numClasses: 10, seed: 2 });
const penalty = l2spRegularizer(whole.model, base, lambda);
rows.push(await timed(`(c) all layers, L2-SP λ=${lambda}`, whole.model, { ...opts(0.0005), regularizer: penalty.loss }, base));
penalty.dispose();
whole.model.dispose();

console.log(`\nFashion-MNIST, ${arch}, batch 64, adam with cosine schedule; (b) lr 3e-3, (c) lr 5e-4\n${table(rows)}`);
