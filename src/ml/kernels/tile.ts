// Tile for the wasm backend. Batch-norm gradients tile per-channel vectors to a whole activation
// ([1,1,1,C] → [64,12,12,C]); the package's kernel computes a source index per output element, which
// took 23 ms of a 170 ms strong-cnn training step. Here each input row is copied once and every
// repetition is a block copy of what is already written, doubling (memmove through copyWithin), so
// the cost is that of writing the output: ~0.1 ms for the same tile. 4-byte dtypes only (float32 and
// int32, copied bit for bit); others keep the package kernel.
import * as tf from '../tf.js';
import { type BackendWasm, type Info, f32, run } from './wasm_util.js';

export function tile(args: { inputs: tf.NamedTensorInfoMap; backend: {}; attrs?: tf.NamedAttrMap }): Info {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: Info };
  const { reps } = args.attrs as unknown as tf.TileAttrs;
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || reps.length !== x.shape.length || x.shape.length === 0) {
    return run(backend, tf.Tile, args.inputs as Record<string, Info>, args.attrs);
  }
  const inShape = x.shape;
  const rank = inShape.length;
  const outShape = inShape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (tf.util.sizeFromShape(outShape) === 0) return out;

  // A float32 view moves int32 bit patterns unchanged: set() and copyWithin() copy bytes.
  const src = f32(backend, x);
  const dst = f32(backend, out);
  // inStride[d]: input elements per step along d; block[d]: output elements of one index along d.
  const inStride = new Array<number>(rank);
  const block = new Array<number>(rank);
  inStride[rank - 1] = 1;
  block[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) {
    inStride[d] = inStride[d + 1] * inShape[d + 1];
    block[d] = block[d + 1] * outShape[d + 1];
  }

  /** Copies `length` elements at `at` so that they appear `times` times in a row (doubling). */
  const repeat = (at: number, length: number, times: number) => {
    for (let done = 1; done < times; ) {
      const n = Math.min(done, times - done);
      dst.copyWithin(at + done * length, at, at + n * length);
      done += n;
    }
  };
  /** Writes the output block of axis d (all of axes d.. for one index of the axes before it). */
  const fill = (d: number, from: number, at: number) => {
    const size = inShape[d];
    if (d === rank - 1) {
      dst.set(src.subarray(from, from + size), at);
    } else {
      for (let i = 0; i < size; i++) fill(d + 1, from + i * inStride[d], at + i * block[d]);
    }
    repeat(at, size * block[d], reps[d]);
  };
  fill(0, 0, 0);
  return out;
}

export const tileConfig: tf.KernelConfig = {
  kernelName: tf.Tile,
  backendName: 'wasm',
  kernelFunc: tile,
};
