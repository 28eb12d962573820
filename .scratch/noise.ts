import * as tf from '../src/ml/tf.js';
import sharp from 'sharp';
import seedrandom from 'seedrandom';
import { initBackend } from '../src/ml/backend.js';
import { buildModel } from '../src/ml/models.js';
import { train } from '../src/ml/train.js';
import { calibrate, predictProbs } from '../src/ml/evaluate.js';
import { inputsToBatch } from '../src/serving/inputs.js';
import { loadPrepared, head } from '../bench/lib/datasets.js';
await initBackend();
const d = await loadPrepared('mnist');
const rng = seedrandom('noise');
const noiseFloats = Array.from({ length: 50 }, () => Array.from({ length: 784 }, () => rng()));
const noisePng = await Promise.all(Array.from({ length: 20 }, async () => (await sharp(Buffer.from(Array.from({ length: 64 * 64 }, () => Math.floor(rng() * 256))), { raw: { width: 64, height: 64, channels: 1 } }).png().toBuffer()).toString("base64")));
const sparse = Array.from({ length: 50 }, () => Array.from({ length: 784 }, () => (rng() < 0.1 ? 1 : 0)));
const sets: Record<string, Float32Array> = {
  uniform: await inputsToBatch(noiseFloats), png: await inputsToBatch(noisePng), sparse: await inputsToBatch(sparse),
};
const q = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return `min ${s[0]!.toFixed(3)} med ${s[s.length >> 1]!.toFixed(3)} max ${s[s.length - 1]!.toFixed(3)}`; };
for (const arch of ['keras-cnn', 'strong-cnn'] as const) {
  const m = buildModel(arch, { numClasses: 10, seed: 1 });
  await train(m, { train: head(d.train, 3000) }, { epochs: 2, batchSize: 32, optimizer: { type: 'adam', learningRate: 0.002 }, schedule: { type: 'cosine' }, seed: 1 });
  const conf = async (x: Float32Array, n: number) => { const p = await predictProbs(m, x, n); return Array.from({ length: n }, (_, i) => Math.max(...p.subarray(i * 10, i * 10 + 10))); };
  const report = async (tag: string) => {
    console.log(arch, tag, 'clean', q(await conf(d.test.images, 500)));
    for (const [k, v] of Object.entries(sets)) console.log(arch, tag, k, q(await conf(v, v.length / 784)));
  };
  await report('raw');
  const c = await calibrate(m, head(d.val, 300));
  console.log(c);
  await report('calibrated');
}
