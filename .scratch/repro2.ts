import * as tf from '../src/ml/tf.js';
import { initBackend } from '../src/ml/backend.js';
import { buildModel } from '../src/ml/models.js';
import { train, lossAndAccuracy } from '../src/ml/train.js';
import { loadPrepared, head } from '../bench/lib/datasets.js';
await initBackend(process.env.TFJS_BACKEND);
const d = await loadPrepared('fashion-mnist');
const tr = head(d.train, 1000); const val = head(d.val, 2000);
const model = buildModel('strong-cnn', { numClasses: 10, seed: 42 });
await train(model, { train: tr, val }, { epochs: 10, batchSize: 64, optimizer: { type: 'adam', learningRate: 0.002 }, schedule: { type: 'cosine', minLearningRate: 0 }, seed: 42 });
const x = tf.tensor4d(tr.images, [1000,28,28,1]);
let h: tf.Tensor = x;
for (const l of model.layers as any[]) {
  if (l.getClassName() === 'BatchNormalization') {
    const axes = h.shape.slice(0, -1).map((_, i) => i);
    const { mean, variance } = tf.moments(h, axes);
    const w = l.getWeights();
    const r = tf.div(w[3], variance);
    console.log(l.name, 'true var mean', tf.mean(variance).dataSync()[0].toFixed(3), 'moving var mean', tf.mean(w[3]).dataSync()[0].toFixed(3), 'ratio moving/true min', tf.min(r).dataSync()[0].toFixed(3), 'max', tf.max(r).dataSync()[0].toFixed(3), '|mean diff|/std', tf.mean(tf.div(tf.abs(tf.sub(w[2], mean)), tf.sqrt(variance))).dataSync()[0].toFixed(3));
  }
  h = l.apply(h, { training: false }) as tf.Tensor;
}
console.log('val', (await lossAndAccuracy(model, val)).accuracy);
