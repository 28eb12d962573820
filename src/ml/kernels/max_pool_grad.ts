// MaxPoolGrad for the wasm backend. The package's kernel takes ~30× MaxPool; this one is a single
// pass over the input, in wasm SIMD (simd.ts) or, without it, plain JS on the wasm heap. Composing
// mask ops from the package's kernels cannot express "first max only", and its MaxPoolWithArgmax +
// ScatterNd measured as slow as its MaxPoolGrad. Semantics match the cpu kernel: each output's
// gradient goes to ONE input, the first strictly greatest value of its window in row-major order
// (none when the window holds only NaN/-Infinity); overlapping windows add up.
import * as tf from '../tf.js';
import { heapOffset, simdKernels } from './simd.js';
import { type BackendWasm, type Info, f32 } from './wasm_util.js';

export function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: {}; attrs?: tf.NamedAttrMap }): Info {
  const backend = args.backend as BackendWasm;
  const { dy, input } = args.inputs as { dy: Info; input: Info };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { top, left } = info.padInfo;

  const out = backend.makeOutput(input.shape, 'float32');
  const simd = simdKernels(backend);
  if (simd) {
    const at = (t: Info) => heapOffset(backend, t);
    simd.maxPoolGrad(at(input), at(dy), at(out), batchSize, H, W, C, OH, OW, fh, fw, sh, sw, top, left);
    return out;
  }
  const x = f32(backend, input);
  const g = f32(backend, dy);
  const dx = f32(backend, out);
  dx.fill(0);
  const rowStride = W * C;
  for (let b = 0; b < batchSize; b++) {
    const xb = b * H * rowStride;
    let gi = b * OH * OW * C;
    for (let oy = 0; oy < OH; oy++) {
      const y0 = oy * sh - top;
      const yStart = Math.max(0, y0);
      const yEnd = Math.min(H, y0 + fh);
      for (let ox = 0; ox < OW; ox++) {
        const x0 = ox * sw - left;
        const xStart = Math.max(0, x0);
        const xEnd = Math.min(W, x0 + fw);
        const first = xb + yStart * rowStride + xStart * C;
        for (let c = 0; c < C; c++, gi++) {
          // Row-major scan of the window; strict > keeps the first of tied maxima.
          let best = -Infinity;
          let at = -1;
          for (let y = yStart, r = first + c; y < yEnd; y++, r += rowStride) {
            for (let xx = xStart, i = r; xx < xEnd; xx++, i += C) {
              const v = x[i];
              if (v > best) {
                best = v;
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] += g[gi];
        }
      }
    }
  }
  return out;
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad,
};
