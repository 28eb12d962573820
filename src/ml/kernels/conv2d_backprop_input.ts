// Conv2DBackpropInput for the wasm backend. The package's own kernel is a scalar C++ loop (~9× the
// forward conv); this one uses XNNPACK through the package's kernels, in one of two formulations:
// - `conv`: dx = conv2d(zero-inserted dy, W rotated 180° with in/out channels swapped), stride 1,
//   padded by (filter-1-pad) before and whatever makes the output the input's size after. It also
//   multiplies the zero padding, i.e. costs H·W/(oh·ow) times the forward conv, and strides > 1
//   insert stride-1 zeros between dy elements (wasteful, but our models use stride 1).
// - `gemm`: col[N,K] = dy[N,co] · Wᵀ[co,K] (exactly the forward FLOPs), then col2im adds the columns
//   back into dx (wasm SIMD, or a JS loop). Chosen when the padding overhead above outweighs writing
//   and re-reading that matrix, i.e. for small feature maps (5×5 → 3×3: 2.8× fewer multiplies).
import * as tf from '../tf.js';
import { type Geometry, col2imOnHeap } from './im2col.js';
import { convGradStrategy } from './strategy.js';
import { type BackendWasm, type Info, f32, free, run, view } from './wasm_util.js';

/** dataIds of filters whose convolution's input gradient is known to be discarded (see below). */
const unusedInputGradients = new WeakSet<object>();

/**
 * Runs `f` (e.g. one training step) telling this kernel that gradients with respect to the inputs of
 * convolutions by `filters` will be thrown away, so it returns zeros instead of computing them.
 * Why: tfjs-core's fused conv2d (what tfjs-layers uses for a linear conv, e.g. strong-cnn's conv1)
 * computes its gradient for every input eagerly, and the engine only then drops the ones that are
 * not needed. For a model's first layer that is the gradient for the images: ~19 ms of a ~150 ms
 * strong-cnn step, for nothing. The filter's dataId identifies the layer; a variable gets a new
 * dataId at every update, so callers pass the current tensors for each step.
 */
export function withoutInputGradient<T>(filters: readonly tf.Tensor[], f: () => T): T {
  const ids = filters.map((t) => t.dataId as object);
  for (const id of ids) unusedInputGradients.add(id);
  try {
    return f();
  } finally {
    for (const id of ids) unusedInputGradients.delete(id);
  }
}

/** Whether the input gradient of a convolution by `filter` will be discarded (the native kernel asks too). */
export function inputGradientUnused(filter: tf.TensorInfo): boolean {
  return unusedInputGradients.has(filter.dataId as object);
}

/**
 * Cost of producing and adding back one column element, in multiply-adds of XNNPACK time (measured
 * order of magnitude: the GEMM writes the [N,K] matrix, col2im reads it and updates dx).
 */
const COL2IM_COST_IN_MACS = 30;

export function conv2DBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: {}; attrs?: tf.NamedAttrMap }): Info {
  const backend = args.backend as BackendWasm;
  const { dy, filter } = args.inputs as { dy: Info; filter: Info };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  if (inputGradientUnused(filter)) {
    const zeros = backend.makeOutput(info.inShape, 'float32');
    f32(backend, zeros).fill(0);
    return zeros;
  }
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  if (info.dataFormat === 'channelsLast') {
    const strategy = convGradStrategy();
    const convMacs = batchSize * inHeight * inWidth * inChannels * kh * kw * outChannels;
    const n = batchSize * outHeight * outWidth;
    const gemmMacs = n * kh * kw * inChannels * (outChannels + COL2IM_COST_IN_MACS);
    if (strategy === 'gemm' || (strategy !== 'conv' && gemmMacs < convMacs)) return viaGemm(backend, dy, filter, info);
  }
  const dilH = (outHeight - 1) * sh + 1;
  const dilW = (outWidth - 1) * sw + 1;
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = inHeight + kh - 1 - top - dilH;
  const right = inWidth + kw - 1 - left - dilW;
  if (info.dataFormat !== 'channelsLast' || top < 0 || left < 0 || bottom < 0 || right < 0) {
    // Paddings wider than the filter (explicit pads only): keep the package's kernel.
    return run(backend, tf.Conv2DBackpropInput, args.inputs as Record<string, Info>, args.attrs);
  }

  // W[kh,kw,ci,co] → Wr[kh-1-i, kw-1-j, co, ci]; small, so a copy loop.
  const wr = backend.makeOutput([kh, kw, outChannels, inChannels], 'float32');
  let dyIn: Info = dy;
  if (sh > 1 || sw > 1) dyIn = backend.makeOutput([batchSize, dilH, dilW, outChannels], 'float32');
  {
    const w = f32(backend, filter);
    const r = f32(backend, wr);
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const src = (i * kw + j) * inChannels * outChannels;
        const dst = ((kh - 1 - i) * kw + (kw - 1 - j)) * outChannels * inChannels;
        for (let ci = 0; ci < inChannels; ci++) {
          for (let co = 0; co < outChannels; co++) r[dst + co * inChannels + ci] = w[src + ci * outChannels + co];
        }
      }
    }
    if (dyIn !== dy) {
      const s = f32(backend, dy);
      const d = f32(backend, dyIn);
      d.fill(0);
      for (let b = 0; b < batchSize; b++) {
        for (let y = 0; y < outHeight; y++) {
          for (let x = 0; x < outWidth; x++) {
            const from = ((b * outHeight + y) * outWidth + x) * outChannels;
            d.set(s.subarray(from, from + outChannels), ((b * dilH + y * sh) * dilW + x * sw) * outChannels);
          }
        }
      }
    }
  }
  const dx = run(
    backend,
    tf.Conv2D,
    { x: dyIn, filter: wr },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ],
      dilations: [1, 1],
      dataFormat: 'NHWC',
    } as unknown as tf.NamedAttrMap,
  );
  free(backend, wr);
  if (dyIn !== dy) free(backend, dyIn);
  return dx;
}

function viaGemm(backend: BackendWasm, dy: Info, filter: Info, info: tf.backend_util.Conv2DInfo): Info {
  const { batchSize, outHeight, outWidth, outChannels: co, filterHeight, filterWidth, inChannels } = info;
  const n = batchSize * outHeight * outWidth;
  const k = filterHeight * filterWidth * inChannels;
  const wT = backend.makeOutput([1, co, k], 'float32');
  {
    const w = f32(backend, filter);
    const t = f32(backend, wT);
    for (let i = 0; i < k; i++) for (let c = 0; c < co; c++) t[c * k + i] = w[i * co + c];
  }
  const col = run(backend, tf.BatchMatMul, { a: view(dy, [1, n, co]), b: wT }, { transposeA: false, transposeB: false }); // [1, N, K]
  free(backend, wT);
  const dx = backend.makeOutput(info.inShape, 'float32');
  const g: Geometry = {
    batch: batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    channels: inChannels,
    filterHeight,
    filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
    outHeight,
    outWidth,
  };
  col2imOnHeap(backend, col, g, dx);
  free(backend, col);
  return dx;
}

export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput,
};
