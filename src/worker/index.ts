// BullMQ workers: one per job type, each handing its jobs to that type's processor through runJob.
import { UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { JOB_TYPES, type JobType } from '../jobs/contract.js';
import type { Processors } from '../jobs/registry.js';
import { JobsStore } from '../jobs/store.js';
import { queueName, redisConnection, type QueuePayload, type Queues } from '../shared/queue.js';
import { runJob, type WorkerDeps } from './job-context.js';

export interface WorkerOptions {
  /** Which job types this process serves (default all). */
  types?: readonly JobType[];
  /** How long a job's lock lives without renewal; a worker that dies loses its jobs after this. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Told which jobs this process holds (npm start's supervisor puts them back at once if this process dies). */
  track?: JobTracker;
}

export interface JobTracker {
  started(queue: string, jobId: string, token: string): void;
  ended(jobId: string): void;
}

export interface Workers {
  close(): Promise<void>;
}

async function loadProcessors(): Promise<Processors> {
  // Imported here so that TensorFlow.js loads only in processes that run workers.
  const [{ datasetPrep }, { train }, { fineTune }, { predictJob }] = await Promise.all([
    import('./processors/dataset-prep.js'),
    import('./processors/train.js'),
    import('./processors/fine-tune.js'),
    import('./processors/predict.js'),
  ]);
  return { 'dataset-prep': datasetPrep, train, 'fine-tune': fineTune, predict: predictJob };
}

const CONCURRENCY: Record<JobType, (c: number) => number> = {
  'dataset-prep': (c) => c,
  train: (c) => c,
  'fine-tune': (c) => c,
  predict: (c) => Math.max(c, 2),
};

export async function startWorkers(deps: WorkerDeps & { queues: Queues }, opts: WorkerOptions = {}): Promise<Workers> {
  const { config, db, logger, queues } = deps;
  const store = new JobsStore(db, queues, config, { logger, events: deps.events, webhooks: deps.webhooks });
  const processors = await loadProcessors();
  const types = opts.types ?? JOB_TYPES;
  // Aborted by close(): long jobs then stop at their next safe point and are put back on the queue.
  const shutdown = new AbortController();
  const workers = types.map((type) => {
    const worker = new Worker<QueuePayload>(
      queueName(type),
      async (job, token) => {
        opts.track?.started(queueName(type), job.id!, token!);
        try {
          const run = await runJob({ ...deps, store }, job.data.jobId, processors, shutdown.signal);
          if (run.kind === 'released') {
            await job.moveToWait(token);
            throw new WaitingError(); // tells BullMQ the job was moved, not finished
          }
          // The queue retries it with backoff (enqueueOptions' attempts), and the reconciler after that.
          if (run.kind === 'retry') throw run.error;
          // Recorded as failed: the queue must not run it again.
          if (run.failed) throw new UnrecoverableError(`${run.failed.code}: ${run.failed.message}`);
        } finally {
          opts.track?.ended(job.id!);
        }
      },
      {
        connection: redisConnection(config.REDIS_URL),
        prefix: config.QUEUE_PREFIX,
        concurrency: CONCURRENCY[type](config.WORKER_CONCURRENCY),
        lockDuration: opts.lockDurationMs ?? 30_000,
        stalledInterval: opts.stalledIntervalMs ?? 30_000,
        // A job whose worker died is retried from its checkpoint a few times before it is failed.
        maxStalledCount: 3,
      },
    );
    worker.on('failed', async (job, err) => {
      if (!job) return;
      // runJob records every failure of the job itself, and leaves failures of the infrastructure to
      // the queue's retries and then the reconciler. What remains is a job that stalled too often: it
      // keeps killing its worker (out of memory, say), so it is failed rather than run forever.
      if (!/stalled more than allowable limit/.test(err.message)) return;
      logger.error({ jobId: job.data.jobId, err }, 'queue gave up on a job');
      await store.markLost(job.data.jobId, err.message).catch((e) => logger.error({ err: e }, 'could not record a lost job'));
    });
    worker.on('error', (err) => logger.error({ err }, 'worker error'));
    return worker;
  });

  // Jobs that Redis lost, or whose enqueue failed, are put back by the reconciler (src/jobs/reconciler.ts).
  logger.info({ types }, 'workers started');

  return {
    close: async () => {
      shutdown.abort();
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
