// The lifecycle every job shares: claim the row, report progress, honour cancel, record the outcome.
// Processors only do their job's steps through a JobContext.
import type { Config } from '../shared/config.js';
import type { Db } from '../shared/db.js';
import type { Logger } from '../shared/logger.js';
import type { WebhookPublisher } from '../webhooks/events.js';
import type { JobEventBus } from '../shared/job-events.js';
import { toErrorBody } from '../shared/errors.js';
import type { JobProgress, JobType } from '../shared/jobs.js';
import { fromDbType, toApiJob } from '../shared/job-rows.js';
import { observeJobFinished, observeJobStarted } from '../shared/metrics.js';

export interface WorkerDeps {
  config: Config;
  db: Db;
  logger: Logger;
  webhooks?: WebhookPublisher;
  events?: JobEventBus;
}

export interface JobContext<P = unknown> extends WorkerDeps {
  id: string;
  type: JobType;
  params: P;
  log: Logger;
  /** 1 on the first run; more when the job is picked up again after its worker died. */
  attempt: number;
  /** Records progress; written to Postgres at most once a second so it never slows the work. */
  progress(p: JobProgress): void;
  /** True once a cancel was asked for; checked by long loops at every batch. */
  cancelled(): boolean;
  /** Aborted on cancel, for I/O that takes a signal. */
  signal: AbortSignal;
  /**
   * True once this worker is shutting down. A long job stops at its next safe point and throws
   * Released: the job goes back to the queue and is resumed (a training from its last checkpoint)
   * by the next worker, rather than holding the shutdown until it ends. Short jobs may ignore it.
   */
  stopping(): boolean;
}

/** What a processor returns: the job's result, or `cancelled` when it stopped on request. */
export type Processor<P = any> = (ctx: JobContext<P>) => Promise<unknown>;
export class Cancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

/** Thrown by a processor that stopped because its worker is shutting down (see JobContext.stopping). */
export class Released extends Error {
  constructor() {
    super('released: the worker is shutting down');
  }
}

const FLUSH_MS = 1000;

/**
 * Runs one job through `processor` and records its outcome on the row. Resolves to `released` when
 * the processor handed the job back (worker shutting down, `shutdown` aborted): the row stays
 * `running` and the caller must put the job back on the queue.
 */
export async function runJob(deps: WorkerDeps, jobId: string, processor: Processor, shutdown?: AbortSignal): Promise<'done' | 'released'> {
  const { db, logger } = deps;
  const row = await db.job.findUnique({ where: { id: jobId } });
  if (!row) {
    logger.warn({ jobId }, 'queued job has no row; dropped');
    return 'done';
  }
  const log = logger.child({ jobId, type: fromDbType(row.type) });
  if (row.status !== 'queued' && row.status !== 'running') {
    log.info({ status: row.status }, 'job already finished; skipped');
    return 'done';
  }
  if (row.cancelRequested) {
    await db.job.update({ where: { id: jobId }, data: { status: 'cancelled', finishedAt: new Date() } });
    return 'done';
  }
  const claimed = await db.job.update({
    where: { id: jobId },
    data: { status: 'running', startedAt: row.startedAt ?? new Date(), attempts: { increment: 1 } },
  });
  log.info({ attempt: claimed.attempts }, row.status === 'running' ? 'job resumed' : 'job started');
  await deps.events?.publish(jobId, 'status', toApiJob(claimed));
  if (!row.startedAt) {
    observeJobStarted(fromDbType(row.type), claimed.createdAt, claimed.startedAt!);
    await deps.webhooks?.publish('job.started', toApiJob(claimed), { jobId });
  }

  const abort = new AbortController();
  let pending: JobProgress | null = null;
  let last: JobProgress = (row.progress as JobProgress | null) ?? { percent: 0 };
  const flush = async () => {
    const progress = pending;
    pending = null;
    const r = await db.job.update({ where: { id: jobId }, data: progress ? { progress: progress as object } : {}, select: { cancelRequested: true } });
    if (progress) await deps.events?.publish(jobId, 'progress', progress);
    if (r.cancelRequested && !abort.signal.aborted) {
      log.info('cancel requested');
      abort.abort(new Cancelled());
    }
  };
  let flushing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    flushing = flushing.then(flush).catch((err) => log.warn({ err }, 'progress write failed'));
  }, FLUSH_MS);

  const ctx: JobContext = {
    ...deps,
    id: jobId,
    type: fromDbType(row.type),
    params: row.params,
    log,
    attempt: claimed.attempts,
    progress: (p) => {
      last = { ...p, percent: Math.max(0, Math.min(100, Math.round(p.percent * 10) / 10)) };
      pending = last;
    },
    cancelled: () => abort.signal.aborted,
    signal: abort.signal,
    stopping: () => shutdown?.aborted ?? false,
  };

  const t0 = performance.now();
  let outcome: { status: 'succeeded' | 'failed' | 'cancelled'; result?: unknown; error?: object } | undefined;
  try {
    const result = await processor(ctx);
    outcome = abort.signal.aborted ? { status: 'cancelled', result } : { status: 'succeeded', result };
  } catch (err) {
    if (abort.signal.aborted || err instanceof Cancelled) outcome = { status: 'cancelled' };
    else if (err instanceof Released) outcome = undefined;
    else {
      const error = toErrorBody(err, 'JOB_FAILED');
      if (error.code === 'JOB_FAILED') log.error({ err }, 'job failed unexpectedly');
      else log.warn({ error }, 'job failed');
      outcome = { status: 'failed', error };
    }
  } finally {
    clearInterval(timer);
    await flushing;
  }
  if (!outcome) {
    await db.job.update({ where: { id: jobId }, data: { progress: { ...last, stage: 'requeued' } as object } });
    await deps.events?.publish(jobId, 'progress', { ...last, stage: 'requeued' });
    log.info({ seconds: Math.round((performance.now() - t0) / 100) / 10 }, 'job handed back to the queue: the worker is shutting down');
    return 'released';
  }
  const progress = { ...last, ...(outcome.status === 'succeeded' ? { percent: 100, etaSeconds: 0 } : {}), stage: outcome.status };
  const finished = await db.job.update({
    where: { id: jobId },
    data: {
      status: outcome.status,
      finishedAt: new Date(),
      progress: progress as object,
      ...(outcome.result !== undefined ? { result: outcome.result as object } : {}),
      ...(outcome.error ? { error: outcome.error } : {}),
    },
  });
  observeJobFinished(fromDbType(row.type), outcome.status, finished);
  await deps.events?.publish(jobId, 'status', toApiJob(finished));
  await deps.events?.publish(jobId, 'end', { status: outcome.status });
  await deps.webhooks?.publish(`job.${outcome.status}`, toApiJob(finished), { jobId, callbackUrl: finished.callbackUrl });
  log.info({ status: outcome.status, seconds: Math.round((performance.now() - t0) / 100) / 10 }, 'job finished');
  return 'done';
}
