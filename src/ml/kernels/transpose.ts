// Transpose for the wasm backend when it swaps the last two axes (a matrix, or a batch of them): the
// transposes of dense-layer backprop (dx = dy·Wᵀ) and of the conv gradients' GEMMs. The package's
// kernel took 6.8 ns per element for a [1024,128] matrix (0.9 ms); this one walks tiles so that
// the rows it reads and the rows it writes stay in cache (in wasm: simd.ts's `transpose`; the JS
// loop below, the fallback, is slow on the heap's shared memory too). Other permutations keep the
// package kernel, which is fast when the innermost axis stays in place.
import * as tf from '../tf.js';
import { heapOffset, simdKernels } from './simd.js';
import { type BackendWasm, type Info, f32, run } from './wasm_util.js';

const TILE = 32;

export function transposeKernel(args: { inputs: tf.NamedTensorInfoMap; backend: {}; attrs?: tf.NamedAttrMap }): Info {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: Info };
  const { perm } = args.attrs as unknown as tf.TransposeAttrs;
  const rank = x.shape.length;
  const swapsLastTwo = rank >= 2 && perm[rank - 2] === rank - 1 && perm[rank - 1] === rank - 2 && perm.slice(0, -2).every((p, i) => p === i);
  if (!swapsLastTwo || (x.dtype !== 'float32' && x.dtype !== 'int32')) {
    return run(backend, tf.Transpose, args.inputs as Record<string, Info>, args.attrs);
  }
  const rows = x.shape[rank - 2];
  const cols = x.shape[rank - 1];
  const out = backend.makeOutput([...x.shape.slice(0, -2), cols, rows], x.dtype);
  const simd = simdKernels(backend);
  if (simd) {
    simd.transpose(heapOffset(backend, x), heapOffset(backend, out), tf.util.sizeFromShape(x.shape) / (rows * cols || 1), rows, cols);
    return out;
  }
  // Float32 views move int32 bit patterns unchanged (plain element copies, no arithmetic).
  const src = f32(backend, x);
  const dst = f32(backend, out);
  const size = rows * cols;
  for (let base = 0; base < src.length; base += size) {
    for (let r0 = 0; r0 < rows; r0 += TILE) {
      const r1 = Math.min(rows, r0 + TILE);
      for (let c0 = 0; c0 < cols; c0 += TILE) {
        const c1 = Math.min(cols, c0 + TILE);
        for (let r = r0; r < r1; r++) {
          for (let c = c0, s = base + r * cols + c0, d = base + c0 * rows + r; c < c1; c++, s++, d += rows) dst[d] = src[s];
        }
      }
    }
  }
  return out;
}

export const transposeConfig: tf.KernelConfig = {
  kernelName: tf.Transpose,
  backendName: 'wasm',
  kernelFunc: transposeKernel,
};
