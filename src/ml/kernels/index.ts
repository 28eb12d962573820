// Training kernels for the wasm backend, registered by backend.ts when wasm is selected.
// Each replaces (or, for Conv2DBackpropFilter, supplies) a kernel of @tensorflow/tfjs-backend-wasm
// with a formulation built from the package's fast XNNPACK kernels or a tight loop on its heap.
import * as tf from '../tf.js';
import { batchMatMulConfig } from './batch_mat_mul.js';
import { conv2DBackpropFilterConfig } from './conv2d_backprop_filter.js';
import { conv2DBackpropInputConfig } from './conv2d_backprop_input.js';
import { castConfig, identityConfig } from './identity.js';
import { maxPoolGradConfig } from './max_pool_grad.js';
import { sumConfig } from './sum.js';
import { tileConfig } from './tile.js';
import { transposeConfig } from './transpose.js';
import { rememberOriginal } from './wasm_util.js';

export const WASM_KERNELS: readonly tf.KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  maxPoolGradConfig,
  batchMatMulConfig,
  sumConfig,
  tileConfig,
  transposeConfig,
  identityConfig,
  castConfig,
];

let registered = false;

/**
 * Registers our wasm kernels (idempotent). Must run after '@tensorflow/tfjs-backend-wasm' is imported.
 * Replaced kernels keep their original setup (their C++ entry points are still used for fallbacks).
 */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  for (const cfg of WASM_KERNELS) {
    const original = rememberOriginal(cfg.kernelName);
    if (original) tf.unregisterKernel(cfg.kernelName, 'wasm');
    tf.registerKernel({ ...cfg, setupFunc: original?.setupFunc, disposeFunc: original?.disposeFunc });
  }
}

/** Restores the package's kernels (for before/after benchmarks). */
export function unregisterWasmKernels(): void {
  if (!registered) return;
  registered = false;
  for (const cfg of WASM_KERNELS) {
    tf.unregisterKernel(cfg.kernelName, 'wasm');
    const original = rememberOriginal(cfg.kernelName);
    if (original) tf.registerKernel(original);
  }
}
