// im2col / col2im on NHWC float32 data: the JS fallbacks of simd.ts's versions, which run on the
// same heap layout and are preferred when available (`im2colOnHeap`, `col2imOnHeap`).
//
// Hand-rolled because no library exposes them on the wasm backend's heap; they are used only where
// they save a larger GEMM or a costlier packing inside XNNPACK (see the kernels that call them).
// The column layout is [N = b·oh·ow, K = kh·kw·c], K in (kh, kw, c) order so that it matches a
// [kh, kw, c, co] filter viewed as [K, co].

import { heapOffset, simdKernels } from './simd.js';
import { type BackendWasm, type Info, f32 } from './wasm_util.js';

export interface Geometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  channels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
  outHeight: number;
  outWidth: number;
}

/** col[n, (i, j, c)] = x[b, oy·sh + i - padTop, ox·sw + j - padLeft, c], zero outside the input. */
export function im2col(x: Float32Array, g: Geometry, col: Float32Array): void {
  const { batch, inHeight: H, inWidth: W, channels: C, filterHeight: KH, filterWidth: KW } = g;
  const { strideHeight: SH, strideWidth: SW, padTop, padLeft, outHeight: OH, outWidth: OW } = g;
  let p = 0;
  for (let b = 0; b < batch; b++) {
    const xb = b * H * W * C;
    for (let oy = 0; oy < OH; oy++) {
      const y0 = oy * SH - padTop;
      for (let ox = 0; ox < OW; ox++) {
        const x0 = ox * SW - padLeft;
        for (let i = 0; i < KH; i++) {
          const y = y0 + i;
          if (y < 0 || y >= H) {
            col.fill(0, p, p + KW * C);
            p += KW * C;
            continue;
          }
          const row = xb + y * W * C;
          for (let j = 0; j < KW; j++) {
            const xx = x0 + j;
            if (xx < 0 || xx >= W) {
              for (let c = 0; c < C; c++) col[p++] = 0;
            } else {
              const s = row + xx * C;
              for (let c = 0; c < C; c++) col[p++] = x[s + c];
            }
          }
        }
      }
    }
  }
}

/** dx[b, oy·sh + i - padTop, ox·sw + j - padLeft, c] += col[n, (i, j, c)]; dx must be zeroed. */
export function col2im(col: Float32Array, g: Geometry, dx: Float32Array): void {
  const { batch, inHeight: H, inWidth: W, channels: C, filterHeight: KH, filterWidth: KW } = g;
  const { strideHeight: SH, strideWidth: SW, padTop, padLeft, outHeight: OH, outWidth: OW } = g;
  let p = 0;
  for (let b = 0; b < batch; b++) {
    const xb = b * H * W * C;
    for (let oy = 0; oy < OH; oy++) {
      const y0 = oy * SH - padTop;
      for (let ox = 0; ox < OW; ox++) {
        const x0 = ox * SW - padLeft;
        for (let i = 0; i < KH; i++) {
          const y = y0 + i;
          if (y < 0 || y >= H) {
            p += KW * C;
            continue;
          }
          const row = xb + y * W * C;
          for (let j = 0; j < KW; j++) {
            const xx = x0 + j;
            if (xx < 0 || xx >= W) {
              p += C;
            } else {
              const d = row + xx * C;
              for (let c = 0; c < C; c++) dx[d + c] += col[p++];
            }
          }
        }
      }
    }
  }
}

function args(g: Geometry) {
  return [
    g.batch,
    g.inHeight,
    g.inWidth,
    g.channels,
    g.filterHeight,
    g.filterWidth,
    g.strideHeight,
    g.strideWidth,
    g.padTop,
    g.padLeft,
    g.outHeight,
    g.outWidth,
  ] as const;
}

/** Fills `col` ([N, K] float32) from `x` (NHWC). */
export function im2colOnHeap(backend: BackendWasm, x: Info, g: Geometry, col: Info): void {
  const simd = simdKernels(backend);
  if (simd) simd.im2col(heapOffset(backend, x), heapOffset(backend, col), ...args(g));
  else im2col(f32(backend, x), g, f32(backend, col));
}

/** Sets `dx` (NHWC) to the col2im sum of `col`. */
export function col2imOnHeap(backend: BackendWasm, col: Info, g: Geometry, dx: Info): void {
  const simd = simdKernels(backend);
  if (simd) {
    simd.col2im(heapOffset(backend, col), heapOffset(backend, dx), ...args(g));
  } else {
    const d = f32(backend, dx);
    d.fill(0);
    col2im(f32(backend, col), g, d);
  }
}

/**
 * Fills `rows` ([K, N] float32) with the transpose of im2col's matrix: rows[(i, j, c), n]. With one
 * input channel (the first layer of an MNIST model) and stride 1, each row is made of contiguous
 * runs of the image, moved with copyWithin on the heap: no per-run allocation, ~1 ms for 5×5 over a
 * batch of 64 28×28 images. Other layouts take an element at a time.
 */
export function im2rowsOnHeap(backend: BackendWasm, x: Info, g: Geometry, rows: Info): void {
  const { batch, inHeight: H, inWidth: W, channels: C, filterHeight: KH, filterWidth: KW } = g;
  const { strideHeight: SH, strideWidth: SW, padTop, padLeft, outHeight: OH, outWidth: OW } = g;
  const heap = (backend.wasm as unknown as { HEAPF32: Float32Array }).HEAPF32;
  const X = heapOffset(backend, x) / 4;
  let p = heapOffset(backend, rows) / 4;
  for (let i = 0; i < KH; i++) {
    for (let j = 0; j < KW; j++) {
      // Output columns whose input column ox·SW + j - padLeft lies inside [0, W).
      const lo = Math.min(OW, Math.max(0, Math.ceil((padLeft - j) / SW)));
      const hi = Math.max(lo, Math.min(OW, Math.floor((W - 1 - j + padLeft) / SW) + 1));
      for (let c = 0; c < C; c++) {
        for (let b = 0; b < batch; b++) {
          for (let oy = 0; oy < OH; oy++, p += OW) {
            const y = oy * SH + i - padTop;
            if (y < 0 || y >= H) {
              heap.fill(0, p, p + OW);
              continue;
            }
            heap.fill(0, p, p + lo);
            heap.fill(0, p + hi, p + OW);
            const first = X + ((b * H + y) * W + lo * SW + j - padLeft) * C + c; // input of column lo
            if (C === 1 && SW === 1) {
              heap.copyWithin(p + lo, first, first + (hi - lo));
            } else {
              for (let ox = lo, s = first; ox < hi; ox++, s += SW * C) heap[p + ox] = heap[s];
            }
          }
        }
      }
    }
  }
}
