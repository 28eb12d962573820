// Batch normalization on the native backend: one addon call forward and one backward per layer
// (the addon's own loops by default, oneDNN's batch_normalization selectable: setNativeBatchNorm).
//
// In training, tfjs-layers' BatchNormalization computes tf.moments (Mean, Sub, Square, Mean) and
// then FusedBatchNorm, and autodiff differentiates through all of them: ~30 kernels per layer and
// step on the wasm heap (strong-cnn has three such layers), most of them broadcasts and reductions
// the wasm backend runs slowly. Here the training forward pass is the `NativeBatchNormTrain`
// kernel (normalized output, batch mean, batch variance) with a registered gradient that is the
// `NativeBatchNormGrad` kernel (the closed-form gradient through the batch statistics: the same
// values autodiff computes, in one pass), which also updates the moving averages. The layer's class
// and weights are tfjs's own; only its training-mode call is routed through the kernel while the native backend is
// active, as adam.ts does for the optimizer (and for the same reason: models are built by code that
// knows nothing of backends). Inference-mode batch norm is the FusedBatchNorm kernel (kernels.ts).
import * as tf from '../../tf.js';
import type { BackendWasm, Info } from '../wasm_util.js';
import { type BatchNormImpl, type NativeAddon, batchNormGeometry } from './addon.js';

export const NATIVE_BATCH_NORM_TRAIN = 'NativeBatchNormTrain';
export const NATIVE_BATCH_NORM_GRAD = 'NativeBatchNormGrad';

let impl: BatchNormImpl = 0;

/**
 * Which batch-norm implementation the native kernels use. The addon's loops are the default:
 * oneDNN's kernel, fast on one thread, stalls at its internal barriers when the second core is busy
 * (measured 14 ms against 0.2 ms for strong-cnn's first batch norm; addon.cc has the figures).
 */
export function setNativeBatchNorm(which: 'loops' | 'onednn'): void {
  impl = which === 'onednn' ? 1 : 0;
}

export function batchNormImpl(): BatchNormImpl {
  return impl;
}

type Args = { inputs: tf.NamedTensorInfoMap; backend: {}; attrs?: tf.NamedAttrMap };

export function nativeBatchNormKernels(addon: NativeAddon): tf.KernelConfig[] {
  const view = (backend: BackendWasm) => (t: Info) => backend.typedArrayFromHeap(t) as Float32Array;
  return [
    {
      kernelName: NATIVE_BATCH_NORM_TRAIN,
      backendName: 'native',
      kernelFunc: (args: Args) => {
        const backend = args.backend as BackendWasm;
        const { x, gamma, beta, movingMean, movingVariance } = args.inputs as Record<string, Info | undefined>;
        const { epsilon, decay } = args.attrs as { epsilon: number; decay?: number };
        const c = x!.shape[x!.shape.length - 1]!;
        const moving = movingMean && movingVariance && decay !== undefined;
        // Allocate every output before taking views: an allocation may grow (detach) the heap.
        const outs = [backend.makeOutput(x!.shape, 'float32'), ...Array.from({ length: moving ? 4 : 2 }, () => backend.makeOutput([c], 'float32'))];
        const v = view(backend);
        const [y, mean, variance, newMean, newVariance] = outs.map(v);
        const geometry = batchNormGeometry(x!.shape)!;
        if (moving) addon.batchNormTrain(v(x!), v(gamma!), v(beta!), y!, mean!, variance!, geometry, epsilon, impl, v(movingMean), v(movingVariance), newMean, newVariance, decay);
        else addon.batchNormTrain(v(x!), v(gamma!), v(beta!), y!, mean!, variance!, geometry, epsilon, impl);
        return outs;
      },
    },
    {
      kernelName: NATIVE_BATCH_NORM_GRAD,
      backendName: 'native',
      kernelFunc: (args: Args) => {
        const backend = args.backend as BackendWasm;
        const { dy, x, gamma, mean, variance } = args.inputs as Record<string, Info>;
        const c = x!.shape[x!.shape.length - 1]!;
        const outs = [backend.makeOutput(x!.shape, 'float32'), backend.makeOutput([c], 'float32'), backend.makeOutput([c], 'float32')];
        const v = view(backend);
        const [dx, dgamma, dbeta] = outs.map(v);
        addon.batchNormGrad(v(dy!), v(x!), v(gamma!), v(mean!), v(variance!), dx!, dgamma!, dbeta!, batchNormGeometry(x!.shape)!, (args.attrs as { epsilon: number }).epsilon, impl);
        return outs;
      },
    },
  ];
}

let gradientRegistered = false;

function registerGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: NATIVE_BATCH_NORM_TRAIN,
    inputsToSave: ['x', 'gamma'],
    outputsToSave: [false, true, true, false, false],
    // The batch statistics and the new moving averages never reach the loss: their gradients are
    // zeros and are ignored; the moving averages (non-trainable) get none.
    gradFunc: (dys, saved, attrs) => {
      const [x, gamma, mean, variance] = saved as tf.Tensor[];
      const dy = Array.isArray(dys) ? dys[0]! : dys;
      const [dx, dgamma, dbeta] = tf.engine().runKernel(NATIVE_BATCH_NORM_GRAD, { dy, x: x!, gamma: gamma!, mean: mean!, variance: variance! }, { epsilon: attrs.epsilon }) as tf.Tensor[];
      return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta!, movingMean: () => tf.zerosLike(mean!), movingVariance: () => tf.zerosLike(variance!) };
    },
  });
}

interface BatchNormInternals {
  axis: number;
  epsilon: number;
  momentum: number;
  center: boolean;
  scale: boolean;
  gamma: tf.LayerVariable;
  beta: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
  invokeCallHook(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): void;
}

let patched = false;

/** Routes BatchNormalization's training-mode call through the native kernel on the native backend. */
export function patchBatchNorm(): void {
  if (patched) return;
  patched = true;
  registerGradient();
  const proto = (tf.layers.batchNormalization({}).constructor as { prototype: { call: (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[] } }).prototype;
  const original = proto.call;
  proto.call = function (this: BatchNormInternals, inputs, kwargs) {
    const input = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    const usable =
      kwargs?.training === true && tf.getBackend() === 'native' && input?.dtype === 'float32' && this.center && this.scale &&
      batchNormGeometry(input.shape) !== undefined && (this.axis === -1 || this.axis === input.rank - 1);
    if (!usable) return original.call(this, inputs, kwargs);
    return tf.tidy(() => {
      this.invokeCallHook(inputs, kwargs);
      // The kernel also updates the moving averages, with the float operations tfjs-layers uses
      // (old − (old − batch statistic)·(1 − momentum)), which would be six more kernel calls.
      const [y, , , newMean, newVariance] = tf.engine().runKernel(
        NATIVE_BATCH_NORM_TRAIN,
        { x: input!, gamma: this.gamma.read(), beta: this.beta.read(), movingMean: this.movingMean.read(), movingVariance: this.movingVariance.read() },
        { epsilon: this.epsilon, decay: 1 - this.momentum },
      ) as tf.Tensor[];
      this.movingMean.write(newMean!);
      this.movingVariance.write(newVariance!);
      return y!;
    });
  };
}
