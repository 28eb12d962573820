// The pool of inference threads the predictor runs models on (see predictor.ts for why threads).
// Every served model is loaded on each thread; a batch goes to the least busy one. A thread that
// dies is replaced on the next call, and its models are sent to the new one again.
import { Worker } from 'node:worker_threads';
import type { FromThread, ThreadData, ThreadModel, ToThread } from './inference-thread.js';
import { MNIST_PIXELS } from './run-model.js';

const THREAD_ENTRY = new URL('./inference-thread.ts', import.meta.url);
/**
 * The thread's entry file is TypeScript, so tsx must be registered in the thread first. The `--import
 * tsx` a parent process runs with does not do it: tsx registers its hooks on the main thread only on
 * Node 20 (module hooks did not reach worker threads there, nodejs/node#47747), so the thread
 * imports a file that registers them unconditionally, instead of inheriting the parent's flags.
 */
const THREAD_EXEC_ARGV = ['--import', new URL('./register-tsx.mjs', import.meta.url).href];

/** Inference threads sharing the work: every model is loaded on each, a batch goes to the least busy. */
export class InferencePool {
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
    const env: NodeJS.ProcessEnv = { ...process.env, TFJS_WASM_THREADS: String(this.wasmThreads ?? 1) };
    const workerData: ThreadData = { backend: this.backend };
    const worker = new Worker(THREAD_ENTRY, { execArgv: THREAD_EXEC_ARGV, env, workerData });
    this.worker = worker; // referenced until started, so a process waiting for it stays alive
    let started!: () => void;
    let failedToStart!: (err: Error) => void;
    this.started = new Promise<void>((resolve, reject) => {
      started = resolve;
      failedToStart = reject;
    });
    this.started.catch(() => {}); // observed by ready() callers, if any
    worker.on('message', (m: FromThread) => {
      if (m.type === 'ready') {
        if (this.pending.size === 0) worker.unref();
        return started();
      }
      const p = this.settle(m.id);
      if (m.type === 'failed') p?.reject(new Error(m.error));
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
