// The narrow predict service: the only serving module that touches TensorFlow. Per model one
// micro-batcher; each batch is one tensor, one normalization pass, one model.predict inside tf.tidy,
// one asynchronous read-back, so request handling never creates tensors or blocks on reads.
import * as tf from '../ml/tf.js';
import type { Normalization } from '../ml/types.js';
import { BatcherClosedError, MicroBatcher, type BatcherStats } from './batcher.js';
import { MNIST_PIXELS } from './inputs.js';
import { ModelCache } from './model-cache.js';
import { checkNormalization, normalizePixels } from './normalize.js';

export interface LoadedModel {
  model: tf.LayersModel;
  normalization: Normalization;
  /** Shape of one input without the batch dimension, e.g. [28,28,1] or [784]; default: the model's. */
  inputShape?: readonly number[];
}

export interface PredictorOptions {
  /** Loads a model by id (aliases already resolved), e.g. via src/ml/model-io.ts and the models table. */
  loadModel: (id: string) => Promise<LoadedModel>;
  /** Most rows per model call. Default 64. */
  maxBatch?: number;
  /** Batching window in ms. Default 2. */
  windowMs?: number;
  /** Models kept loaded. Default 4. */
  cacheSize?: number;
  /** Weight bytes kept loaded (float32 parameters × 4). Default unbounded. */
  cacheBytes?: number;
  /** Rows allowed to wait per model before predict() fails with OverloadedError. Default unbounded. */
  maxQueueRows?: number;
  /** Run one zero input through a freshly loaded model so the first request does not pay setup. Default true. */
  warmUp?: boolean;
}

export interface Prediction {
  /** n × numClasses probabilities, row-major. */
  probabilities: Float32Array;
  numClasses: number;
}

export interface Predictor {
  /** Runs `n` inputs (pixels: n×784 values in [0,1], e.g. from inputsToBatch) through model `modelId`. */
  predict(modelId: string, pixels: Float32Array, n: number): Promise<Prediction>;
  /** Drops a cached model (e.g. deleted or replaced); queued rows still run on it first. */
  invalidate(modelId: string): boolean;
  /** Batching figures per loaded model. */
  stats(): Record<string, BatcherStats>;
  /** Lets queued predictions finish, disposes every model and refuses new predictions. */
  close(): Promise<void>;
}

interface Served {
  model: tf.LayersModel;
  batcher: MicroBatcher;
  numClasses: number;
}

function resolveInputShape(model: tf.LayersModel, given: readonly number[] | undefined, id: string): number[] {
  const shape = given ? [...given] : (model.inputs[0]?.shape.slice(1) as (number | null)[]);
  if (!shape.every((d): d is number => typeof d === 'number' && Number.isInteger(d) && d > 0)) {
    throw new Error(`model ${id}: input shape ${JSON.stringify(shape)} is not fully defined`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== MNIST_PIXELS) throw new Error(`model ${id}: input shape ${JSON.stringify(shape)} does not hold 784 pixels`);
  return shape;
}

function outputClasses(model: tf.LayersModel, id: string): number {
  if (model.outputs.length !== 1) throw new Error(`model ${id}: expected one output, got ${model.outputs.length}`);
  const shape = model.outputs[0].shape;
  const classes = shape[shape.length - 1];
  if (shape.length !== 2 || typeof classes !== 'number' || classes < 1) {
    throw new Error(`model ${id}: output shape ${JSON.stringify(shape)} is not [batch, classes]`);
  }
  return classes;
}

export function createPredictor(opts: PredictorOptions): Predictor {
  const maxBatch = opts.maxBatch ?? 64;
  const warmUp = opts.warmUp ?? true;
  let closed = false;

  const load = async (id: string): Promise<Served> => {
    const loaded = await opts.loadModel(id);
    const { model, normalization } = loaded;
    try {
      checkNormalization(normalization);
      const inputShape = resolveInputShape(model, loaded.inputShape, id);
      const numClasses = outputClasses(model, id);
      const identity = normalization.kind === 'zero-one';

      const run = async (batch: Float32Array, rows: number): Promise<Float32Array> => {
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
      if (warmUp) await run(new Float32Array(MNIST_PIXELS), 1);
      const batcher = new MicroBatcher({
        run,
        rowSize: MNIST_PIXELS,
        maxBatch,
        windowMs: opts.windowMs,
        maxQueueRows: opts.maxQueueRows,
      });
      return { model, batcher, numClasses };
    } catch (err) {
      model.dispose();
      throw err;
    }
  };

  const cache = new ModelCache<Served>({
    load,
    maxEntries: opts.cacheSize ?? 4,
    maxBytes: opts.cacheBytes,
    sizeOf: (s) => s.model.countParams() * 4,
    // Evicted while requests may still be queued on it: let them run, then free the weights.
    dispose: async (s) => {
      await s.batcher.close();
      s.model.dispose();
    },
  });

  return {
    async predict(modelId, pixels, n) {
      if (closed) throw new Error('predictor is closed');
      if (!(Number.isInteger(n) && n > 0 && pixels.length === n * MNIST_PIXELS)) {
        throw new RangeError(`expected ${n} inputs of 784 pixels, got ${pixels.length} values`);
      }
      // An entry can be evicted between get() and predict(); its batcher then refuses new rows and
      // a second get() loads the model again.
      for (let attempt = 0; ; attempt++) {
        const served = await cache.get(modelId);
        try {
          const probabilities = await served.batcher.predict(pixels, n);
          return { probabilities, numClasses: served.numClasses };
        } catch (err) {
          if (err instanceof BatcherClosedError && attempt < 2 && !closed) continue;
          throw err;
        }
      }
    },
    invalidate: (modelId) => cache.invalidate(modelId),
    stats() {
      const out: Record<string, BatcherStats> = {};
      for (const id of cache.keys()) {
        const s = cache.peek(id); // loaded entries only, recency untouched
        if (s) out[id] = s.batcher.stats();
      }
      return out;
    },
    async close() {
      closed = true;
      await cache.close();
    },
  };
}

