// Sum for the wasm backend when it reduces the leading axes (e.g. a bias gradient: dy[b,h,w,c] → [c]).
// The package's kernel first transposes the reduced axes to the end, which costs ~10× the sum itself
// on conv-sized tensors; summing rows in place is one pass (wasm SIMD, or JS without it). Other
// reductions keep the package kernel.
import * as tf from '../tf.js';
import { heapOffset, simdKernels } from './simd.js';
import { type BackendWasm, type Info, f32, free, run } from './wasm_util.js';

export function sum(args: { inputs: tf.NamedTensorInfoMap; backend: {}; attrs?: tf.NamedAttrMap }): Info {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: Info };
  const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const r = axes.length;
  const leading = r > 0 && r < x.shape.length && axes.every((a, i) => a === i);
  if (!leading || x.dtype !== 'float32') return run(backend, tf.Sum, args.inputs as Record<string, Info>, args.attrs);

  const rows = tf.util.sizeFromShape(x.shape.slice(0, r));
  const cols = tf.util.sizeFromShape(x.shape.slice(r));
  const outShape = keepDims ? x.shape.map((d, i) => (i < r ? 1 : d)) : x.shape.slice(r);
  const out = backend.makeOutput(outShape, 'float32');
  const simd = simdKernels(backend);
  if (simd) {
    const scratch = backend.makeOutput([2 * cols], 'float32'); // float64 accumulators
    simd.sumRows(heapOffset(backend, x), rows, cols, heapOffset(backend, out), heapOffset(backend, scratch));
    free(backend, scratch);
    return out;
  }
  const src = f32(backend, x);
  const acc = new Float64Array(cols);
  for (let i = 0, p = 0; i < rows; i++) for (let c = 0; c < cols; c++) acc[c] += src[p++];
  f32(backend, out).set(acc);
  return out;
}

export const sumConfig: tf.KernelConfig = {
  kernelName: tf.Sum,
  backendName: 'wasm',
  kernelFunc: sum,
};
