import * as tf from '../src/ml/tf.js';
import { initBackend } from '../src/ml/backend.js';
import { buildModel } from '../src/ml/models.js';
import { train, lossAndAccuracy, forward } from '../src/ml/train.js';
import { loadPrepared, head } from '../bench/lib/datasets.js';
await initBackend(process.env.TFJS_BACKEND);
const d = await loadPrepared('fashion-mnist');
const tr = head(d.train, 1000); const val = head(d.val, 2000);
const model = buildModel('strong-cnn', { numClasses: 10, seed: 42 });
await train(model, { train: tr, val }, { epochs: Number(process.env.EPOCHS ?? 10), batchSize: 64, optimizer: { type: 'adam', learningRate: 0.002 }, schedule: { type: 'cosine', minLearningRate: 0 }, seed: 42 }, {
  onEpochEnd: async (m) => {
    // val accuracy with batch statistics (training-mode BN, dropout off is not possible here), for comparison
    const x = tf.tensor4d(val.images.subarray(0, 500*784), [500,28,28,1]);
    const lab = tf.tensor1d(Array.from(val.labels.subarray(0,500)), 'int32');
    const accBatch = tf.tidy(() => { let h: tf.Tensor = x; for (const l of (model as any).layers) { if (l.name==='softmax') break; h = l.apply(h, { training: l.getClassName()==='BatchNormalization' }) as tf.Tensor; } return tf.mean(tf.cast(tf.equal(tf.argMax(h,1), lab),'float32')).dataSync()[0]; });
    x.dispose(); lab.dispose();
    const bn = model.getLayer('bn3') as any;
    const mm = bn.getWeights(); // gamma beta movingMean movingVar
    console.log(`epoch ${m.epoch}: loss ${m.loss.toFixed(3)} acc ${(m.accuracy*100).toFixed(1)} val ${(m.valAccuracy!*100).toFixed(1)} valBatchStats ${(accBatch*100).toFixed(1)} bn3 movVar mean ${tf.mean(mm[3]).dataSync()[0].toFixed(3)} movMean absmean ${tf.mean(tf.abs(mm[2])).dataSync()[0].toFixed(3)}  ${m.seconds.toFixed(1)}s`);
  },
});
