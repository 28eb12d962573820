// The entry file of an inference thread (started by inference-pool.ts, never imported): initialises
// a single-threaded backend, loads the models the pool sends, and answers run calls one at a time,
// in arrival order (a load finishes before a later run starts).
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../ml/backend.js';
import * as tf from '../ml/tf.js';
import type { Normalization } from '../ml/types.js';
import type { RunBatch } from './batcher.js';
import { MNIST_PIXELS, modelRunner } from './run-model.js';

/** What the thread is started with. */
export interface ThreadData {
  backend: string;
}

/** A model as the pool sends it: topology and weights (tf.io.fromMemory's input) and how to feed it. */
export interface ThreadModel {
  artifacts: tf.io.ModelArtifacts;
  inputShape: number[];
  normalization: Normalization;
  warmUp: boolean;
}

/** Messages to the thread. Calls (`load`, `run`) carry an id the answer repeats. */
export type ToThread =
  | ({ type: 'load'; id: number; key: number } & ThreadModel)
  | { type: 'run'; id: number; key: number; x: Float32Array; rows: number }
  | { type: 'unload'; key: number };

/** Messages from the thread: `ready` once, after the backend is initialised, then one answer per call. */
export type FromThread = { type: 'ready' } | { type: 'done'; id: number; y?: Float32Array } | { type: 'failed'; id: number; error: string };

async function serve(port: NonNullable<typeof parentPort>, { backend }: ThreadData): Promise<void> {
  await initBackend(backend);
  const models = new Map<number, { model: tf.LayersModel; run: RunBatch }>();
  const handle = async (msg: ToThread): Promise<FromThread | undefined> => {
    switch (msg.type) {
      case 'load': {
        const model = await tf.loadLayersModel(tf.io.fromMemory(msg.artifacts));
        const run = modelRunner(model, msg.inputShape, msg.normalization);
        models.get(msg.key)?.model.dispose();
        models.set(msg.key, { model, run });
        if (msg.warmUp) await run(new Float32Array(MNIST_PIXELS), 1);
        return { type: 'done', id: msg.id };
      }
      case 'run': {
        const m = models.get(msg.key);
        if (!m) throw new Error(`model ${msg.key} is not loaded on the inference thread`);
        // A copy of exactly the rows × classes values, so that transferring it moves nothing else.
        return { type: 'done', id: msg.id, y: (await m.run(msg.x, msg.rows)).slice() };
      }
      case 'unload':
        models.get(msg.key)?.model.dispose();
        models.delete(msg.key);
        return undefined;
    }
  };
  let queue = Promise.resolve();
  port.on('message', (msg: ToThread) => {
    queue = queue.then(async () => {
      try {
        const reply = await handle(msg);
        if (reply) port.postMessage(reply, reply.type === 'done' && reply.y ? [reply.y.buffer as ArrayBuffer] : []);
      } catch (err) {
        if ('id' in msg) port.postMessage({ type: 'failed', id: msg.id, error: err instanceof Error ? err.message : String(err) } satisfies FromThread);
      }
    });
  });
  port.postMessage({ type: 'ready' } satisfies FromThread);
}

if (!parentPort) throw new Error('inference-thread.ts is the entry file of a worker thread; start it through InferencePool');
await serve(parentPort, workerData as ThreadData);
