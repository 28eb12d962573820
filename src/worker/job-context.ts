// The lifecycle every job shares: claim the row, report progress, honour cancel, record the outcome.
// Processors only do their job's steps through a JobContext.
import type { Config } from '../shared/config.js';
import type { Db } from '../shared/db.js';
import type { Logger } from '../shared/logger.js';
import type { WebhookPublisher } from '../webhooks/events.js';
import type { JobEventBus } from '../shared/job-events.js';
import { toErrorBody, type ErrorBody } from '../shared/errors.js';
import type { JobProgress, JobType } from '../shared/jobs.js';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { claim, finish, heartbeat, release, type JobWithHistory, type Outcome } from '../jobs/lifecycle.js';
import { isTransient, StateNotRecorded } from '../jobs/retry.js';
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
 * What became of a job in runJob: `done` (its terminal status is recorded, or there was nothing to
 * run), `released` (handed back: the worker is shutting down; the caller puts it back on the queue),
 * or `retry` (a dependency failed: the caller lets the queue retry it with backoff; the checkpoint
 * stays, and the next attempt resumes from it).
 */
export type RunResult = { kind: 'done'; failed?: ErrorBody } | { kind: 'released' } | { kind: 'retry'; error: Error };

/** Deleted only once the terminal status is committed: until then a rerun may resume from it. */
const dropCheckpoint = (config: Config, id: string) => rm(path.join(config.DATA_DIR, 'checkpoints', id), { recursive: true, force: true });

/** Runs one job through `processor`, every lifecycle write through src/jobs/lifecycle.ts. */
export async function runJob(deps: WorkerDeps, jobId: string, processor: Processor, shutdown?: AbortSignal): Promise<RunResult> {
  const { logger } = deps;
  const log0 = logger.child({ jobId });
  let claimed;
  try {
    claimed = await claim(deps, jobId, log0);
  } catch (err) {
    return { kind: 'retry', error: err as Error };
  }
  if (claimed.kind === 'skip') {
    log0.info({ why: claimed.why }, 'nothing to run; skipped');
    return { kind: 'done' };
  }
  const row = claimed.row;
  const type = fromDbType(row.type);
  const log = logger.child({ jobId, type });
  if (claimed.kind === 'cancelled') {
    await announceEnd(deps, claimed.row, type);
    return { kind: 'done' };
  }
  log.info({ attempt: row.attempts }, claimed.resumed ? 'job resumed' : 'job started');
  if (row.attempts === 1) {
    observeJobStarted(type, row.createdAt, row.startedAt!);
    await deps.webhooks?.publish('job.started', toApiJob(row), { jobId });
  }
  await deps.events?.publish(jobId, 'status', toApiJob(row));

  const abort = new AbortController();
  let pending: JobProgress | null = null;
  let last: JobProgress = (row.progress as JobProgress | null) ?? { percent: 0 };
  const flush = async () => {
    const progress = pending;
    pending = null;
    const r = await heartbeat(deps, jobId, progress).catch((err) => {
      pending ??= progress; // written with the next beat
      throw err;
    });
    if (progress) await deps.events?.publish(jobId, 'progress', progress);
    if (r.cancelRequested && !abort.signal.aborted) {
      log.info('cancel requested');
      abort.abort(new Cancelled());
    }
  };
  let flushing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    flushing = flushing.then(flush).catch((err) => log.warn({ err: (err as Error).message }, 'progress write failed; retried with the next beat'));
  }, FLUSH_MS);

  const ctx: JobContext = {
    ...deps,
    id: jobId,
    type,
    params: row.params,
    log,
    attempt: row.attempts,
    progress: (p) => {
      last = { ...p, percent: Math.max(0, Math.min(100, Math.round(p.percent * 10) / 10)) };
      pending = last;
    },
    cancelled: () => abort.signal.aborted,
    signal: abort.signal,
    stopping: () => shutdown?.aborted ?? false,
  };

  const t0 = performance.now();
  let outcome: Outcome | { status: 'released' } | { status: 'retry'; error: Error };
  try {
    const result = await processor(ctx);
    outcome = abort.signal.aborted ? { status: 'cancelled', result, progress: last } : { status: 'succeeded', result, progress: last };
  } catch (err) {
    if (abort.signal.aborted || err instanceof Cancelled) outcome = { status: 'cancelled', progress: last };
    else if (err instanceof Released) outcome = { status: 'released' };
    else if (err instanceof StateNotRecorded || isTransient(err)) {
      // Postgres, Redis or the store is away: not the job's fault, so not its failure.
      log.warn({ err: (err as Error).message }, 'job interrupted by an unavailable dependency; back to the queue');
      outcome = { status: 'retry', error: err as Error };
    } else {
      const error = toErrorBody(err, 'JOB_FAILED');
      if (error.code === 'JOB_FAILED') log.error({ err }, 'job failed unexpectedly');
      else log.warn({ error }, 'job failed');
      outcome = { status: 'failed', error, progress: last };
    }
  } finally {
    clearInterval(timer);
    await flushing;
  }
  const seconds = Math.round((performance.now() - t0) / 100) / 10;
  if (outcome.status === 'released' || outcome.status === 'retry') {
    const reason = outcome.status === 'released' ? 'the worker is shutting down' : `dependency unavailable: ${outcome.error.message.slice(0, 200)}`;
    await release(deps, jobId, last, reason, log).catch((err) => log.warn({ err: (err as Error).message }, 'could not record the release'));
    await deps.events?.publish(jobId, 'progress', { ...last, stage: 'requeued' });
    log.info({ seconds, reason }, 'job handed back to the queue');
    return outcome.status === 'released' ? { kind: 'released' } : { kind: 'retry', error: outcome.error };
  }
  const progress = { ...last, ...(outcome.status === 'succeeded' ? { percent: 100, etaSeconds: 0 } : {}), stage: outcome.status };
  let finished;
  try {
    finished = await finish(deps, jobId, { ...outcome, progress } as Outcome, log);
  } catch (err) {
    // The outcome could not be committed: run it again later (from its checkpoint), never lose it.
    return { kind: 'retry', error: err as Error };
  }
  await dropCheckpoint(deps.config, jobId);
  if (finished) {
    log.info({ status: outcome.status, seconds }, 'job finished');
    await announceEnd(deps, finished, type);
  }
  return { kind: 'done', failed: outcome.status === 'failed' ? outcome.error : undefined };
}

/** Metrics, live events and webhooks of a job that reached its terminal status. */
async function announceEnd(deps: WorkerDeps, row: JobWithHistory, type: JobType): Promise<void> {
  observeJobFinished(type, row.status, row);
  await deps.events?.publish(row.id, 'status', toApiJob(row));
  await deps.events?.publish(row.id, 'end', { status: row.status });
  await deps.webhooks?.publish(`job.${row.status as 'succeeded' | 'failed' | 'cancelled'}`, toApiJob(row), { jobId: row.id, callbackUrl: row.callbackUrl });
}
