// Conv2DBackpropFilter for the wasm backend (the wasm package has none, so CNN training throws).
//
// The filter gradient is itself a convolution, run by the backend's XNNPACK Conv2D:
//   dW[kh,kw,ci,co] = Σ_{b,oh,ow} xpad[b, oh·sh+kh, ow·sw+kw, ci] · dy[b,oh,ow,co]
// Take the input channels as the batch and the batch as the channels, I[ci,h,w,b] = x[b,h,w,ci], and
// dy as the filter, F[oh,ow,b,co] = dy[b,oh,ow,co]; then a stride-1 convolution of I with F dilated by
// the forward stride gives O[ci,kh,kw,co] = dW[kh,kw,ci,co]. No im2col matrix is materialised
// (XNNPACK's indirect GEMM reads I in place) and no transposeA matmul is needed.
import * as tf from '../tf.js';
import { type BackendWasm, type Info, f32, free, run, transpose } from './wasm_util.js';

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
  const { inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;

  // Rows/cols of the padded input the gradient conv must cover: (out-1)·stride + filter. Extra rows at
  // the bottom/right (unused by the forward conv) only add output rows, which are dropped below.
  const bottom = Math.max(0, (outHeight - 1) * sh + filterHeight - inHeight - top);
  const right = Math.max(0, (outWidth - 1) * sw + filterWidth - inWidth - left);

  const xT = transpose(backend, x, [3, 1, 2, 0]); // [ci, H, W, b]
  const dyT = transpose(backend, dy, [1, 2, 0, 3]); // [oh, ow, b, co]
  const o = run(
    backend,
    tf.Conv2D,
    { x: xT, filter: dyT },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ],
      dilations: [sh, sw],
      dataFormat: 'NHWC',
    } as unknown as tf.NamedAttrMap,
  ); // [ci, oH, oW, co] with oH >= kh, oW >= kw
  free(backend, xT, dyT);

  const out = backend.makeOutput([filterHeight, filterWidth, inChannels, outChannels], 'float32');
  const src = f32(backend, o);
  const dst = f32(backend, out);
  const [, oH, oW] = o.shape;
  // [ci, oH, oW, co] (cropped to kh×kw) → [kh, kw, ci, co]; the filter is small, a copy loop is cheapest.
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      for (let ci = 0; ci < inChannels; ci++) {
        const s = ((ci * oH + kh) * oW + kw) * outChannels;
        dst.set(src.subarray(s, s + outChannels), ((kh * filterWidth + kw) * inChannels + ci) * outChannels);
      }
    }
  }
  free(backend, o);
  return out;
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter,
};
