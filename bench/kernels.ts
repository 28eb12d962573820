// Benchmarks the wasm training kernels: per-kernel times of the package's kernels vs ours on the
// keras-cnn layer shapes, then for one model (keras-cnn unless --arch) training / inference samples
// per second at batch 64 and a per-kernel profile of one training step.
//
//   node --import tsx bench/kernels.ts [--steps 20] [--batch 64] [--skip-before] [--arch strong-cnn]
//   node --import tsx bench/kernels.ts --backend native [--gemm openblas]
//     the native backend: per kernel wasm's (ours) → native's, then its throughput and profile
//
// Times are CPU time of this process (process.cpuUsage) next to wall time: other work on the
// machine inflates wall time, CPU time much less. Keep runs short; the CPU is shared.
import { parseArgs } from 'node:util';
import * as tf from '../src/ml/tf.js';
import { initBackend } from '../src/ml/backend.js';
import { buildModel, isArchitecture } from '../src/ml/models.js';
import { train } from '../src/ml/train.js';
import type { ImageSet } from '../src/ml/types.js';
import { WASM_KERNELS, registerWasmKernels, unregisterWasmKernels } from '../src/ml/kernels/index.js';
import { NATIVE_KERNELS, setNativeGemm } from '../src/ml/kernels/native/index.js';

const { values: opts } = parseArgs({
  options: {
    steps: { type: 'string', default: '20' },
    batch: { type: 'string', default: '64' },
    'skip-before': { type: 'boolean', default: false },
    arch: { type: 'string', default: 'keras-cnn' },
    backend: { type: 'string', default: 'wasm' },
    gemm: { type: 'string', default: 'onednn' },
  },
});
const STEPS = Number(opts.steps);
if (!isArchitecture(opts.arch!)) throw new Error(`--arch: unknown architecture ${opts.arch}`);
const ARCH = opts.arch;
const BATCH = Number(opts.batch);
const BACKEND = opts.backend === 'native' ? 'native' : 'wasm';

interface Timing {
  wall: number;
  cpu: number;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Median wall/CPU ms of f over n runs after warm-up (f must finish its work synchronously). */
function measure(f: () => void, n = 8, warmup = 3): Timing {
  for (let i = 0; i < warmup; i++) f();
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < n; i++) {
    const c0 = cpuMs();
    const t0 = performance.now();
    f();
    walls.push(performance.now() - t0);
    cpus.push(cpuMs() - c0);
  }
  const med = (a: number[]) => a.sort((p, q) => p - q)[Math.floor(a.length / 2)];
  return { wall: med(walls), cpu: med(cpus) };
}

const fmt = (t: Timing | undefined) => (t ? `${t.cpu.toFixed(2).padStart(7)} cpu ${t.wall.toFixed(2).padStart(7)} wall` : '      n/a             ');

/** The gradient kernels a keras-cnn step runs, with its shapes at batch B. */
function stepKernels(B: number): Array<{ label: string; kernel: string; inputs: () => Record<string, tf.Tensor>; attrs: object }> {
  const rand = (shape: number[]) => () => tf.randomUniform(shape);
  const out: ReturnType<typeof stepKernels> = [];
  for (const [h, ci, co] of [
    [28, 1, 32],
    [13, 32, 64],
    [5, 64, 64],
  ]) {
    const o = h - 2;
    const conv = { strides: 1, pad: 'valid', dataFormat: 'NHWC' };
    out.push({ label: `Conv2D ${h}x${h}x${ci}→${co}`, kernel: tf.Conv2D, inputs: () => ({ x: rand([B, h, h, ci])(), filter: rand([3, 3, ci, co])() }), attrs: { ...conv, dilations: 1 } });
    out.push({ label: `Conv2DBackpropFilter ${h}x${h}x${ci}→${co}`, kernel: tf.Conv2DBackpropFilter, inputs: () => ({ x: rand([B, h, h, ci])(), dy: rand([B, o, o, co])() }), attrs: { ...conv, filterShape: [3, 3, ci, co] } });
    if (ci > 1) out.push({ label: `Conv2DBackpropInput ${h}x${h}x${ci}→${co}`, kernel: tf.Conv2DBackpropInput, inputs: () => ({ dy: rand([B, o, o, co])(), filter: rand([3, 3, ci, co])() }), attrs: { ...conv, inputShape: [B, h, h, ci] } });
    if (h > 5) {
      const p = Math.floor(o / 2);
      out.push({
        label: `MaxPoolGrad ${o}x${o}x${co}`,
        kernel: tf.MaxPoolGrad,
        inputs: () => ({ dy: rand([B, p, p, co])(), input: rand([B, o, o, co])(), output: rand([B, p, p, co])() }),
        attrs: { filterSize: 2, strides: 2, pad: 'valid' },
      });
    }
    out.push({ label: `Sum (bias grad) ${o}x${o}x${co}`, kernel: tf.Sum, inputs: () => ({ x: rand([B, o, o, co])() }), attrs: { axis: [0, 1, 2], keepDims: false } });
  }
  out.push({ label: 'BatchMatMul xᵀ·dy 576×64', kernel: tf.BatchMatMul, inputs: () => ({ a: rand([B, 576])(), b: rand([B, 64])() }), attrs: { transposeA: true, transposeB: false } });
  out.push({ label: 'BatchMatMul dy·Wᵀ 576×64', kernel: tf.BatchMatMul, inputs: () => ({ a: rand([B, 64])(), b: rand([576, 64])() }), attrs: { transposeA: false, transposeB: true } });
  return out;
}

function timeKernel(kernel: string, inputs: Record<string, tf.Tensor>, attrs: object, backend = 'wasm'): Timing | undefined {
  if (!tf.getKernel(kernel, backend)) return undefined;
  // wasm and native share one backend instance: switching moves no data.
  void tf.setBackend(backend);
  return measure(() => {
    const r = tf.engine().runKernel(kernel, inputs as unknown as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
    r.dispose();
  });
}

/** Wraps every kernel of `backend` to add up its CPU and wall time per (name, shapes) while `on`. */
function kernelProfiler(backend: string) {
  const rows = new Map<string, { name: string; shapes: string; cpu: number; wall: number; calls: number }>();
  let depth = 0;
  let on = false;
  const wrapped: tf.KernelConfig[] = [];
  for (const cfg of tf.getKernelsForBackend(backend)) {
    const inner = cfg.kernelFunc;
    const kernelFunc: tf.KernelFunc = (args) => {
      if (!on || depth > 0) return inner(args);
      depth++;
      const c0 = cpuMs();
      const t0 = performance.now();
      try {
        return inner(args);
      } finally {
        const wall = performance.now() - t0;
        const cpu = cpuMs() - c0;
        depth--;
        const shapes = Object.values(args.inputs).map((t) => `[${t?.shape}]`).join(',');
        const key = `${cfg.kernelName} ${shapes}`;
        const row = rows.get(key) ?? { name: cfg.kernelName, shapes, cpu: 0, wall: 0, calls: 0 };
        row.cpu += cpu;
        row.wall += wall;
        row.calls++;
        rows.set(key, row);
      }
    };
    tf.unregisterKernel(cfg.kernelName, backend);
    tf.registerKernel({ ...cfg, kernelFunc });
    wrapped.push(cfg);
  }
  return {
    rows,
    set on(v: boolean) {
      on = v;
    },
    restore() {
      for (const cfg of wrapped) {
        tf.unregisterKernel(cfg.kernelName, backend);
        tf.registerKernel(cfg);
      }
    },
  };
}

async function main() {
  const info = await initBackend(BACKEND);
  console.log(`backend ${info.name} simd=${info.simd} threads=${info.threads}; batch ${BATCH}`);
  if (BACKEND === 'native') {
    setNativeGemm(opts.gemm === 'openblas' ? 'openblas' : 'onednn');
    console.log('\nper kernel, ms (wasm backend, with our wasm kernels → native)');
    for (const c of stepKernels(BATCH)) {
      const inputs = c.inputs();
      const wasm = timeKernel(c.kernel, inputs, c.attrs, 'wasm');
      const native = timeKernel(c.kernel, inputs, c.attrs, 'native');
      tf.dispose(Object.values(inputs));
      const ours = NATIVE_KERNELS.some((k) => k.kernelName === c.kernel);
      console.log(`  ${c.label.padEnd(38)} ${fmt(wasm)}  → ${fmt(native)}${ours ? '' : '  (wasm kernel)'}`);
    }
    await tf.setBackend('native');
  }

  // 1. Per-kernel: package kernels vs ours.
  const cases = stepKernels(BATCH);
  const before = new Map<string, Timing | undefined>();
  if (!opts['skip-before'] && BACKEND === 'wasm') {
    unregisterWasmKernels();
    for (const c of cases) {
      const inputs = c.inputs();
      before.set(c.label, timeKernel(c.kernel, inputs, c.attrs));
      tf.dispose(Object.values(inputs));
    }
    registerWasmKernels();
  }
  if (BACKEND === 'wasm') console.log('\nper kernel, ms (package kernel → ours)');
  for (const c of BACKEND === 'wasm' ? cases : []) {
    const inputs = c.inputs();
    const after = timeKernel(c.kernel, inputs, c.attrs);
    tf.dispose(Object.values(inputs));
    const ours = WASM_KERNELS.some((k) => k.kernelName === c.kernel);
    console.log(`  ${c.label.padEnd(38)} ${opts['skip-before'] ? '' : `${fmt(before.get(c.label))}  →`} ${fmt(after)}${ours ? '' : '  (package kernel)'}`);
  }

  // 2. Training and inference throughput, through src/ml/train.ts as the jobs train (adam, batch BATCH).
  const model = buildModel(ARCH, { numClasses: 10, seed: 1 });
  console.log(`\n${ARCH}:`);
  const images = (n: number): ImageSet => ({
    images: Float32Array.from({ length: n * 784 }, () => Math.random()),
    labels: Uint8Array.from({ length: n }, () => Math.floor(Math.random() * 10)),
    count: n,
    height: 28,
    width: 28,
  });
  const trainSteps = (set: ImageSet) => train(model, { train: set }, { epochs: 1, batchSize: BATCH, optimizer: { type: 'adam', learningRate: 1e-3 }, seed: 1 });
  await trainSteps(images(Math.max(4, Math.ceil(320 / BATCH)) * BATCH)); // warm-up
  const tensors = tf.memory().numTensors;
  const steps = images(STEPS * BATCH);
  const c0 = cpuMs();
  const t0 = performance.now();
  await trainSteps(steps);
  const trainWall = performance.now() - t0;
  const trainCpu = cpuMs() - c0;
  console.log(`\ntraining: ${((STEPS * BATCH) / trainWall * 1000).toFixed(0)} samples/s wall (${((STEPS * BATCH) / trainCpu * 1000).toFixed(0)} per CPU-second), ${(trainWall / STEPS).toFixed(1)} ms/step; tensors ${tensors} → ${tf.memory().numTensors}`);

  const x = tf.tensor4d(steps.images.subarray(0, BATCH * 784), [BATCH, 28, 28, 1]);
  const predict = () => tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
  for (let i = 0; i < 5; i++) predict();
  const c1 = cpuMs();
  const t1 = performance.now();
  for (let i = 0; i < STEPS; i++) predict();
  const inferWall = performance.now() - t1;
  const inferCpu = cpuMs() - c1;
  console.log(`inference: ${((STEPS * BATCH) / inferWall * 1000).toFixed(0)} samples/s wall (${((STEPS * BATCH) / inferCpu * 1000).toFixed(0)} per CPU-second)`);

  // 3. Per-kernel profile of training steps (median-free: summed over a few steps, shown per step).
  const prof = kernelProfiler(BACKEND);
  const profSteps = 5;
  prof.on = true;
  const c2 = cpuMs();
  await trainSteps(images(profSteps * BATCH));
  const stepCpu = (cpuMs() - c2) / profSteps;
  prof.on = false;
  prof.restore();
  const rows = [...prof.rows.values()].sort((a, b) => b.cpu - a.cpu);
  const total = rows.reduce((s, r) => s + r.cpu, 0) / profSteps;
  console.log(`\nprofile of one training step: ${stepCpu.toFixed(1)} ms CPU, of which kernels ${total.toFixed(1)} ms`);
  for (const r of rows.slice(0, 25)) {
    console.log(`  ${(r.cpu / profSteps).toFixed(2).padStart(6)} ms cpu ${(r.wall / profSteps).toFixed(2).padStart(6)} wall  ${String(r.calls / profSteps).padStart(2)}×  ${r.name} ${r.shapes}`);
  }
  const rest = rows.slice(25).reduce((s, r) => s + r.cpu, 0) / profSteps;
  console.log(`  ${rest.toFixed(2).padStart(6)} ms  the other ${Math.max(0, rows.length - 25)} kernel/shape pairs`);

  x.dispose();
  model.dispose();
}

await main();
