// The `native` backend: the wasm backend's tensors and kernels, with the heavy ones (convolutions,
// matrix products, max-pooling) replaced by the native addon's. It is registered under its own name
// so tf.getBackend() reports it (stored with each model, shown by /ready) and so the plain `wasm`
// kernels stay available beside it; both names resolve to the SAME BackendWasm instance, hence the
// same heap: switching between them moves no data, and the addon works on that heap in place.
import * as tf from '../../tf.js';
import type { BackendWasm } from '../wasm_util.js';
import type { NativeAddon } from './addon.js';
import { nativeAdamKernel, patchAdam } from './adam.js';
import { nativeBatchNormKernels, patchBatchNorm } from './batch-norm.js';
import { NATIVE_KERNELS, bindAddon } from './kernels.js';

export { NATIVE_KERNELS, nativeFallbacks, setNativeGemm } from './kernels.js';
export { NATIVE_BATCH_NORM_GRAD, NATIVE_BATCH_NORM_TRAIN, setNativeBatchNorm } from './batch-norm.js';
export { addonPath, loadNativeAddon, type NativeAddon } from './addon.js';

let registered = false;

/**
 * Registers the `native` backend over an initialised wasm backend (idempotent): every wasm kernel
 * copied under the new name (ours from src/ml/kernels included), then the native ones over them.
 */
export function registerNativeBackend(wasm: BackendWasm, addon: NativeAddon, threads: number): void {
  addon.setThreads(threads);
  if (registered) return;
  registered = true;
  bindAddon(addon);
  tf.registerBackend('native', () => wasm, 0);
  tf.copyRegisteredKernels('wasm', 'native');
  for (const cfg of [...NATIVE_KERNELS, nativeAdamKernel(addon), ...nativeBatchNormKernels(addon)]) {
    if (tf.getKernel(cfg.kernelName, 'native')) tf.unregisterKernel(cfg.kernelName, 'native');
    tf.registerKernel(cfg);
  }
  patchAdam();
  patchBatchNorm();
}
