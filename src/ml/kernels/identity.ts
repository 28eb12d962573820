// Identity and same-dtype Cast for the wasm backend, sharing the input's buffer by reference count
// as the cpu backend does, instead of copying it. The engine clones every tensor it saves for
// backprop through Identity, so the package's copying version cost a full pass over each
// activation per training step. Kernels never write into their inputs, so sharing is safe; the
// backend's Reshape already shares buffers the same way.
import * as tf from '../tf.js';
import { type BackendWasm, type Info, run } from './wasm_util.js';

function share(backend: BackendWasm, x: Info): Info {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}

export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const x = inputs.x as Info;
    return x.dtype === 'string' ? run(backend as BackendWasm, tf.Identity, { x }) : share(backend as BackendWasm, x);
  },
};

export const castConfig: tf.KernelConfig = {
  kernelName: tf.Cast,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const x = inputs.x as Info;
    const { dtype } = attrs as unknown as tf.CastAttrs;
    return dtype === x.dtype && dtype !== 'string'
      ? share(backend as BackendWasm, x)
      : run(backend as BackendWasm, tf.Cast, { x }, attrs);
  },
};
