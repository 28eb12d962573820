// Conv2DBackpropFilter for the wasm backend (the wasm package has none, so CNN training throws).
//   dW[kh,kw,ci,co] = Σ_{b,oh,ow} xpad[b, oh·sh+kh, ow·sw+kw, ci] · dy[b,oh,ow,co]
// Both operands are long in the reduction dimension N = b·oh·ow, and XNNPACK copies ("packs") its
// weight operand on every call, so the cheapest formulation packs the smaller of dy (N·co) and the
// im2col matrix (N·kh·kw·ci):
// - `conv`: a convolution run by the backend's XNNPACK Conv2D with the input channels as batch and
//   the batch as channels, I[ci,h,w,b] = x[b,h,w,ci], and dy as the filter, F[oh,ow,b,co]; a stride-1
//   conv of I with F dilated by the forward stride gives O[ci,kh,kw,co] = dW[kh,kw,ci,co]. No im2col
//   matrix exists (XNNPACK reads I through an indirection buffer); dy is packed.
// - `gemm`: dWᵀ[co,K] = dyᵀ[co,N] · col[N,K] with col = im2col(x) packed; wins when K < co, e.g. the
//   first layer of an MNIST CNN (ci = 1), and when col is small enough (≤ 512K floats: measured on
//   the keras-cnn shapes, 5×5×64 → 3×3×64 takes ~25% less) that packing it costs little.
// - `rows`: dW[K,co] = rows[K,N] · dy[N,co] with rows = im2col(x)ᵀ built directly, so neither operand
//   nor the result needs a transpose; XNNPACK packs dy. Building the rows is cheap only with one
//   input channel (contiguous runs, see im2rowsOnHeap), where it takes the first layer's 5×5 gradient
//   from ~10 ms to ~4 ms (batch 64), so `auto` uses it there.
// None needs the package's slow transposed BatchMatMul.
import * as tf from '../tf.js';
import { type Geometry, im2colOnHeap, im2rowsOnHeap } from './im2col.js';
import { convGradStrategy } from './strategy.js';
import { type BackendWasm, type Info, f32, free, run, transpose, view } from './wasm_util.js';

type Conv2DInfo = tf.backend_util.Conv2DInfo;

export function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: {}; attrs?: tf.NamedAttrMap }): Info {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: Info; dy: Info };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  if (info.dataFormat !== 'channelsLast') throw new Error('wasm Conv2DBackpropFilter supports channelsLast only');
  const k = info.filterHeight * info.filterWidth * info.inChannels;
  const n = info.batchSize * info.outHeight * info.outWidth;
  const strategy = convGradStrategy();
  if (strategy === 'rows' || (strategy === 'auto' && info.inChannels === 1)) return viaRows(backend, x, dy, info);
  const useGemm = strategy === 'gemm' || (strategy === 'auto' && (2 * k <= info.outChannels || n * k <= 1 << 19));
  return useGemm ? viaGemm(backend, x, dy, info) : viaConv(backend, x, dy, info);
}

function viaConv(backend: BackendWasm, x: Info, dy: Info, info: Conv2DInfo): Info {
  const { inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  // Rows/cols of the padded input the gradient conv must cover: (out-1)·stride + filter. Extra rows at
  // the bottom/right (unused by the forward conv) only add output rows, which are dropped below.
  const bottom = Math.max(0, (outHeight - 1) * sh + filterHeight - inHeight - top);
  const right = Math.max(0, (outWidth - 1) * sw + filterWidth - inWidth - left);

  const xT = transpose(backend, x, [3, 1, 2, 0]); // [ci, H, W, b]
  const dyT = transpose(backend, dy, [1, 2, 0, 3]); // [oh, ow, b, co]
  const o = run(backend, tf.Conv2D, { x: xT, filter: dyT }, {
    strides: [1, 1],
    pad: [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ],
    dilations: [sh, sw],
    dataFormat: 'NHWC',
  } as unknown as tf.NamedAttrMap); // [ci, oH, oW, co] with oH >= kh, oW >= kw
  free(backend, xT, dyT);

  const out = backend.makeOutput([filterHeight, filterWidth, inChannels, outChannels], 'float32');
  const src = f32(backend, o);
  const dst = f32(backend, out);
  const [, oH, oW] = o.shape;
  // [ci, oH, oW, co] cropped to kh×kw → [kh, kw, ci, co]; the filter is small, a copy loop is cheapest.
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      for (let ci = 0; ci < inChannels; ci++) {
        const s = ((ci * oH + kh) * oW + kw) * outChannels;
        const d = ((kh * filterWidth + kw) * inChannels + ci) * outChannels;
        for (let co = 0; co < outChannels; co++) dst[d + co] = src[s + co];
      }
    }
  }
  free(backend, o);
  return out;
}

function geometry(info: Conv2DInfo): Geometry {
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    channels: info.inChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
  };
}

function viaRows(backend: BackendWasm, x: Info, dy: Info, info: Conv2DInfo): Info {
  const { batchSize, outHeight, outWidth, outChannels: co, filterHeight, filterWidth, inChannels } = info;
  const n = batchSize * outHeight * outWidth;
  const k = filterHeight * filterWidth * inChannels;
  const rows = backend.makeOutput([1, k, n], 'float32');
  im2rowsOnHeap(backend, x, geometry(info), rows);
  const prod = run(backend, tf.BatchMatMul, { a: rows, b: view(dy, [1, n, co]) }, { transposeA: false, transposeB: false }); // [1, K, co]
  free(backend, rows);
  return view(prod, [filterHeight, filterWidth, inChannels, co]);
}

function viaGemm(backend: BackendWasm, x: Info, dy: Info, info: Conv2DInfo): Info {
  const { batchSize, outHeight, outWidth, outChannels: co, filterHeight, filterWidth, inChannels } = info;
  const n = batchSize * outHeight * outWidth;
  const k = filterHeight * filterWidth * inChannels;
  const g = geometry(info);
  const dyT = transpose(backend, view(dy, [n, co]), [1, 0]); // [co, N]
  const col = backend.makeOutput([1, n, k], 'float32');
  im2colOnHeap(backend, x, g, col);
  const prod = run(backend, tf.BatchMatMul, { a: view(dyT, [1, co, n]), b: col }, { transposeA: false, transposeB: false }); // [1, co, K]
  free(backend, dyT, col);
  const out = backend.makeOutput([filterHeight, filterWidth, inChannels, co], 'float32');
  const src = f32(backend, prod);
  const dst = f32(backend, out);
  for (let c = 0; c < co; c++) for (let i = 0; i < k; i++) dst[i * co + c] = src[c * k + i];
  free(backend, prod);
  return out;
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter,
};
