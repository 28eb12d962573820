// The predictor: per model one micro-batcher, the models kept in a bounded cache (model-cache.ts).
// Each batch is one tensor, one normalization pass, one model call inside tf.tidy and one read-back
// (run-model.ts), so request handling never creates tensors.
//
// On the wasm and cpu backends a model call runs synchronously on the calling JS thread: in the API
// process it would stop HTTP parsing while it lasts, and HTTP work would hold the model back. Models
// therefore run on inference threads (the pool in inference-pool.ts, each thread running
// inference-thread.ts), by default one per core, each with its own copy of every served model and
// a single-threaded backend. The main thread parses and batches requests while the threads
// compute, and two batches run side by side rather than one batch split across the cores (XNNPACK
// threads wait at every layer for the slowest of them, badly so on a busy machine). Measured with
// bench/predict.ts on 2 cores (keras-cnn, quiet machine), against the model on the main thread with
// 2 XNNPACK threads: 64 concurrent single-image requests ~2.0-2.6k vs ~1.9-2.1k images/s with p99
// 52-85 vs 97-143 ms; 16 concurrent 32-image requests ~3.5k vs ~2.6k images/s. Each thread costs
// ~110 MB RSS. The caller's model stays loaded on the main thread too (it is the owner, disposed on
// eviction as before); the threads get copies of its topology and weights.
import os from 'node:os';
import { checkNormalization } from '../ml/data/normalize.js';
import * as tf from '../ml/tf.js';
import type { Normalization } from '../ml/types.js';
import { BatcherClosedError, MicroBatcher, type BatcherObserver, type BatcherStats, type RunBatch } from './batcher.js';
import { InferencePool } from './inference-pool.js';
import { ModelCache } from './model-cache.js';
import { MNIST_PIXELS, modelRunner } from './run-model.js';

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
  /** Batching window in ms (see BatcherOptions.windowMs). Default 0. */
  windowMs?: number;
  /** Models kept loaded. Default 4. */
  cacheSize?: number;
  /** Weight bytes kept loaded (float32 parameters × 4). Default unbounded. */
  cacheBytes?: number;
  /** Rows allowed to wait per model before predict() fails with OverloadedError. Default unbounded. */
  maxQueueRows?: number;
  /** Run one zero input through a freshly loaded model so the first request does not pay setup. Default true. */
  warmUp?: boolean;
  /**
   * Worker threads running the models, each with its own copy, each running one batch at a time
   * (so up to this many batches of one model run at once); 0 runs them on the calling thread.
   * Default on the wasm and cpu backends (whose kernels run on the calling thread): one per core,
   * at most 4; 0 on native backends (which compute on threads of their own already).
   */
  inferenceThreads?: number;
  /**
   * wasm only: XNNPACK threads per inference thread. Default 1: whole batches side by side on
   * separate threads scale better than one batch split across cores, which waits at every layer
   * for its slowest part (and TFJS_WASM_THREADS, meant for training, is not applied here).
   */
  threadWasmThreads?: number;
  /** Metrics: every model call and wait (see BatcherObserver), and whether a request found its model loaded. */
  observe?: BatcherObserver & { cache(hit: boolean): void };
}

/** What the model answers for a request's n inputs. */
export interface ModelOutput {
  /** n × numClasses probabilities, row-major. */
  probabilities: Float32Array;
  numClasses: number;
}

export interface Predictor {
  /** Runs `n` inputs (pixels: n×784 values in [0,1], e.g. from inputsToBatch) through model `modelId`. */
  predict(modelId: string, pixels: Float32Array, n: number): Promise<ModelOutput>;
  /** Loads a model (on every inference thread) before its first request, e.g. at start-up. */
  preload(modelId: string): Promise<void>;
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
  /** Frees the inference thread's copy. */
  release(): void;
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

/** The model's topology and weights, as tf.io.fromMemory takes them. */
async function modelArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return artifacts!;
}

export function createPredictor(opts: PredictorOptions): Predictor {
  const maxBatch = opts.maxBatch ?? 64;
  const warmUp = opts.warmUp ?? true;
  let closed = false;

  let pool: InferencePool | undefined;
  let nextKey = 1;
  let threadsFailed = false;
  const threadCount = () => opts.inferenceThreads ?? (['wasm', 'cpu'].includes(tf.getBackend()) ? Math.min(4, os.availableParallelism()) : 0);
  /** The pool, started on first use; undefined (run inline) when threads are off or cannot start. */
  const inferencePool = async (): Promise<InferencePool | undefined> => {
    const threads = threadCount();
    if (threads === 0 || threadsFailed) return undefined;
    pool ??= new InferencePool(threads, tf.getBackend(), opts.threadWasmThreads);
    const p = pool;
    try {
      await p.ready();
      return p;
    } catch (err) {
      if (!threadsFailed) {
        threadsFailed = true;
        pool = undefined;
        await p.close();
        process.emitWarning(`inference threads unavailable, running models on the main thread: ${err instanceof Error ? err.message : String(err)}`);
      }
      return undefined;
    }
  };

  const load = async (id: string): Promise<Served> => {
    const loaded = await opts.loadModel(id);
    const { model, normalization } = loaded;
    let release = () => {};
    try {
      checkNormalization(normalization);
      const inputShape = resolveInputShape(model, loaded.inputShape, id);
      const numClasses = outputClasses(model, id);

      let run: RunBatch;
      const p = await inferencePool();
      if (p) {
        const key = nextKey++;
        release = () => p.unload(key);
        await p.load(key, { artifacts: await modelArtifacts(model), inputShape, normalization, warmUp });
        run = (batch, rows) => p.run(key, batch, rows);
      } else {
        run = modelRunner(model, inputShape, normalization);
        if (warmUp) await run(new Float32Array(MNIST_PIXELS), 1);
      }
      const batcher = new MicroBatcher({
        run,
        rowSize: MNIST_PIXELS,
        maxBatch,
        windowMs: opts.windowMs,
        maxQueueRows: opts.maxQueueRows,
        maxInFlight: p?.size ?? 1,
        observe: opts.observe,
      });
      return { model, batcher, numClasses, release };
    } catch (err) {
      release();
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
      s.release();
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
      opts.observe?.cache(cache.peek(modelId) !== undefined);
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
    async preload(modelId) {
      if (closed) throw new Error('predictor is closed');
      await cache.get(modelId);
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
      await pool?.close();
    },
  };
}
