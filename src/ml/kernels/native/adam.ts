// Adam in one native kernel call per variable on the native backend. tfjs-core's
// AdamOptimizer.applyGradients spends 12 kernel calls per variable (~120 per keras-cnn step), each
// with the engine's bookkeeping around it; on the native backend, where the convolutions take a few
// milliseconds, that bookkeeping is a sizeable part of the step. The optimizer object is left as it
// is (its class, moment variables, getWeights/setWeights, hence checkpoints, are tfjs's own); only
// its update is routed through the `NativeAdam` kernel while the native backend is active. It is a
// patch of the prototype because the optimizer is created by code that knows nothing of backends
// (src/ml/optim.ts, and tfjs-layers' own compile()).
import * as tf from '../../tf.js';
import type { BackendWasm, Info } from '../wasm_util.js';
import type { NativeAddon } from './addon.js';

export const NATIVE_ADAM = 'NativeAdam';

interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable }>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable }>;
  incrementIterations(): void;
}

export function nativeAdamKernel(addon: NativeAddon): tf.KernelConfig {
  return {
    kernelName: NATIVE_ADAM,
    backendName: 'native',
    kernelFunc: (args) => {
      const backend = args.backend as BackendWasm;
      const { value, m, v, g } = args.inputs as Record<string, Info>;
      const consts = (args.attrs as unknown as { consts: Float32Array }).consts;
      const outs = [value, m, v].map((t) => backend.makeOutput(t.shape, 'float32'));
      const view = (t: Info) => backend.typedArrayFromHeap(t) as Float32Array;
      addon.adam(view(value), view(m), view(v), view(g), view(outs[0]!), view(outs[1]!), view(outs[2]!), consts);
      return outs;
    },
  };
}

let patched = false;

export function patchAdam(): void {
  if (patched) return;
  patched = true;
  const proto = tf.AdamOptimizer.prototype as unknown as { applyGradients: (g: tf.NamedTensorMap | Array<{ name: string; tensor: tf.Tensor }>) => void };
  const original = proto.applyGradients;
  proto.applyGradients = function (this: AdamInternals, variableGradients: tf.NamedTensorMap | Array<{ name: string; tensor: tf.Tensor }>) {
    const list = Array.isArray(variableGradients) ? variableGradients : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    const usable = tf.getBackend() === 'native' && list.every(({ name, tensor }) => tensor == null || (tensor.dtype === 'float32' && tf.engine().registeredVariables[name]?.dtype === 'float32'));
    if (!usable) return original.call(this, variableGradients);
    const acc1 = this.accBeta1.dataSync()[0]!;
    const acc2 = this.accBeta2.dataSync()[0]!;
    // The constants tfjs computes: JS doubles rounded to float32 scalars, 1 - acc in float32.
    const consts = Float32Array.of(this.beta1, 1 - this.beta1, this.beta2, 1 - this.beta2, 0, 0, this.epsilon, -this.learningRate);
    consts[4] = Math.fround(1 - acc1);
    consts[5] = Math.fround(1 - acc2);
    tf.tidy(() => {
      list.forEach(({ name, tensor: gradient }, i) => {
        const value = tf.engine().registeredVariables[name]!;
        this.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        this.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        if (gradient == null) return;
        const m = this.accumulatedFirstMoment[i]!.variable;
        const v = this.accumulatedSecondMoment[i]!.variable;
        const [newValue, newM, newV] = tf.engine().runKernel(NATIVE_ADAM, { value, m, v, g: gradient }, { consts } as unknown as tf.NamedAttrMap) as tf.Tensor[];
        m.assign(newM!);
        v.assign(newV!);
        value.assign(newValue!);
      });
      this.accBeta1.assign(tf.mul(this.accBeta1, this.beta1));
      this.accBeta2.assign(tf.mul(this.accBeta2, this.beta2));
    });
    this.incrementIterations();
  };
}
