// npm run bench:profile [-- --arch strong-cnn --backend native --steps 30 --infer 2560 --shapes --gemm openblas --bn onednn]
//
// Where a training step and an inference batch spend their time, per TensorFlow.js kernel, on one
// backend: the same loop as bench:peer (src/ml/train.ts's train(), adam, batch 64; predictProbs in
// batches of 256) with a timer around every kernel of the backend (bench/lib/kernel-profile.ts).
// Prints ms per training step and per inference batch for each kernel, and what is left outside
// the kernels (engine bookkeeping, the gradient tape, JS). --shapes splits each kernel by the shape
// of its first input (which layer it serves). The timers add ~1 µs per kernel call.
import os from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '../src/ml/tf.js';
import { initBackend } from '../src/ml/backend.js';
import { predictProbs } from '../src/ml/evaluate.js';
import { setNativeBatchNorm, setNativeGemm } from '../src/ml/kernels/native/index.js';
import { buildModel } from '../src/ml/models.js';
import { train } from '../src/ml/train.js';
import { table } from './lib/datasets.js';
import { byShape, profileKernels, profileRows } from './lib/kernel-profile.js';

const { values: opts } = parseArgs({
  options: {
    arch: { type: 'string', default: 'strong-cnn' },
    backend: { type: 'string', default: 'native' },
    threads: { type: 'string', default: String(Math.min(2, os.availableParallelism())) },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '30' },
    infer: { type: 'string', default: '2560' },
    shapes: { type: 'boolean', default: false },
    /** native only: the GEMM of matrix products, and the batch-norm implementation (see kernels/native). */
    gemm: { type: 'string', default: 'onednn' },
    bn: { type: 'string', default: 'loops' },
  },
});
const BATCH = Number(opts.batch);
const STEPS = Number(opts.steps);
const INFER = Number(opts.infer);
process.env.TFJS_WASM_THREADS ??= opts.threads;
process.env.TFJS_NATIVE_THREADS ??= opts.threads;
process.env.OMP_NUM_THREADS ??= opts.threads;

const info = await initBackend(opts.backend);
setNativeGemm(opts.gemm as 'onednn' | 'openblas');
setNativeBatchNorm(opts.bn as 'loops' | 'onednn');
const set = (n: number) => ({
  images: Float32Array.from({ length: n * 784 }, () => Math.random()),
  labels: Uint8Array.from({ length: n }, () => Math.floor(Math.random() * 10)),
  count: n,
  height: 28,
  width: 28,
});
const model = buildModel(opts.arch as Parameters<typeof buildModel>[0], { numClasses: 10, seed: 1 });
const trainOpts = { epochs: 1, batchSize: BATCH, optimizer: { type: 'adam' as const, learningRate: 0.001 }, seed: 1, batchNormStats: 'none' as const };
const profiler = profileKernels(info.name, opts.shapes ? byShape : undefined);

await train(model, { train: set(BATCH * 5) }, trainOpts); // warm-up: primitives, optimizer slots
const trainSet = set(BATCH * STEPS);
profiler.reset();
const r = await train(model, { train: trainSet }, trainOpts);
const trainRows = profileRows(profiler.stats(), STEPS, (1000 * BATCH) / r.samplesPerSec);

const test = set(INFER);
await predictProbs(model, test.images, 512);
profiler.reset();
const t0 = performance.now();
await predictProbs(model, test.images, test.count, 256);
const batches = Math.ceil(INFER / 256);
const inferRows = profileRows(profiler.stats(), batches, (performance.now() - t0) / batches);
model.dispose();

console.log(`bench:profile: ${opts.arch} on ${info.name} (${info.threads ?? '?'} threads${info.name === 'native' ? `, gemm ${opts.gemm}, batch norm ${opts.bn}` : ''}); ${os.cpus()[0]?.model}`);
console.log(`\ntraining, batch ${BATCH}, adam: ${Math.round(r.samplesPerSec)} samples/s over ${STEPS} steps; per step:\n${table(trainRows)}`);
const heap = (tf.engine().backend as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length;
console.log(`\ninference, batches of 256: ${Math.round((INFER / (performance.now() - t0)) * 1000)} images/s; per batch:\n${table(inferRows)}`);
console.log(`\nmemory: peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB, RSS now ${Math.round(process.memoryUsage.rss() / 2 ** 20)} MiB, wasm heap ${heap ? Math.round(heap / 2 ** 20) : 'n/a'} MiB`);
