// npm run bench:finetune [-- --subsets 100,1000,10000,full --variants scratch,frozen,... --epochs 100=20,1000=10
//                          --base-epochs 3 --base-dir /tmp/ft-base --arch vgg-cnn --seed 1 --base-train N]
// Does fine-tuning from an MNIST model pay off on Fashion-MNIST? For each training-set size, the
// Fashion-MNIST test accuracy and wall time of training from scratch and of fine-tuning variants,
// all with the same epochs, batch, schedule and augmentation (the train job's defaults):
//   scratch        a new model
//   frozen         the MNIST features frozen, a new head (lr 2e-3)
//   frozen-adabn   the same, with the frozen batch-norm statistics recomputed on Fashion-MNIST
//   l2sp           all layers, new head, L2-SP λ=0.01 towards the MNIST weights (lr 5e-4)
//   l2sp-2e3       the same at the scratch rate, 2e-3
//   init           all layers, new head, at the scratch rate (2e-3): the MNIST weights as initialization only
//   gradual        head only for the first third of the epochs, then all layers at a tenth of the rate
//   discriminative all layers: new head at 2e-3, pretrained layers at 2e-4
//   discr-bnfrozen discriminative, batch norm in inference mode throughout (the MNIST statistics)
// The MNIST base model is trained once (--base-epochs) and kept in --base-dir for later runs.
import { existsSync } from 'node:fs';
import { initBackend } from '../src/ml/backend.js';
import { buildModel, DEFAULT_ARCHITECTURE, HEAD_LAYER, type Architecture } from '../src/ml/models.js';
import { train, type TrainOptions } from '../src/ml/train.js';
import { evaluate } from '../src/ml/evaluate.js';
import { l2spRegularizer, prepareFineTune, setTrainable } from '../src/ml/finetune.js';
import { loadModel, saveModel } from '../src/ml/model-io.js';
import { AUGMENT_DEFAULTS } from '../src/jobs/contract.js';
import { TRAIN_DEFAULTS } from '../src/jobs/defaults.js';
import type { OnlineAugment } from '../src/ml/data/augment.js';
import type * as tf from '../src/ml/tf.js';
import { head, loadPrepared, table } from './lib/datasets.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const ALL_VARIANTS = ['scratch', 'frozen', 'frozen-adabn', 'l2sp', 'l2sp-2e3', 'init', 'gradual', 'discriminative', 'discr-bnfrozen'] as const;
type Variant = (typeof ALL_VARIANTS)[number];
const subsets = arg('subsets', '100,1000,10000,full').split(',');
const variants = arg('variants', ALL_VARIANTS.join(',')).split(',') as Variant[];
const epochsBySubset: Record<string, number> = { '100': 20, '1000': 10, '10000': 3, full: 1 };
for (const kv of arg('epochs', '').split(',').filter(Boolean)) {
  const [k, v] = kv.split('=');
  epochsBySubset[k!] = Number(v);
}
const baseEpochs = Number(arg('base-epochs', '3'));
/** Train the base on the first N MNIST images only (quick smoke runs). */
const baseTrain = Number(arg('base-train', '0')) || undefined;
const arch = arg('arch', DEFAULT_ARCHITECTURE) as Architecture;
const baseDir = arg('base-dir', `/tmp/mnist-jobs-finetune-base-${arch}`);
const seed = Number(arg('seed', '1'));
const augment = AUGMENT_DEFAULTS as OnlineAugment;
const backend = await initBackend(process.env.TFJS_BACKEND);
const [mnist, fashion] = await Promise.all([loadPrepared('mnist'), loadPrepared('fashion-mnist')]);
console.log(`${arch} on ${backend.name}; Fashion-MNIST test ${fashion.test.count}; epochs per subset ${JSON.stringify(epochsBySubset)}; seed ${seed}`);

/** The train job's default rate, which scratch and most variants use. */
const RATE = TRAIN_DEFAULTS.learningRate;
const opts = (lr: number, epochs: number): TrainOptions => ({
  epochs, batchSize: TRAIN_DEFAULTS.batchSize, optimizer: { type: TRAIN_DEFAULTS.optimizer, learningRate: lr }, schedule: { type: TRAIN_DEFAULTS.schedule, minLearningRate: 0 }, seed, augment,
});

// The MNIST model every fine-tune starts from.
let base: tf.LayersModel;
if (existsSync(`${baseDir}/model.json`)) {
  base = await loadModel(baseDir);
  console.log(`MNIST base from ${baseDir}`);
} else {
  base = buildModel(arch, { numClasses: 10, seed });
  const t0 = performance.now();
  await train(base, { train: baseTrain ? head(mnist.train, baseTrain) : mnist.train }, opts(RATE, baseEpochs));
  await saveModel(base, baseDir);
  console.log(`MNIST base: ${baseEpochs} epochs, ${Math.round((performance.now() - t0) / 1000)} s, saved to ${baseDir}`);
}
console.log(`MNIST base: ${((await evaluate(base, mnist.test)).accuracy * 100).toFixed(2)} % MNIST test accuracy`);

const isHead = (w: tf.LayerVariable) => w.originalName.startsWith(`${HEAD_LAYER}/`);

async function cell(variant: Variant, trainSet: typeof fashion.train, epochs: number): Promise<{ accuracy: number; seconds: number }> {
  const t0 = performance.now();
  const disposables: { dispose(): void }[] = [];
  let model: tf.LayersModel;
  const data = { train: trainSet };
  try {
    if (variant === 'scratch') {
      model = buildModel(arch, { numClasses: 10, seed: seed + 1 });
      disposables.push(model);
      await train(model, data, opts(RATE, epochs));
    } else {
      const frozenStart = variant === 'frozen' || variant === 'frozen-adabn' || variant === 'gradual';
      const prepared = await prepareFineTune(base, { freeze: frozenStart ? 'all-but-head' : 'none', replaceHead: true, numClasses: 10, seed: seed + 1 });
      model = prepared.model;
      disposables.push(model);
      if (variant === 'frozen') await train(model, data, opts(RATE, epochs));
      else if (variant === 'frozen-adabn') await train(model, data, { ...opts(RATE, epochs), batchNormStats: 'all' });
      else if (variant === 'l2sp' || variant === 'l2sp-2e3') {
        const penalty = l2spRegularizer(model, base, 0.01);
        disposables.push(penalty);
        await train(model, data, { ...opts(variant === 'l2sp' ? 0.0005 : RATE, epochs), regularizer: penalty.loss });
      } else if (variant === 'init') await train(model, data, opts(RATE, epochs)); else if (variant === 'gradual') {
        const first = Math.max(1, Math.round(epochs / 3));
        if (first < epochs) {
          await train(model, data, opts(RATE, first));
          setTrainable(model, prepared.frozenLayers, true);
          // Continues the same cosine schedule from epoch `first`, at a tenth of the rate.
          await train(model, data, { ...opts(0.0002, epochs), startEpoch: first });
        } else await train(model, data, opts(RATE, epochs));
      } else {
        await train(model, data, {
          ...opts(RATE, epochs),
          learningRateMultiplier: (w) => (isHead(w) ? 1 : 0.1),
          batchNormStats: variant === 'discr-bnfrozen' ? 'frozen' : 'trainable',
        });
      }
    }
    const seconds = (performance.now() - t0) / 1000; // training only, the evaluation is the same for all
    const test = await evaluate(model, fashion.test);
    return { accuracy: test.accuracy, seconds };
  } finally {
    for (const d of disposables) d.dispose();
  }
}

const results = new Map<Variant, Record<string, string>>();
for (const subset of subsets) {
  const n = subset === 'full' ? fashion.train.count : Number(subset);
  const set = head(fashion.train, n);
  const epochs = epochsBySubset[subset] ?? 3;
  for (const variant of variants) {
    const r = await cell(variant, set, epochs);
    const text = `${(r.accuracy * 100).toFixed(1)} % (${Math.round(r.seconds)} s)`;
    console.log(`  ${JSON.stringify({ subset: n, epochs, variant, accuracy: Number((r.accuracy * 100).toFixed(2)), seconds: Math.round(r.seconds) })}`);
    results.set(variant, { ...(results.get(variant) ?? { variant }), [`${n} img × ${epochs} ep`]: text });
  }
}
base.dispose();
console.log(`\nFashion-MNIST test accuracy (training wall time) by training-set size, ${arch}, batch 64, adam + cosine, augmentation on the fly, seed ${seed}`);
console.log(table([...results.values()]));
