// Assembles the running service from its parts: the API, the workers, or both in one process (the
// integration tests; main.ts runs the workers in a process of their own). Used by both, so both run
// the same wiring.
import type { FastifyInstance } from 'fastify';
import { buildApp } from './api/app.js';
import type { Config } from './shared/config.js';
import { createDb, type Db } from './shared/db.js';
import type { Logger } from './shared/logger.js';
import { closeQueues, createQueues, type Queues } from './shared/queue.js';
import { startWorkers, type WorkerOptions, type Workers } from './worker/index.js';
import { createPredictService } from './serving/service.js';
import { JobsStore } from './jobs/store.js';

export interface ServiceOptions {
  api?: boolean;
  worker?: boolean;
  workerOptions?: WorkerOptions;
}

export interface Service {
  config: Config;
  db: Db;
  queues: Queues;
  app?: FastifyInstance;
  workers?: Workers;
  /** API only: loads the aliased and the latest model for serving (main.ts calls it after listen). */
  preloadModels(): Promise<string[]>;
  close(): Promise<void>;
}

export async function createService(config: Config, logger: Logger, opts: ServiceOptions = { api: true, worker: true }): Promise<Service> {
  const db = createDb(config.DATABASE_URL);
  const queues = createQueues(config.REDIS_URL, config.QUEUE_PREFIX);
  let app: FastifyInstance | undefined;
  let workers: Workers | undefined;
  let predict: Awaited<ReturnType<typeof createPredictService>> | undefined;
  if (opts.worker) {
    const { initBackend } = await import('./ml/backend.js');
    const backend = await initBackend(config.TFJS_BACKEND);
    logger.info({ backend }, 'TensorFlow.js backend ready');
    workers = await startWorkers({ config, db, logger, queues }, opts.workerOptions);
  }
  if (opts.api) {
    predict = await createPredictService({ config, db, logger });
    app = await buildApp({
      config,
      db,
      queues,
      jobs: new JobsStore(db, queues, config),
      logger,
      predict,
      backendName: () => predict?.backendName() ?? null,
      loadedModels: () => predict?.loadedModels() ?? [],
      onModelChanged: (id, change) => predict?.invalidate(id, change === 'deleted'),
    }).catch(async (err) => {
      // Refused to start (e.g. AUTH_REQUIRED without a key): release what was opened, then say why.
      await Promise.allSettled([workers?.close(), predict?.close(), closeQueues(queues), db.$disconnect()]);
      throw err;
    });
  }
  return {
    config,
    db,
    queues,
    app,
    workers,
    preloadModels: async () => (predict ? predict.preload() : []),
    async close() {
      await app?.close();
      await workers?.close();
      await predict?.close();
      await closeQueues(queues);
      await db.$disconnect();
    },
  };
}
