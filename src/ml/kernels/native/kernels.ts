// The kernels of the `native` backend that differ from wasm's: convolutions (forward with bias and
// ReLU fused, backward data, backward filter) through oneDNN, matrix products through a GEMM, and
// max-pooling. They run on the wasm backend's own tensors: inputs and outputs are Float32Array
// views onto its heap, which the addon reads and writes in place, so nothing is copied. Anything a
// kernel does not cover (other dtypes, layouts, activations, broadcasts) runs the wasm kernel.
import * as tf from '../../tf.js';
import { inputGradientUnused } from '../conv2d_backprop_input.js';
import type { BackendWasm, Info } from '../wasm_util.js';
import { type NativeAddon, batchNormGeometry, convGeometry, poolGeometry } from './addon.js';
import { batchNormImpl } from './batch-norm.js';

type Args = { inputs: tf.NamedTensorInfoMap; backend: {}; attrs?: tf.NamedAttrMap };

let addon: NativeAddon;
/** 0: oneDNN's sgemm, 1: OpenBLAS. */
let gemm = 0;

export function bindAddon(a: NativeAddon): void {
  addon = a;
}

/**
 * Which GEMM the matrix products use. oneDNN's sgemm is the default: measured on the dense-layer
 * shapes of the models (bench/kernels.ts --native) it was as fast as OpenBLAS or faster, and it
 * shares oneDNN's OpenMP threads instead of starting a second pool of its own.
 */
export function setNativeGemm(which: 'onednn' | 'openblas'): void {
  gemm = which === 'openblas' ? 1 : 0;
}

/** Calls per kernel name that fell back to the wasm kernel (tests and benchmarks read it). */
export const nativeFallbacks = new Map<string, number>();

/** Runs the wasm backend's kernel for `name` (ours from src/ml/kernels where we replaced one). */
function wasm(name: string, args: Args): Info {
  nativeFallbacks.set(name, (nativeFallbacks.get(name) ?? 0) + 1);
  const cfg = tf.getKernel(name, 'wasm');
  if (!cfg) throw new Error(`wasm kernel ${name} is not registered`);
  return cfg.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as Info;
}

/** Allocates the output first, then takes every view: an allocation may grow (detach) the heap. */
function withOutput(backend: BackendWasm, shape: number[], f: (view: (t: Info) => Float32Array, out: Float32Array) => void): Info {
  const out = backend.makeOutput(shape, 'float32');
  const view = (t: Info) => backend.typedArrayFromHeap(t) as Float32Array;
  f(view, view(out));
  return out;
}

const f32 = (...ts: Array<Info | undefined>) => ts.every((t) => !t || t.dtype === 'float32');

function convInfo(xShape: number[], filterShape: number[], attrs: { strides: number | [number, number]; pad: unknown; dimRoundingMode?: 'floor' | 'round' | 'ceil' }, dilations: number | [number, number] = 1) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    dilations,
    attrs.pad as 'valid' | 'same' | number | tf.backend_util.ExplicitPadding,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

function conv2d(args: Args): Info {
  const backend = args.backend as BackendWasm;
  const { x, filter } = args.inputs as { x: Info; filter: Info };
  const attrs = args.attrs as unknown as tf.Conv2DAttrs;
  if (attrs.dataFormat !== 'NHWC' || !f32(x, filter)) return wasm(tf.Conv2D, args);
  const info = convInfo(x.shape, filter.shape, attrs, attrs.dilations);
  return withOutput(backend, info.outShape, (v, y) => addon.conv2d(v(x), v(filter), null, y, convGeometry(info), false));
}

function fusedConv2d(args: Args): Info {
  const backend = args.backend as BackendWasm;
  const { x, filter, bias, preluActivationWeights } = args.inputs as { x: Info; filter: Info; bias?: Info; preluActivationWeights?: Info };
  const attrs = args.attrs as unknown as tf.FusedConv2DAttrs;
  const act = attrs.activation ?? 'linear';
  const outChannels = filter.shape[3];
  if (
    attrs.dataFormat !== 'NHWC' || !f32(x, filter, bias) || preluActivationWeights || (act !== 'linear' && act !== 'relu') ||
    (bias && tf.util.sizeFromShape(bias.shape) !== outChannels)
  ) {
    return wasm(tf.FusedConv2D, args);
  }
  const info = convInfo(x.shape, filter.shape, attrs, attrs.dilations);
  return withOutput(backend, info.outShape, (v, y) => addon.conv2d(v(x), v(filter), bias ? v(bias) : null, y, convGeometry(info), act === 'relu'));
}

function conv2dBackpropInput(args: Args): Info {
  const backend = args.backend as BackendWasm;
  const { dy, filter } = args.inputs as { dy: Info; filter: Info };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (attrs.dataFormat !== 'NHWC' || !f32(dy, filter)) return wasm(tf.Conv2DBackpropInput, args);
  // A model's first conv: the gradient for the images is thrown away (see withoutInputGradient).
  if (inputGradientUnused(filter)) return withOutput(backend, attrs.inputShape, (_, dx) => dx.fill(0));
  const info = convInfo(attrs.inputShape, filter.shape, attrs);
  return withOutput(backend, attrs.inputShape, (v, dx) => addon.conv2dBackpropInput(v(dy), v(filter), dx, convGeometry(info)));
}

function conv2dBackpropFilter(args: Args): Info {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: Info; dy: Info };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (attrs.dataFormat !== 'NHWC' || !f32(x, dy)) return wasm(tf.Conv2DBackpropFilter, args);
  const info = convInfo(x.shape, attrs.filterShape, attrs);
  return withOutput(backend, attrs.filterShape, (v, dw) => addon.conv2dBackpropFilter(v(x), v(dy), dw, convGeometry(info)));
}

/** Batch sizes when one side is unbatched or both have the same batch shape; else undefined. */
function batches(a: number[], b: number[]): { batchA: number; batchB: number; shape: number[] } | undefined {
  const ba = a.slice(0, -2);
  const bb = b.slice(0, -2);
  const batchA = tf.util.sizeFromShape(ba);
  const batchB = tf.util.sizeFromShape(bb);
  if (batchA === 1) return { batchA, batchB, shape: bb.length >= ba.length ? bb : ba };
  if (batchB === 1) return { batchA, batchB, shape: ba.length >= bb.length ? ba : bb };
  if (tf.util.arraysEqual(ba, bb)) return { batchA, batchB, shape: ba };
  return undefined;
}

function matmul(args: Args, fused: boolean): Info {
  const backend = args.backend as BackendWasm;
  const { a, b, bias, preluActivationWeights } = args.inputs as { a: Info; b: Info; bias?: Info; preluActivationWeights?: Info };
  const attrs = args.attrs as unknown as tf._FusedMatMulAttrs;
  const name = fused ? tf._FusedMatMul : tf.BatchMatMul;
  const act = fused ? (attrs.activation ?? 'linear') : 'linear';
  const ta = attrs.transposeA;
  const tb = attrs.transposeB;
  const m = a.shape[a.shape.length - (ta ? 1 : 2)];
  const k = a.shape[a.shape.length - (ta ? 2 : 1)];
  const n = b.shape[b.shape.length - (tb ? 2 : 1)];
  const bt = batches(a.shape, b.shape);
  if (
    !bt || a.shape.length < 2 || b.shape.length < 2 || !f32(a, b, bias) || preluActivationWeights || (act !== 'linear' && act !== 'relu') ||
    (bias && (tf.util.sizeFromShape(bias.shape) !== n || bias.shape[bias.shape.length - 1] !== n))
  ) {
    return wasm(name, args);
  }
  const params = Int32Array.of(bt.batchA, bt.batchB, m, n, k, ta ? 1 : 0, tb ? 1 : 0, act === 'relu' ? 1 : 0, gemm);
  return withOutput(backend, [...bt.shape, m, n], (v, c) => addon.matmul(v(a), v(b), c, params, bias ? v(bias) : null));
}

function poolInfo(shape: number[], attrs: tf.MaxPoolAttrs) {
  return tf.backend_util.computePool2DInfo(shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
}

function maxPool(args: Args): Info {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: Info };
  if (!f32(x)) return wasm(tf.MaxPool, args);
  const info = poolInfo(x.shape, args.attrs as unknown as tf.MaxPoolAttrs);
  return withOutput(backend, info.outShape, (v, y) => addon.maxPool(v(x), y, poolGeometry(info)));
}

function maxPoolGrad(args: Args): Info {
  const backend = args.backend as BackendWasm;
  const { dy, input } = args.inputs as { dy: Info; input: Info };
  if (!f32(dy, input)) return wasm(tf.MaxPoolGrad, args);
  const info = poolInfo(input.shape, args.attrs as unknown as tf.MaxPoolAttrs);
  return withOutput(backend, input.shape, (v, dx) => addon.maxPoolGrad(v(dy), v(input), dx, poolGeometry(info)));
}

/** b repeats along a's trailing axes (a bias [c] on [n, h, w, c]), or is a scalar. */
function trails(a: number[], b: number[]): boolean {
  const bs = b.slice(b.findIndex((d) => d !== 1) < 0 ? b.length : b.findIndex((d) => d !== 1));
  return bs.length <= a.length && tf.util.arraysEqual(bs, a.slice(a.length - bs.length));
}

/** b holds one value per row of a: a [..., r, c] with b [..., r, 1] (a softmax's row max or sum). */
function perRow(a: number[], b: number[]): boolean {
  return a.length >= 2 && b.length === a.length && b[b.length - 1] === 1 && tf.util.arraysEqual(b.slice(0, -1), a.slice(0, -1));
}

const BINARY_OPS: Record<string, number> = { [tf.Add]: 0, [tf.Sub]: 1, [tf.Multiply]: 2, [tf.RealDiv]: 3 };

/**
 * Element-wise arithmetic of the training step (bias adds, the ReLU gradient's product, the
 * optimizer's updates): the wasm kernels take ~1.5 ms for a [64,26,26,32] bias add, a native loop
 * over the same heap a fraction of that.
 */
function binary(name: string) {
  return (args: Args): Info => {
    const backend = args.backend as BackendWasm;
    const { a, b } = args.inputs as { a: Info; b: Info };
    if (!f32(a, b)) return wasm(name, args);
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const n = tf.util.sizeFromShape(shape);
    const fits = (x: Info, y: Info, test: (p: number[], q: number[]) => boolean) => tf.util.sizeFromShape(x.shape) === n && test(x.shape, y.shape);
    let [big, small, swap, rowwise] = fits(a, b, trails) ? [a, b, 0, 0] : fits(b, a, trails) ? [b, a, 1, 0] : [];
    if (!big) [big, small, swap, rowwise] = fits(a, b, perRow) ? [a, b, 0, 1] : fits(b, a, perRow) ? [b, a, 1, 1] : [];
    if (!big || !small || n === 0) return wasm(name, args);
    const params = Int32Array.of(n, tf.util.sizeFromShape(small.shape), BINARY_OPS[name]!, swap as number, rowwise as number);
    return withOutput(backend, shape, (v, out) => addon.binary(v(big), v(small), out, params));
  };
}

function unary(name: string, op: number) {
  return (args: Args): Info => {
    const backend = args.backend as BackendWasm;
    const { x } = args.inputs as { x: Info };
    const n = tf.util.sizeFromShape(x.shape);
    if (!f32(x) || n === 0) return wasm(name, args);
    const alpha = name === tf.Step ? ((args.attrs as unknown as tf.StepAttrs).alpha ?? 0) : 0;
    return withOutput(backend, x.shape, (v, out) => addon.unary(v(x), out, Int32Array.of(n, op), alpha));
  };
}

/** Softmax over the last axis (the models' heads; tfjs passes dim = -1 or the last axis). */
function softmax(args: Args): Info {
  const backend = args.backend as BackendWasm;
  const { logits } = args.inputs as { logits: Info };
  const dim = (args.attrs as unknown as tf.SoftmaxAttrs).dim;
  const rank = logits.shape.length;
  const cols = logits.shape[rank - 1] ?? 0;
  if (!f32(logits) || rank === 0 || (dim !== -1 && dim !== rank - 1) || cols === 0) return wasm(tf.Softmax, args);
  const rows = tf.util.sizeFromShape(logits.shape) / cols;
  return withOutput(backend, logits.shape, (v, out) => addon.softmax(v(logits), out, Int32Array.of(rows, cols)));
}

/** Sum over leading axes (bias gradients) or over all of them; other reductions run on wasm. */
function sum(args: Args): Info {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: Info };
  const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  const r = axes.length;
  if (!f32(x) || r === 0 || !axes.every((a, i) => a === i) || tf.util.sizeFromShape(x.shape) === 0) return wasm(tf.Sum, args);
  const rows = tf.util.sizeFromShape(x.shape.slice(0, r));
  const cols = tf.util.sizeFromShape(x.shape.slice(r));
  const outShape = keepDims ? x.shape.map((d, i) => (i < r ? 1 : d)) : x.shape.slice(r);
  return withOutput(backend, outShape, (v, out) => addon.sumRows(v(x), out, Int32Array.of(rows, cols)));
}

/** ArgMax over the last axis (the accuracy count of every training step). */
function argMax(args: Args): Info {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: Info };
  const rank = x.shape.length;
  const axis = tf.util.parseAxisParam((args.attrs as unknown as tf.ArgMaxAttrs).axis, x.shape);
  const cols = x.shape[rank - 1] ?? 0;
  if (!f32(x) || rank === 0 || axis.length !== 1 || axis[0] !== rank - 1 || cols === 0) return wasm(tf.ArgMax, args);
  const rows = tf.util.sizeFromShape(x.shape) / cols;
  const out = backend.makeOutput(x.shape.slice(0, -1), 'int32');
  addon.argMax(backend.typedArrayFromHeap(x) as Float32Array, backend.typedArrayFromHeap(out) as Int32Array, Int32Array.of(rows, cols));
  return out;
}

/** Inference-mode batch norm (given statistics) over the last axis, by the implementation batchNormImpl() selects. */
function fusedBatchNorm(args: Args): Info {
  const backend = args.backend as BackendWasm;
  const { x, mean, variance, scale, offset } = args.inputs as { x: Info; mean: Info; variance: Info; scale?: Info; offset?: Info };
  const c = x.shape[x.shape.length - 1]!;
  const perChannel = (t?: Info) => !t || (tf.util.sizeFromShape(t.shape) === c && t.shape[t.shape.length - 1] === c);
  const geometry = batchNormGeometry(x.shape);
  if (!geometry || !f32(x, mean, variance, scale, offset) || ![mean, variance, scale, offset].every(perChannel)) return wasm(tf.FusedBatchNorm, args);
  const eps = (args.attrs as unknown as tf.FusedBatchNormAttrs).varianceEpsilon;
  return withOutput(backend, x.shape, (v, y) => addon.batchNormInfer(v(x), v(mean), v(variance), scale ? v(scale) : null, offset ? v(offset) : null, y, geometry, eps, batchNormImpl()));
}

export const NATIVE_KERNELS: readonly tf.KernelConfig[] = [
  { kernelName: tf.Conv2D, backendName: 'native', kernelFunc: conv2d },
  { kernelName: tf.FusedConv2D, backendName: 'native', kernelFunc: fusedConv2d },
  { kernelName: tf.Conv2DBackpropInput, backendName: 'native', kernelFunc: conv2dBackpropInput },
  { kernelName: tf.Conv2DBackpropFilter, backendName: 'native', kernelFunc: conv2dBackpropFilter },
  { kernelName: tf.BatchMatMul, backendName: 'native', kernelFunc: (args) => matmul(args, false) },
  { kernelName: tf._FusedMatMul, backendName: 'native', kernelFunc: (args) => matmul(args, true) },
  { kernelName: tf.MaxPool, backendName: 'native', kernelFunc: maxPool },
  { kernelName: tf.MaxPoolGrad, backendName: 'native', kernelFunc: maxPoolGrad },
  ...[tf.Add, tf.Sub, tf.Multiply, tf.RealDiv].map((name) => ({ kernelName: name, backendName: 'native', kernelFunc: binary(name) })),
  { kernelName: tf.FusedBatchNorm, backendName: 'native', kernelFunc: fusedBatchNorm },
  { kernelName: tf.Relu, backendName: 'native', kernelFunc: unary(tf.Relu, 0) },
  { kernelName: tf.Step, backendName: 'native', kernelFunc: unary(tf.Step, 1) },
  { kernelName: tf.Square, backendName: 'native', kernelFunc: unary(tf.Square, 2) },
  { kernelName: tf.Sqrt, backendName: 'native', kernelFunc: unary(tf.Sqrt, 3) },
  { kernelName: tf.Floor, backendName: 'native', kernelFunc: unary(tf.Floor, 4) },
  { kernelName: tf.Softmax, backendName: 'native', kernelFunc: softmax },
  { kernelName: tf.ArgMax, backendName: 'native', kernelFunc: argMax },
  { kernelName: tf.Sum, backendName: 'native', kernelFunc: sum },
] as tf.KernelConfig[];
