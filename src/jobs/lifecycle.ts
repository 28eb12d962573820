// Every write that moves a job through its lifecycle, each with its history row, and each riding
// out a short Postgres outage (withRetry). Workers claim, beat, record epochs, finish and release
// through here; the API submits (the queued row) and cancels; the reconciler and the supervisor of
// `npm start` requeue.
// TODO(merge with issue 9): these become the jobs store's methods (src/jobs/store.ts).
import type { Prisma } from '../generated/prisma/client.js';
import type { Db } from '../shared/db.js';
import type { ErrorBody } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Queues } from '../shared/queue.js';
import { TERMINAL_STATUSES, type JobProgress, type JobType } from '../shared/jobs.js';
import { fromDbType } from '../shared/job-rows.js';
import { withRetry } from './retry.js';

/** Queue attempts for failures of the infrastructure (a job's own errors are never retried). */
export const JOB_ATTEMPTS = 8;
/** BullMQ options of every job: the row id is the BullMQ id, so enqueueing twice is a no-op. */
export const jobQueueOptions = (id: string) => ({
  jobId: id,
  attempts: JOB_ATTEMPTS,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: 1000,
  removeOnFail: 5000,
});
/** A running job whose worker has not written its heartbeat (about once a second) for this long has no live worker. */
export const HEARTBEAT_STALE_MS = 30_000;

export interface LifecycleDeps {
  db: Db;
  logger: Logger;
}

export interface HistoryEntry {
  status: string;
  at: string;
  reason?: string;
}

export const includeHistory = { transitions: { orderBy: { id: 'asc' as const }, select: { status: true, at: true, reason: true } } };
export type JobWithHistory = Prisma.JobGetPayload<{ include: typeof includeHistory }>;

export const toHistory = (rows: { status: string; at: Date; reason: string | null }[]): HistoryEntry[] =>
  rows.map((t) => ({ status: t.status, at: t.at.toISOString(), ...(t.reason ? { reason: t.reason } : {}) }));

const OPEN = { in: ['queued', 'running'] as ('queued' | 'running')[] };

/** Queues a job (BullMQ ignores an id it holds already). */
export async function enqueue(queues: Queues, type: JobType, id: string): Promise<void> {
  await queues[type].add(type, { jobId: id }, jobQueueOptions(id));
}

/** Puts a job back on its queue and says why in its history (a worker died, the queue lost it, …). */
export async function requeue(deps: LifecycleDeps & { queues: Queues }, type: JobType, id: string, reason: string): Promise<void> {
  await withRetry('requeue', () => deps.db.jobTransition.create({ data: { jobId: id, status: 'requeued', reason } }), { logger: deps.logger });
  await enqueue(deps.queues, type, id);
}

/**
 * Puts back on its queue a job that a worker held when that worker died (npm start's supervisor
 * knows which, and their lock tokens): at once, rather than after the lock expires and the stalled
 * check runs (up to lockDuration + stalledInterval, 30 + 30 s by default).
 */
export async function takeBack(deps: LifecycleDeps & { queues: Queues }, queueName: string, id: string, token: string, reason: string): Promise<boolean> {
  const queue = Object.values(deps.queues).find((q) => q.name === queueName);
  const entry = await queue?.getJob(id);
  if (!entry) return false;
  try {
    await entry.moveToWait(token);
  } catch {
    return false; // its lock expired meanwhile: the stalled check has it
  }
  await withRetry('requeue', () => deps.db.jobTransition.create({ data: { jobId: id, status: 'requeued', reason } }), { logger: deps.logger, budgetMs: 10_000 }).catch(() => {});
  return true;
}

export type Claimed = { kind: 'run'; row: JobWithHistory; resumed: boolean } | { kind: 'skip'; why: string } | { kind: 'cancelled'; row: JobWithHistory };

/** Takes a job for a worker: `run` it, `skip` it (gone, finished already), or it was `cancelled` before it started. */
export async function claim(deps: LifecycleDeps, id: string, log: Logger): Promise<Claimed> {
  return withRetry(
    'claim',
    () =>
      deps.db.$transaction(async (tx): Promise<Claimed> => {
        const row = await tx.job.findUnique({ where: { id } });
        if (!row) return { kind: 'skip', why: 'no row' };
        if (TERMINAL_STATUSES.includes(row.status)) return { kind: 'skip', why: `already ${row.status}` };
        const now = new Date();
        if (row.cancelRequested) {
          await tx.job.update({ where: { id }, data: { status: 'cancelled', finishedAt: now } });
          await tx.jobTransition.create({ data: { jobId: id, status: 'cancelled', reason: `cancelled by ${row.cancelledBy ?? 'a client'}`, at: now } });
          return { kind: 'cancelled', row: await tx.job.findUniqueOrThrow({ where: { id }, include: includeHistory }) };
        }
        const attempt = row.attempts + 1;
        await tx.job.update({ where: { id }, data: { status: 'running', startedAt: row.startedAt ?? now, attempts: attempt, heartbeatAt: now } });
        await tx.jobTransition.create({ data: { jobId: id, status: 'running', at: now, reason: attempt === 1 ? undefined : `attempt ${attempt}` } });
        return { kind: 'run', row: await tx.job.findUniqueOrThrow({ where: { id }, include: includeHistory }), resumed: row.status === 'running' };
      }),
    { logger: log },
  );
}

/** Writes progress (when given) and the heartbeat; tells whether a cancel was asked for. Not retried: it runs every second. */
export async function heartbeat(deps: LifecycleDeps, id: string, progress: JobProgress | null): Promise<{ cancelRequested: boolean }> {
  return deps.db.job.update({ where: { id }, data: { heartbeatAt: new Date(), ...(progress ? { progress: progress as object } : {}) }, select: { cancelRequested: true } });
}

export interface EpochRow {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss: number | null;
  valAccuracy: number | null;
  learningRate: number;
  seconds: number;
  samplesPerSec: number;
}

/** One epoch's metrics; idempotent per (job, epoch): an epoch written again (a resumed run) replaces its row. */
export async function recordEpoch(deps: LifecycleDeps, id: string, { epoch, ...row }: EpochRow, log: Logger): Promise<void> {
  await withRetry('epoch metrics', () => deps.db.epochMetric.upsert({ where: { jobId_epoch: { jobId: id, epoch } }, create: { jobId: id, epoch, ...row }, update: row }), { logger: log });
}

export type Outcome =
  | { status: 'succeeded'; result: unknown; progress: JobProgress }
  | { status: 'cancelled'; progress: JobProgress; result?: unknown }
  | { status: 'failed'; error: ErrorBody; progress: JobProgress };

/**
 * Records the terminal status (with `result` or `error`) and its history row, unless the row is
 * finished already (e.g. cancelled meanwhile): then null.
 */
export async function finish(deps: LifecycleDeps, id: string, outcome: Outcome, log: Logger): Promise<JobWithHistory | null> {
  return withRetry(
    'terminal status',
    () =>
      deps.db.$transaction(async (tx) => {
        const row = await tx.job.findUnique({ where: { id }, select: { cancelledBy: true } });
        const now = new Date();
        const { count } = await tx.job.updateMany({
          where: { id, status: OPEN },
          data: {
            status: outcome.status,
            finishedAt: now,
            progress: outcome.progress as object,
            ...(outcome.status !== 'failed' && outcome.result !== undefined ? { result: outcome.result as object } : {}),
            ...(outcome.status === 'failed' ? { error: outcome.error as object } : {}),
          },
        });
        if (count === 0) return null;
        const reason = outcome.status === 'failed' ? outcome.error.code : outcome.status === 'cancelled' ? `cancelled by ${row?.cancelledBy ?? 'a client'}` : undefined;
        await tx.jobTransition.create({ data: { jobId: id, status: outcome.status, at: now, reason } });
        return tx.job.findUniqueOrThrow({ where: { id }, include: includeHistory });
      }),
    { logger: log },
  );
}

/** The worker hands the job back (shutting down, or its state could not be recorded): the row stays running, for the next worker. */
export async function release(deps: LifecycleDeps, id: string, progress: JobProgress, reason: string, log: Logger): Promise<void> {
  await withRetry(
    'release',
    () =>
      deps.db.$transaction([
        deps.db.job.updateMany({ where: { id, status: OPEN }, data: { progress: { ...progress, stage: 'requeued' } as object } }),
        deps.db.jobTransition.create({ data: { jobId: id, status: 'requeued', reason } }),
      ]),
    { logger: log, budgetMs: 10_000 },
  );
}

export type CancelResult = { row: JobWithHistory; endedNow: boolean };

/**
 * Cancels a job whatever its queue entry's state: a queued job, or a running one that no live worker
 * holds (no active queue entry, or a stale heartbeat), ends at once; a running one with a live worker
 * is flagged and stops at its next batch. `by` says who, for the history.
 */
export async function cancel(deps: LifecycleDeps & { queues: Queues }, row: { id: string; type: Prisma.JobGetPayload<object>['type'] }, by: string): Promise<CancelResult> {
  const { db, queues } = deps;
  const id = row.id;
  // Flag first: a worker that takes the job from now on sees the flag and stops.
  await db.job.updateMany({ where: { id, status: OPEN }, data: { cancelRequested: true, cancelledBy: by } });
  const entry = await queues[fromDbType(row.type)].getJob(id);
  const state = entry ? await entry.getState() : 'missing';
  if (entry && state !== 'active') await entry.remove().catch(() => {});
  const now = new Date();
  const endedNow = await db.$transaction(async (tx) => {
    const current = await tx.job.findUniqueOrThrow({ where: { id } });
    const workerless = current.status === 'queued' || state !== 'active' || !current.heartbeatAt || Date.now() - current.heartbeatAt.getTime() > HEARTBEAT_STALE_MS;
    if (!workerless) return false;
    const { count } = await tx.job.updateMany({
      where: { id, status: OPEN },
      data: { status: 'cancelled', finishedAt: now, progress: { ...(current.progress as object), stage: 'cancelled' } },
    });
    if (count) await tx.jobTransition.create({ data: { jobId: id, status: 'cancelled', at: now, reason: `cancelled by ${by}` } });
    return count > 0;
  });
  return { row: await db.job.findUniqueOrThrow({ where: { id }, include: includeHistory }), endedNow };
}
