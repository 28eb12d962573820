// The predict service the API calls: resolves a model reference, turns raw inputs into MNIST pixels,
// and runs them through the shared micro-batching predictor. Translates every failure a client can
// cause into an AppError with a stable code.
import type { Config } from '../shared/config.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { UUID_RE, resolveModel } from '../shared/model-registry.js';
import { modelCacheHits, modelCacheMisses, predictBatchSize, predictComputeSeconds, predictImages, predictQueueSeconds } from '../shared/metrics.js';
import { modelPrefix } from '../storage/keys.js';
import type { Artifacts } from '../storage/index.js';
import type { Normalization } from '../ml/types.js';
import { toPredictions, withConfidence, type PredictAnswer } from './answer.js';
import { OverloadedError } from './batcher.js';
import { InputError, inputsToBatch } from './inputs.js';
import { createPredictor } from './predictor.js';

/** How long an alias (or `latest`) stays resolved in this process before it is looked up again. */
const ALIAS_TTL_MS = 1000;

interface Resolved {
  lookup: Promise<string>;
  /** Set once the lookup has answered. */
  id?: string;
  /** performance.now() when the lookup started. */
  at: number;
}

/** At most `n` calls of the returned runner at once; the rest wait in order. */
function semaphore(n: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

export async function createPredictService({ config, db, logger, artifacts }: { config: Config; db: Db; logger: Logger; artifacts: Artifacts }) {
  const { initBackend } = await import('../ml/backend.js');
  const backend = await initBackend(config.TFJS_BACKEND);

  const predictor = createPredictor({
    maxQueueRows: config.PREDICT_MAX_QUEUE,
    maxBatch: config.PREDICT_MAX_BATCH,
    windowMs: config.PREDICT_BATCH_WINDOW_MS,
    cacheSize: config.MODEL_CACHE_SIZE,
    observe: config.METRICS_ENABLED
      ? {
          run: (rows, seconds) => {
            predictBatchSize.observe(rows);
            predictComputeSeconds.observe(seconds);
          },
          waited: (seconds) => predictQueueSeconds.observe(seconds),
          cache: (hit) => (hit ? modelCacheHits : modelCacheMisses).inc(),
        }
      : undefined,
    loadModel: async (id) => {
      const row = await db.model.findUnique({ where: { id } });
      if (!row) throw new AppError('MODEL_NOT_FOUND', `No model with id ${id}`);
      const { loadModel } = await import('../ml/model-io.js');
      let model: Awaited<ReturnType<typeof loadModel>>;
      try {
        // Through the local artifact cache: a model trained on another machine is downloaded once.
        const view = await artifacts.cache.materialize(modelPrefix(id));
        model = await loadModel(view.dir).finally(() => view.release());
      } catch (err) {
        // The row says the model exists, its files say otherwise: an integrity error, not the client's.
        logger.error({ err, modelId: id, integrity: true }, 'integrity error: a registered model cannot be loaded from its files');
        throw new AppError('MODEL_UNAVAILABLE', `Model ${id} is registered but its files cannot be loaded`, { modelId: id });
      }
      logger.info({ modelId: id, architecture: row.architecture }, 'model loaded for serving');
      return { model, normalization: row.normalization as unknown as Normalization, inputShape: row.inputShape as number[] };
    },
  });

  // Names (ids, aliases, `latest`) resolved in the last ALIAS_TTL_MS. A lookup in flight is shared:
  // when the entry expires under load, the concurrent requests wait for one query, not one each.
  const resolved = new Map<string, Resolved>();
  function resolveId(ref: string): Promise<string> {
    const hit = resolved.get(ref);
    if (hit && performance.now() - hit.at < ALIAS_TTL_MS) return hit.lookup;
    const entry: Resolved = { lookup: resolveModel(db, ref).then((m) => (entry.id = m.id)), at: performance.now() };
    resolved.set(ref, entry);
    entry.lookup.catch(() => resolved.get(ref) === entry && resolved.delete(ref)); // errors are not cached
    return entry.lookup;
  }

  // Admission: images inside predict() (decoding, queued or running) at most PREDICT_MAX_QUEUE; beyond
  // it OVERLOADED at once, so a flood costs a quick 503 each instead of memory and latency for all.
  let admitted = 0;
  // Image decodes at once: sharp works on libuv threads, but every decode also costs main-thread
  // time (base64, pixel loops); a few at a time keep /health and small requests answering.
  const decodes = semaphore(config.IMAGE_DECODE_CONCURRENCY);

  async function run(modelRef: string, inputs: unknown[]): Promise<PredictAnswer> {
    const modelId = await resolveId(modelRef);
    let pixels: Float32Array;
    try {
      pixels = inputs.some((x) => typeof x === 'string') ? await decodes(() => inputsToBatch(inputs)) : await inputsToBatch(inputs);
    } catch (err) {
      if (err instanceof InputError) {
        throw new AppError(err.code, err.message, { index: err.index, ...err.details });
      }
      throw err;
    }
    try {
      const { probabilities, numClasses } = await predictor.predict(modelId, pixels, inputs.length);
      // By the alias the client named (aliases are few, set by operators); ids would be unbounded.
      if (config.METRICS_ENABLED) predictImages.inc({ model: UUID_RE.test(modelRef) ? 'id' : modelRef }, inputs.length);
      // The probabilities are already temperature-scaled (the fitted temperature is folded into the
      // saved model's head, see ml/evaluate.ts), so the top one is the confidence as is.
      return { modelId, predictions: withConfidence(toPredictions(probabilities, inputs.length, numClasses), config.PREDICT_LOW_CONFIDENCE) };
    } catch (err) {
      if (err instanceof OverloadedError) throw new AppError('OVERLOADED', err.message);
      throw err;
    }
  }

  return {
    backendName: () => backend.name,
    /** Images admitted and not answered yet. */
    admitted: () => admitted,
    /** Ids of the models loaded for serving now. */
    loadedModels: () => Object.keys(predictor.stats()),
    /**
     * Loads the models requests are most likely to name, so that their first request does not wait
     * for a model load (~0.8 s for a keras-cnn with its warm-up): those aliases point at, newest
     * alias first, then `latest`, as many as the cache holds. Failures are logged, not thrown.
     */
    async preload(): Promise<string[]> {
      const aliased = await db.modelAlias.findMany({ orderBy: { updatedAt: 'desc' }, select: { modelId: true } });
      const latest = await resolveModel(db, 'latest').then((m) => [m.id], () => []);
      const ids = [...new Set([...aliased.map((a) => a.modelId), ...latest])].slice(0, config.MODEL_CACHE_SIZE);
      const loaded: string[] = [];
      for (const id of ids) {
        try {
          await predictor.preload(id);
          loaded.push(id);
        } catch (err) {
          logger.warn({ err, modelId: id }, 'model preload failed');
        }
      }
      if (loaded.length) logger.info({ models: loaded }, 'models preloaded for serving');
      return loaded;
    },
    /** Forgets every name resolved to `modelId`, and with `unload` the loaded model too. */
    invalidate(modelId: string, unload = true) {
      for (const [ref, v] of resolved) if (v.id === modelId || v.id === undefined) resolved.delete(ref);
      if (unload) predictor.invalidate(modelId);
    },
    async predict(modelRef: string, inputs: unknown[]): Promise<PredictAnswer> {
      const n = inputs.length;
      if (admitted + n > config.PREDICT_MAX_QUEUE) {
        throw new AppError('OVERLOADED', `The prediction queue is full (${admitted} images waiting, limit ${config.PREDICT_MAX_QUEUE}); retry shortly`);
      }
      admitted += n;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new AppError('PREDICT_TIMEOUT', `No answer within ${config.PREDICT_TIMEOUT_MS} ms; retry shortly`)), config.PREDICT_TIMEOUT_MS);
      });
      // The work goes on after a timeout (it cannot be recalled from the batcher) and still counts
      // against admission until it ends, so timeouts cannot pile up work beyond the limit.
      const work = run(modelRef, inputs).finally(() => (admitted -= n));
      work.catch(() => {});
      try {
        return await Promise.race([work, deadline]);
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => predictor.close(),
  };
}
