// Helpers for kernels that run on the wasm backend and are built from its own kernels.
//
// Inner kernels are called directly through their registered kernelFunc (not through the engine):
// no tape, no profiling entry, no Tensor objects; the caller owns every TensorInfo it gets back and
// must release it with `free`. Views (`view`) share the dataId of their source and are never freed.
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '../tf.js';

export type { BackendWasm };
export type Info = tf.TensorInfo;
type Attrs = tf.NamedAttrMap;

/** The wasm package's own kernel configs, captured before we replace any of them. */
const originals = new Map<string, tf.KernelConfig>();

export function rememberOriginal(name: string): tf.KernelConfig | undefined {
  if (!originals.has(name)) {
    const cfg = tf.getKernel(name, 'wasm');
    if (cfg) originals.set(name, cfg);
  }
  return originals.get(name);
}

/** Runs the wasm package's implementation of `name` (the original, even if we replaced it). */
export function run(backend: BackendWasm, name: string, inputs: Record<string, Info>, attrs: Attrs = {}): Info {
  const cfg = originals.get(name) ?? tf.getKernel(name, 'wasm');
  if (!cfg) throw new Error(`wasm kernel ${name} is not registered`);
  return cfg.kernelFunc({ inputs, backend, attrs }) as Info;
}

export function free(backend: BackendWasm, ...infos: Info[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** The same data under another shape (like Reshape, without touching the refcount). */
export function view(info: Info, shape: number[]): Info {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** Float32 view onto the wasm heap. Re-fetch after any allocation: heap growth detaches views. */
export function f32(backend: BackendWasm, info: Info): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Transpose through the kernel registered now: ours (transpose.ts) for matrix transposes, once registered. */
export function transpose(backend: BackendWasm, x: Info, perm: number[]): Info {
  const cfg = tf.getKernel(tf.Transpose, 'wasm');
  if (!cfg) throw new Error('wasm kernel Transpose is not registered');
  return cfg.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as Info;
}
