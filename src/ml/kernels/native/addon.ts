// Loads the optional N-API addon built from native/ (oneDNN + OpenBLAS kernels) and packs tfjs's
// conv / pool geometry into the flat int arrays it takes. The addon is built at install when
// libdnnl-dev and libopenblas-dev are present (scripts/build-native.mjs); without it, loading
// reports why and the backend ladder moves on to wasm.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type * as tf from '../../tf.js';

type F32 = Float32Array;
/** 0: the addon's own loops (the default, see addon.cc), 1: oneDNN's batch_normalization. */
export type BatchNormImpl = 0 | 1;

export interface NativeAddon {
  conv2d(x: F32, filter: F32, bias: F32 | null, y: F32, geometry: Int32Array, relu: boolean): void;
  conv2dBackpropInput(dy: F32, filter: F32, dx: F32, geometry: Int32Array): void;
  conv2dBackpropFilter(x: F32, dy: F32, dw: F32, geometry: Int32Array): void;
  /** The oneDNN implementation chosen for a geometry: F forward, D backward data, W backward weights. */
  convImpl(op: 'F' | 'D' | 'W', geometry: Int32Array): string;
  /** params: [batchA, batchB, m, n, k, transA, transB, relu, gemm (0 oneDNN, 1 OpenBLAS)] */
  matmul(a: F32, b: F32, c: F32, params: Int32Array, bias: F32 | null): void;
  maxPool(x: F32, y: F32, geometry: Int32Array): void;
  maxPoolGrad(dy: F32, x: F32, dx: F32, geometry: Int32Array): void;
  /** out = a op b, b of a's size, repeated along a's last axes, a scalar, or (rowwise) one per row; params [n, m, op, swap, rowwise]. */
  binary(a: F32, b: F32, out: F32, params: Int32Array): void;
  /** params [n, op]: 0 relu, 1 step (alpha below zero), 2 square, 3 sqrt, 4 floor. */
  unary(x: F32, out: F32, params: Int32Array, alpha: number): void;
  /** out[c] = Σ_r x[r, c]; params [rows, cols]. */
  sumRows(x: F32, out: F32, params: Int32Array): void;
  /** The index of each row's first maximum; params [rows, cols]. */
  argMax(x: F32, out: Int32Array, params: Int32Array): void;
  /** Softmax over the last axis; params [rows, cols]. */
  softmax(x: F32, out: F32, params: Int32Array): void;
  /** One Adam step: consts [b1, 1-b1, b2, 1-b2, 1-b1^t, 1-b2^t, eps, -lr]. */
  adam(value: F32, m: F32, v: F32, g: F32, newValue: F32, newM: F32, newV: F32, consts: Float32Array): void;
  /** Batch norm over the last axis, geometry [n, h, w, c] ([n, 1, 1, c] for 2-D): the batch's statistics out. */
  batchNormTrain(
    x: F32, gamma: F32, beta: F32, y: F32, mean: F32, variance: F32, geometry: Int32Array, epsilon: number, impl: BatchNormImpl,
    /** With these, also the moving averages: new = old − (old − batch statistic)·decay. */
    movingMean?: F32, movingVariance?: F32, newMovingMean?: F32, newMovingVariance?: F32, decay?: number,
  ): void;
  /** Its gradient through the batch statistics: dx, dgamma, dbeta. */
  batchNormGrad(dy: F32, x: F32, gamma: F32, mean: F32, variance: F32, dx: F32, dgamma: F32, dbeta: F32, geometry: Int32Array, epsilon: number, impl: BatchNormImpl): void;
  /** Batch norm with given statistics (inference). */
  batchNormInfer(x: F32, mean: F32, variance: F32, gamma: F32 | null, beta: F32 | null, y: F32, geometry: Int32Array, epsilon: number, impl: BatchNormImpl): void;
  /** The oneDNN implementation for a batch-norm geometry: T training, I inference. */
  batchNormImpl(op: 'T' | 'I', geometry: Int32Array): string;
  setThreads(n: number): void;
  info(): { onednn: string; threads: number; isa: number; cached: number };
}

/** native/build/Release/mnist_native.node; MNIST_NATIVE_ADDON names another file (tests use a missing one). */
export function addonPath(): string {
  return process.env.MNIST_NATIVE_ADDON || fileURLToPath(new URL('../../../../native/build/Release/mnist_native.node', import.meta.url));
}

let loaded: NativeAddon | string | undefined;

/** The addon, or why it cannot be used. Loaded once per process (or worker thread). */
export function loadNativeAddon(): NativeAddon | string {
  if (loaded !== undefined) return loaded;
  const file = addonPath();
  if (!existsSync(file)) {
    loaded = `the native addon is not built (${file} missing: install libdnnl-dev and libopenblas-dev, then npm run build:native)`;
    return loaded;
  }
  // OpenMP threads that spin between kernels (libgomp's default) steal the cores from the wasm
  // threads that run the ops in between, and on a busy machine from each other: keras-cnn training
  // measured 9× slower with spinning than with sleeping threads on this shared 2-core machine.
  // libgomp reads this when the addon loads it, so it must be set before; an explicit value wins.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  try {
    loaded = createRequire(import.meta.url)(file) as NativeAddon;
  } catch (err) {
    loaded = `the native addon cannot be loaded (${(err instanceof Error ? err.message : String(err)).split('\n')[0]})`;
  }
  return loaded;
}

/** [n, h, w, c, kh, kw, oc, oh, ow, sh, sw, pt, pl, pb, pr, dh, dw], as addon.cc's Conv reads it. */
export function convGeometry(c: tf.backend_util.Conv2DInfo): Int32Array {
  const p = c.padInfo;
  return Int32Array.of(
    c.batchSize, c.inHeight, c.inWidth, c.inChannels, c.filterHeight, c.filterWidth, c.outChannels, c.outHeight, c.outWidth,
    c.strideHeight, c.strideWidth, p.top, p.left, p.bottom, p.right, c.dilationHeight, c.dilationWidth,
  );
}

/** [n, h, w, c, fh, fw, sh, sw, pt, pl, oh, ow, dh, dw], as addon.cc's Pool reads it. */
export function poolGeometry(c: tf.backend_util.Conv2DInfo): Int32Array {
  return Int32Array.of(
    c.batchSize, c.inHeight, c.inWidth, c.inChannels, c.filterHeight, c.filterWidth, c.strideHeight, c.strideWidth,
    c.padInfo.top, c.padInfo.left, c.outHeight, c.outWidth, c.dilationHeight, c.dilationWidth,
  );
}

/** [n, h, w, c] of a channels-last tensor of rank 2 ([n, 1, 1, c]) or 4; undefined for others. */
export function batchNormGeometry(shape: readonly number[]): Int32Array | undefined {
  if (shape.length === 4) return Int32Array.from(shape);
  if (shape.length === 2) return Int32Array.of(shape[0]!, 1, 1, shape[1]!);
  return undefined;
}
