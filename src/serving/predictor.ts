// The narrow predict service: the only serving module that touches TensorFlow. Per model one
// micro-batcher; each batch is one tensor, one normalization pass, one model.predict inside tf.tidy,
// one read-back, so request handling never creates tensors.
//
// On the wasm and cpu backends a model call runs synchronously on the calling JS thread: in the API
// process it would stop HTTP parsing while it lasts, and HTTP work would hold the model back. Models
// therefore run on inference threads (worker_threads started from this same file, as in Node's
// worker_threads example), by default one per core, each with its own copy of every served model
// and a single-threaded backend. The main thread parses and batches requests while the threads
// compute, and two batches run side by side rather than one batch split across the cores (XNNPACK
// threads wait at every layer for the slowest of them, badly so on a busy machine). Measured with
// bench/predict.ts on 2 cores (keras-cnn, quiet machine), against the model on the main thread with
// 2 XNNPACK threads: 64 concurrent single-image requests ~2.0-2.6k vs ~1.9-2.1k images/s with p99
// 52-85 vs 97-143 ms; 16 concurrent 32-image requests ~3.5k vs ~2.6k images/s. Each thread costs
// ~110 MB RSS. The caller's model stays loaded on the main thread too (it is the owner, disposed on
// eviction as before); the threads get copies of its topology and weights.
import os from 'node:os';
import { isMainThread, parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads';
import * as tf from '../ml/tf.js';
import type { Normalization } from '../ml/types.js';
import { BatcherClosedError, MicroBatcher, type BatcherObserver, type BatcherStats, type RunBatch } from './batcher.js';
import { ModelCache } from './model-cache.js';
import { checkNormalization, normalizePixels } from './normalize.js';

/** 28×28; not imported from inputs.ts, which would load sharp into the inference thread. */
const MNIST_PIXELS = 784;

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

export interface Prediction {
  /** n × numClasses probabilities, row-major. */
  probabilities: Float32Array;
  numClasses: number;
}

export interface Predictor {
  /** Runs `n` inputs (pixels: n×784 values in [0,1], e.g. from inputsToBatch) through model `modelId`. */
  predict(modelId: string, pixels: Float32Array, n: number): Promise<Prediction>;
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

/** Runs batches on the calling thread. */
function inlineRunner(model: tf.LayersModel, inputShape: number[], normalization: Normalization): RunBatch {
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
        run = inlineRunner(model, inputShape, normalization);
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


// ---------------------------------------------------------------------------------------------
// The inference thread

const THREAD_TAG = 'mnist-jobs:inference-thread';
/** Message id the thread sends once its backend is ready (calls count from 1). */
const READY_ID = 0;

interface ThreadModel {
  artifacts: tf.io.ModelArtifacts;
  inputShape: number[];
  normalization: Normalization;
  warmUp: boolean;
}

type ToThread =
  | ({ type: 'load'; id: number; key: number } & ThreadModel)
  | { type: 'run'; id: number; key: number; x: Float32Array; rows: number }
  | { type: 'unload'; key: number };

interface FromThread {
  id: number;
  y?: Float32Array;
  error?: string;
}

/** Inference threads sharing the work: every model is loaded on each, a batch goes to the least busy. */
class InferencePool {
  private readonly threads: InferenceThread[];

  constructor(size: number, backend: string, wasmThreads: number | undefined) {
    if (!(Number.isInteger(size) && size > 0)) throw new RangeError('inferenceThreads must be a non-negative integer');
    this.threads = Array.from({ length: size }, () => new InferenceThread(backend, wasmThreads));
  }

  get size(): number {
    return this.threads.length;
  }

  /** Resolves once every thread has started (its backend initialised); rejects if one cannot. */
  async ready(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.ready()));
  }

  async load(key: number, model: ThreadModel): Promise<void> {
    await Promise.all(this.threads.map((t) => t.load(key, model)));
  }

  run(key: number, x: Float32Array, rows: number): Promise<Float32Array> {
    let best = this.threads[0]!;
    for (const t of this.threads) if (t.busy < best.busy) best = t;
    return best.run(key, x, rows);
  }

  unload(key: number): void {
    for (const t of this.threads) t.unload(key);
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.close()));
  }
}

/**
 * One worker thread holding copies of the served models. Models are sent to it on first use, so a
 * thread that died (and every call in flight with it) is replaced by a fresh one on the next call.
 */
class InferenceThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve(y: Float32Array | undefined): void; reject(err: Error): void }>();
  /** Keys sent to the current worker (a load in progress included). */
  private readonly sent = new Map<number, Promise<unknown>>();
  private readonly models = new Map<number, ThreadModel>();
  private nextId = 1;
  private closed = false;
  private started: Promise<void> | undefined;

  constructor(
    private readonly backend: string,
    private readonly wasmThreads: number | undefined,
  ) {}

  /** Calls in flight. */
  get busy(): number {
    return this.pending.size;
  }

  /** Starts the thread if needed; resolves once its backend is initialised. */
  ready(): Promise<void> {
    if (!this.worker) {
      if (this.closed) return Promise.reject(new Error('inference thread is closed'));
      this.start();
    }
    return this.started!;
  }

  /** Registers a model and loads it on the thread (running its warm-up there). */
  async load(key: number, model: ThreadModel): Promise<void> {
    this.models.set(key, model);
    await this.ensureLoaded(key);
  }

  async run(key: number, x: Float32Array, rows: number): Promise<Float32Array> {
    await this.ensureLoaded(key);
    // A copy of exactly these rows, transferred: x may be the caller's array, or a view of a
    // bigger request whose whole buffer postMessage would otherwise clone.
    const own = x.slice(0, rows * MNIST_PIXELS);
    return (await this.call({ type: 'run', id: this.nextId++, key, x: own, rows }, [own.buffer])) as Float32Array;
  }

  unload(key: number): void {
    this.models.delete(key);
    if (this.sent.delete(key)) this.worker?.postMessage({ type: 'unload', key } satisfies ToThread);
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const p of calls) p.reject(new Error('inference thread is closed'));
    await w?.terminate();
  }

  private ensureLoaded(key: number): Promise<unknown> {
    let loading = this.sent.get(key);
    if (!loading) {
      const model = this.models.get(key);
      if (!model) return Promise.reject(new Error(`model ${key} is not loaded`));
      loading = this.call({ type: 'load', id: this.nextId++, key, ...model });
      // A failed load is not remembered, so the next call tries again.
      loading.catch(() => this.sent.get(key) === loading && this.sent.delete(key));
      this.sent.set(key, loading);
    }
    return loading;
  }

  private call(msg: ToThread & { id: number }, transfer: ArrayBuffer[] = []): Promise<Float32Array | undefined> {
    if (this.closed) return Promise.reject(new Error('inference thread is closed'));
    const worker = this.worker ?? this.start();
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) worker.ref();
      this.pending.set(msg.id, { resolve, reject });
      worker.postMessage(msg, transfer);
    });
  }

  private settle(id: number): { resolve(y: Float32Array | undefined): void; reject(err: Error): void } | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    // An idle thread must not keep the process alive (callers that never close() the predictor).
    if (this.pending.size === 0) this.worker?.unref();
    return p;
  }

  private start(): Worker {
    const url = import.meta.url;
    // Under tsx (this file is .ts) the thread must register tsx's loader itself: module hooks
    // registered by `--import tsx` do not reach worker threads on Node 20.
    const source = url.endsWith('.ts')
      ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((t) => { t.register(); return import(${JSON.stringify(url)}); })`
      : `import(${JSON.stringify(url)})`;
    const env: NodeJS.ProcessEnv = { ...process.env, TFJS_WASM_THREADS: String(this.wasmThreads ?? 1) };
    const worker = new Worker(source, { eval: true, env, workerData: { [THREAD_TAG]: { backend: this.backend } } });
    this.worker = worker; // referenced until started, so a process waiting for it stays alive
    let started!: () => void;
    let failedToStart!: (err: Error) => void;
    this.started = new Promise<void>((resolve, reject) => {
      started = resolve;
      failedToStart = reject;
    });
    this.started.catch(() => {}); // observed by ready() callers, if any
    worker.on('message', (m: FromThread) => {
      if (m.id === READY_ID) {
        if (this.pending.size === 0) worker.unref();
        return started();
      }
      const p = this.settle(m.id);
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve(m.y);
    });
    const fail = (err: Error) => {
      failedToStart(err); // no effect once started
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.sent.clear();
      const calls = [...this.pending.values()];
      this.pending.clear();
      for (const p of calls) p.reject(err);
    };
    worker.on('error', (err) => fail(err));
    worker.on('exit', (code) => fail(new Error(`inference thread exited with code ${code}`)));
    return worker;
  }
}

/** The thread's side: loads models sent to it and answers run calls, one at a time, in order. */
async function serveThread(port: MessagePort, backend: string): Promise<void> {
  const { initBackend } = await import('../ml/backend.js');
  await initBackend(backend);
  const models = new Map<number, { model: tf.LayersModel; run: RunBatch }>();
  let queue = Promise.resolve();
  const handle = async (msg: ToThread): Promise<FromThread | undefined> => {
    switch (msg.type) {
      case 'load': {
        const model = await tf.loadLayersModel(tf.io.fromMemory(msg.artifacts));
        const run = inlineRunner(model, msg.inputShape, msg.normalization);
        models.get(msg.key)?.model.dispose();
        models.set(msg.key, { model, run });
        if (msg.warmUp) await run(new Float32Array(MNIST_PIXELS), 1);
        return { id: msg.id };
      }
      case 'run': {
        const m = models.get(msg.key);
        if (!m) throw new Error(`model ${msg.key} is not loaded on the inference thread`);
        // A copy of exactly the rows × classes values, so that transferring it moves nothing else.
        return { id: msg.id, y: (await m.run(msg.x, msg.rows)).slice() };
      }
      case 'unload':
        models.get(msg.key)?.model.dispose();
        models.delete(msg.key);
        return undefined;
    }
  };
  port.postMessage({ id: READY_ID } satisfies FromThread);
  port.on('message', (msg: ToThread) => {
    // Calls run strictly in arrival order (a load finishes before a later run starts).
    queue = queue.then(async () => {
      try {
        const reply = await handle(msg);
        if (reply) port.postMessage(reply, reply.y ? [reply.y.buffer as ArrayBuffer] : []);
      } catch (err) {
        if ('id' in msg) port.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) } satisfies FromThread);
      }
    });
  });
}

if (!isMainThread && parentPort && (workerData as Record<string, unknown> | null)?.[THREAD_TAG]) {
  const { backend } = (workerData as Record<string, { backend: string }>)[THREAD_TAG]!;
  void serveThread(parentPort, backend);
}
