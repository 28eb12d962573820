// Placeholder: backend selection is completed by the training issue's backend work.
import * as tf from './tf.js';
import '@tensorflow/tfjs-backend-wasm';

export async function initBackend(preferred = process.env.TFJS_BACKEND ?? 'auto'): Promise<string> {
  const name = preferred === 'auto' ? 'wasm' : preferred;
  if (!(await tf.setBackend(name))) throw new Error(`TensorFlow.js backend ${name} is not available`);
  await tf.ready();
  return tf.getBackend();
}
