// Assembles the running service from its parts: the API, the workers, or both in one process (the
// integration tests; main.ts runs the workers in a process of their own). Used by both, so both run
// the same wiring.
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from './api/app.js';
import type { Config } from './shared/config.js';
import { createDb, type Db } from './shared/db.js';
import type { Logger } from './shared/logger.js';
import { closeQueues, createQueues, queueCounts, type Queues } from './shared/queue.js';
import { trackQueueDepth } from './shared/metrics.js';
import { createWebhookPublisher, createWebhookQueue, type WebhookPublisher } from './webhooks/events.js';
import { startDeliveryWorker } from './webhooks/delivery.js';
import { createJobEventBus, type JobEventBus } from './shared/job-events.js';
import { createReconciler } from './jobs/reconciler.js';
import { HEARTBEAT_STALE_MS } from './jobs/store.js';
import { startWorkers, type WorkerOptions, type Workers } from './worker/index.js';
import { createPredictService } from './serving/service.js';
import { JobsStore } from './jobs/store.js';

export interface ServiceOptions {
  api?: boolean;
  worker?: boolean;
  workerOptions?: WorkerOptions;
  /** Under `npm start`: the worker child's metrics, merged into the API's GET /metrics. */
  workerMetrics?: AppDeps['workerMetrics'];
}

export interface Service {
  config: Config;
  db: Db;
  queues: Queues;
  jobs: JobsStore;
  webhooks: WebhookPublisher;
  events: JobEventBus;
  app?: FastifyInstance;
  workers?: Workers;
  /** API only: loads the aliased and the latest model for serving (main.ts calls it after listen). */
  preloadModels(): Promise<string[]>;
  close(): Promise<void>;
}

export async function createService(config: Config, logger: Logger, opts: ServiceOptions = { api: true, worker: true }): Promise<Service> {
  const db = createDb(config.DATABASE_URL);
  const queues = createQueues(config.REDIS_URL, config.QUEUE_PREFIX);
  trackQueueDepth(() => queueCounts(queues));
  const webhooks = createWebhookPublisher({ db, queue: createWebhookQueue(config.REDIS_URL, config.QUEUE_PREFIX), logger });
  const events = createJobEventBus(config.REDIS_URL, config.QUEUE_PREFIX, logger);
  let deliveries: ReturnType<typeof startDeliveryWorker> | undefined;
  let app: FastifyInstance | undefined;
  let workers: Workers | undefined;
  let predict: Awaited<ReturnType<typeof createPredictService>> | undefined;
  if (opts.worker) {
    const { initBackend } = await import('./ml/backend.js');
    const backend = await initBackend(config.TFJS_BACKEND);
    logger.info({ backend }, 'TensorFlow.js backend ready');
    workers = await startWorkers({ config, db, logger, queues, webhooks, events }, opts.workerOptions);
    deliveries = startDeliveryWorker({ config, db, logger });
  }
  const jobs = new JobsStore(db, queues, config, { logger, events, webhooks });
  // Every process runs it; a Redis lock lets one pass run at a time across all of them.
  const reconciler = createReconciler({
    db,
    queues,
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    logger,
    webhooks,
    staleMs: HEARTBEAT_STALE_MS,
    requeue: (type, id, reason) => jobs.requeue(type, id, reason),
  });
  reconciler.start(config.RECONCILE_INTERVAL_MS);
  if (opts.api) {
    predict = await createPredictService({ config, db, logger });
    app = await buildApp({
      config,
      db,
      queues,
      jobs,
      logger,
      webhooks,
      events,
      predict,
      backendName: () => predict?.backendName() ?? null,
      loadedModels: () => predict?.loadedModels() ?? [],
      onModelChanged: (id, change) => predict?.invalidate(id, change === 'deleted'),
      workerMetrics: opts.workerMetrics,
    }).catch(async (err) => {
      // Refused to start (e.g. AUTH_REQUIRED without a key): release what was opened, then say why.
      await reconciler.close();
      await Promise.allSettled([workers?.close(), deliveries?.close(), predict?.close(), closeQueues(queues), webhooks.close(), events.close()]);
      await db.$disconnect();
      throw err;
    });
  }
  return {
    config,
    db,
    queues,
    jobs,
    webhooks,
    events,
    app,
    workers,
    preloadModels: async () => (predict ? predict.preload() : []),
    async close() {
      await reconciler.close();
      await app?.close();
      await workers?.close();
      await deliveries?.close();
      await predict?.close();
      await closeQueues(queues);
      await webhooks.close();
      await events.close();
      await db.$disconnect();
    },
  };
}
