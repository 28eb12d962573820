// One model run on the calling thread, batch by batch: used by the predictor when it runs models
// inline and by every inference thread. Loads TensorFlow and the pixel normalization only (not
// sharp, which the input decoding in inputs.ts needs), so that an inference thread stays light.
import * as tf from '../ml/tf.js';
import { normalizePixels } from '../ml/data/normalize.js';
import type { Normalization } from '../ml/types.js';
import type { RunBatch } from './batcher.js';

/** Values in one input: 28×28 pixels. */
export const MNIST_PIXELS = 784;

/** Runs batches of [0,1] pixels through `model`: one normalization pass, one model call, one read-back. */
export function modelRunner(model: tf.LayersModel, inputShape: number[], normalization: Normalization): RunBatch {
  const identity = normalization.kind === 'zero-one';
  return async (batch, rows) => {
    // The batch buffer may be a caller's own array: normalize into a copy, never in place.
    const x = identity ? batch : normalizePixels(batch, normalization);
    // predictOnBatch, unlike predict, does not slice the input into sub-batches (a copy).
    const y = tf.tidy(() => model.predictOnBatch(tf.tensor(x, [rows, ...inputShape], 'float32')) as tf.Tensor);
    try {
      return (await y.data<'float32'>()) as Float32Array;
    } finally {
      y.dispose();
    }
  };
}
