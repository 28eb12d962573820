// BatchMatMul for the wasm backend. The package hands a matmul to XNNPACK only when neither operand
// is transposed and there is a single batch; otherwise it falls back to a scalar loop, ~13× slower.
// Backprop through dense layers asks for exactly those transposes (dW = xᵀ·dy, dx = dy·Wᵀ), so we
// transpose the operand explicitly with the (fast) Transpose kernel and take the XNNPACK path.
import * as tf from '../tf.js';
import { type BackendWasm, type Info, free, run, transpose } from './wasm_util.js';

function swapLast(rank: number): number[] {
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

export function batchMatMul(args: { inputs: tf.NamedTensorInfoMap; backend: {}; attrs?: tf.NamedAttrMap }): Info {
  const backend = args.backend as BackendWasm;
  const { a, b } = args.inputs as { a: Info; b: Info };
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  const single = (t: Info) => tf.util.sizeFromShape(t.shape.slice(0, -2)) === 1;
  if ((!transposeA && !transposeB) || !single(a) || !single(b) || a.dtype !== 'float32' || b.dtype !== 'float32') {
    return run(backend, tf.BatchMatMul, args.inputs as Record<string, Info>, args.attrs);
  }
  const a2 = transposeA ? transpose(backend, a, swapLast(a.shape.length)) : a;
  const b2 = transposeB ? transpose(backend, b, swapLast(b.shape.length)) : b;
  const out = run(backend, tf.BatchMatMul, { a: a2, b: b2 }, { transposeA: false, transposeB: false });
  if (a2 !== a) free(backend, a2);
  if (b2 !== b) free(backend, b2);
  return out;
}

export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: 'wasm',
  kernelFunc: batchMatMul,
};
