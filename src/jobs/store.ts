// The jobs store: the only code that moves a job through its lifecycle, in Postgres (the source of
// truth) and in the queue. The API submits, reads and cancels through it; workers claim, report
// progress and epochs, and finish, release or give up jobs through it; the reconciler and npm start's
// supervisor requeue through it.
// Every transition is written with its history row, in one transaction. The workers' writes ride out
// a short Postgres outage (withRetry); one that cannot be recorded throws StateNotRecorded and the job
// goes back to the queue. Once a transition is committed the store announces it: metrics, the job's
// live events (SSE) and webhooks.
import { randomUUID } from 'node:crypto';
import type { EpochMetrics } from '../ml/results.js';
import type { Config } from '../shared/config.js';
import { Prisma, type Db } from '../shared/db.js';
import { AppError, notFound, type ErrorBody } from '../shared/errors.js';
import type { JobEventBus } from '../shared/job-events.js';
import type { Logger } from '../shared/logger.js';
import { observeJobFinished, observeJobStarted } from '../shared/metrics.js';
import { afterCursor, pageOrder, toPage } from '../shared/pagination.js';
import { withQueueTimeout, type Queues } from '../shared/queue.js';
import type { WebhookPublisher } from '../webhooks/events.js';
import { checkJobParams, type ChecksConfig } from './checks.js';
import { isTerminal, type Job, type JobProgress, type JobStatus, type JobType, type ParamsOf } from './contract.js';
import { withRetry } from './retry.js';
import { fromDbType, includeHistory, paramsHash, toApiJob, toDbType, type JobRow, type JobRowWithHistory } from './rows.js';
import { loadTrials } from './sweep/load.js';
import type { Trial } from './sweep/params.js';
import { leaderboard } from './sweep/trials.js';

export interface Submission<T extends JobType = JobType> {
  type: T;
  params: ParamsOf<T>;
  idempotencyKey?: string;
  /** POSTed the job once it ends (signed with CALLBACK_SECRET). */
  callbackUrl?: string;
  /** The sweep this job is a trial of. */
  parentId?: string;
}

export interface ListFilter {
  type?: JobType;
  status?: JobStatus;
  parentId?: string;
  limit: number;
  cursor?: string;
}

/** One epoch's metric row, as src/ml reports it. */
export type EpochRow = EpochMetrics;

/** A job a worker claimed: its row after the claim. */
export interface Claim {
  row: JobRowWithHistory;
  type: JobType;
  attempt: number;
  resumed: boolean;
}

export type Outcome =
  | { status: 'succeeded'; result: unknown; progress: JobProgress }
  | { status: 'cancelled'; progress: JobProgress }
  | { status: 'failed'; error: ErrorBody; progress: JobProgress };

/** What the store tells the rest of the service about committed transitions. */
export interface StoreOptions {
  logger?: Logger;
  events?: JobEventBus;
  webhooks?: WebhookPublisher;
}

const isUniqueViolation = (err: unknown) => err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';
const OPEN = { in: ['queued', 'running'] as ('queued' | 'running')[] };

/** Queue attempts for failures of the infrastructure (a job's own errors are never retried). */
export const JOB_ATTEMPTS = 8;
/** BullMQ options of every job: the row id is the BullMQ id, so enqueueing twice is a no-op. */
export const enqueueOptions = (id: string) => ({
  jobId: id,
  attempts: JOB_ATTEMPTS,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: 1000,
  removeOnFail: 5000,
});
/** A running job whose worker has not written its heartbeat (about once a second) for this long has no live worker. */
export const HEARTBEAT_STALE_MS = 30_000;

export class JobsStore {
  private readonly log?: Logger;
  constructor(
    private readonly db: Db,
    private readonly queues: Queues,
    private readonly config: ChecksConfig & Pick<Config, 'MAX_ACTIVE_JOBS_PER_KEY' | 'MAX_JOB_RUNTIME_S'>,
    private readonly opts: StoreOptions = {},
  ) {
    this.log = opts.logger;
  }

  /** Refuses work beyond the submitter's quota (queued + running jobs) and deadlines beyond the server cap. */
  private async checkLimits(params: { maxRuntimeSeconds?: number }, submittedBy: string | null): Promise<void> {
    const cap = this.config.MAX_JOB_RUNTIME_S;
    if (params.maxRuntimeSeconds !== undefined && params.maxRuntimeSeconds > cap) {
      throw new AppError('MAX_RUNTIME_ABOVE_CAP', `maxRuntimeSeconds may be at most ${cap} on this server`, { max: cap });
    }
    const max = this.config.MAX_ACTIVE_JOBS_PER_KEY;
    if (max > 0 && submittedBy) {
      const active = await this.db.job.count({ where: { submittedBy, status: { in: ['queued', 'running'] } } });
      if (active >= max) {
        throw new AppError('QUOTA_EXCEEDED', `${active} jobs of this key are queued or running (at most ${max}); wait for one to finish or cancel one`, { active, max });
      }
    }
  }

  // ---- the API's side ------------------------------------------------------------------------------

  /**
   * Records a job and queues it. A resubmission with the same idempotency key answers the first job
   * (`replayed`), unless its type or params differ (IDEMPOTENCY_KEY_REUSED).
   */
  async submit<T extends JobType>({ type, params, idempotencyKey, callbackUrl, parentId }: Submission<T>, submittedBy: string | null = null): Promise<{ job: Job; replayed: boolean }> {
    const hash = paramsHash(type, params);
    const replay = (existing: JobRowWithHistory) => {
      if (existing.paramsHash !== hash || existing.type !== toDbType(type)) {
        throw new AppError('IDEMPOTENCY_KEY_REUSED', 'This idempotencyKey was used for a different job', { jobId: existing.id });
      }
      return { job: toApiJob(existing), replayed: true };
    };
    if (idempotencyKey) {
      const existing = await this.db.job.findUnique({ where: { idempotencyKey }, include: includeHistory });
      if (existing) return replay(existing);
    }
    await checkJobParams(this.db, this.config, type, params);
    // A sweep's trials are not counted against its key's quota: the sweep was, and it bounds them (parallelism).
    await this.checkLimits(params as { maxRuntimeSeconds?: number }, parentId ? null : submittedBy);
    // Redis first, bounded: while it is down the answer is a quick QUEUE_UNAVAILABLE and no row is written.
    await withQueueTimeout(this.queues[type].waitUntilReady());
    const id = randomUUID();
    let row: JobRowWithHistory;
    try {
      row = await this.db.job.create({
        data: {
          id,
          type: toDbType(type),
          params: params as object,
          paramsHash: hash,
          idempotencyKey,
          callbackUrl,
          parentId,
          submittedBy,
          progress: { percent: 0 },
          transitions: { create: { status: 'queued' } },
        },
        include: includeHistory,
      });
    } catch (err) {
      // Two requests with one key raced: the loser answers with the winner's job.
      if (idempotencyKey && isUniqueViolation(err)) return replay(await this.db.job.findUniqueOrThrow({ where: { idempotencyKey }, include: includeHistory }));
      throw err;
    }
    try {
      await withQueueTimeout(this.enqueue(type, id));
    } catch {
      // Compensate: no half-made job. The row goes (the client retries, its idempotency key free
      // again); should the add still reach Redis later, the worker finds no row and drops it.
      await this.db.job.delete({ where: { id } }).catch(() => {});
      throw new AppError('QUEUE_UNAVAILABLE', 'The job queue (Redis) could not be reached; try again shortly');
    }
    return { job: toApiJob(row), replayed: false };
  }

  async row(id: string): Promise<JobRowWithHistory> {
    const row = await this.db.job.findUnique({ where: { id }, include: includeHistory });
    if (!row) throw notFound('Job', id, 'JOB_NOT_FOUND');
    return row;
  }

  async get(id: string): Promise<Job> {
    return toApiJob(await this.row(id));
  }

  /**
   * A page of jobs, newest first. A predict job's inline `inputs` (up to megabytes) are left out of
   * lists, by Postgres itself (`params - 'inputs'`), and named in `paramsOmitted`.
   */
  async list({ type, status, parentId, limit, cursor }: ListFilter) {
    const rows = await this.db.job.findMany({
      where: { ...(type ? { type: toDbType(type) } : {}), ...(status ? { status } : {}), ...(parentId ? { parentId } : {}), ...afterCursor(cursor) },
      orderBy: pageOrder,
      take: limit + 1,
      omit: { params: true },
      include: includeHistory,
    });
    const slim = rows.length
      ? await this.db.$queryRaw<{ id: string; params: unknown; omitted: boolean }[]>`
          SELECT id, params - 'inputs' AS params, params ? 'inputs' AS omitted FROM jobs WHERE id = ANY(${rows.map((r) => r.id)}::uuid[])`
      : [];
    const byId = new Map(slim.map((r) => [r.id, r]));
    return toPage(rows, limit, (row) => {
      const p = byId.get(row.id);
      return { ...toApiJob({ ...row, params: (p?.params ?? {}) as JobRow['params'] }), ...(p?.omitted ? { paramsOmitted: ['inputs'] } : {}) };
    });
  }

  /** A sweep's trials, best objective first: the leaderboard so far. */
  async trials(sweepId: string, params: ParamsOf<'sweep'>): Promise<Trial[]> {
    return leaderboard(await loadTrials(this.db, sweepId, params.space, params.objective.metric), params.objective.goal);
  }

  /** Per-epoch metric rows of a job, oldest first; those after `afterEpoch` when given. */
  async epochs(id: string, afterEpoch = 0): Promise<EpochRow[]> {
    const rows = await this.db.epochMetric.findMany({ where: { jobId: id, epoch: { gt: afterEpoch } }, orderBy: { epoch: 'asc' } });
    return rows.map(({ jobId: _j, createdAt: _c, ...m }) => m);
  }

  /**
   * Cancels a job whatever its queue entry's state: a queued job, or a running one that no live
   * worker holds (no active queue entry, or a stale heartbeat), ends at once; one with a live worker
   * is flagged and stops at its next batch (its worker records `cancelled`). `by` says who, for the
   * history. Cancelling a cancelled job is a no-op; a finished one is JOB_NOT_CANCELLABLE.
   */
  async cancel(id: string, by?: { id: string; role: string }): Promise<Job> {
    const row = await this.row(id);
    // A submit key cancels its own jobs; an admin any job.
    if (by && by.role !== 'admin' && row.submittedBy !== null && row.submittedBy !== by.id) {
      throw new AppError('FORBIDDEN', `Job ${id} was submitted by another key: only it or an admin may cancel it`, { required: 'admin' });
    }
    if (row.status === 'cancelled') return toApiJob(row);
    if (isTerminal(row.status)) throw new AppError('JOB_NOT_CANCELLABLE', `Job ${id} has already ${row.status}`);
    // Flag first: a worker that takes the job from now on sees the flag and stops.
    await this.db.job.updateMany({ where: { id, status: OPEN }, data: { cancelRequested: true, cancelledBy: by?.id ?? null } });
    const entry = await this.queues[fromDbType(row.type)].getJob(id);
    const state = entry ? await entry.getState() : 'missing';
    if (entry && state !== 'active') await entry.remove().catch(() => {});
    const ended = await this.db.$transaction(async (tx) => {
      const current = await tx.job.findUniqueOrThrow({ where: { id } });
      const beat = current.heartbeatAt?.getTime() ?? 0;
      const workerless = current.status === 'queued' || state !== 'active' || Date.now() - beat > HEARTBEAT_STALE_MS;
      if (!workerless) return null;
      const now = new Date();
      const { count } = await tx.job.updateMany({
        where: { id, status: OPEN },
        data: { status: 'cancelled', finishedAt: now, progress: { ...(current.progress as object), stage: 'cancelled' } },
      });
      if (!count) return null;
      await tx.jobTransition.create({ data: { jobId: id, status: 'cancelled', at: now, reason: `cancelled by ${by ? `key ${by.id}` : 'a client'}` } });
      return tx.job.findUniqueOrThrow({ where: { id }, include: includeHistory });
    });
    if (ended) await this.announceEnd(ended);
    // A sweep's unfinished trials go with it (also while no worker runs the sweep itself).
    const trials = await this.db.job.findMany({ where: { parentId: id, status: { in: ['queued', 'running'] } }, select: { id: true } });
    for (const t of trials) await this.cancel(t.id, by).catch((err) => (err instanceof AppError && err.code === 'JOB_NOT_CANCELLABLE' ? undefined : Promise.reject(err)));
    return this.get(id);
  }

  /** Asks a sweep's running trial to stop at the end of its current epoch and succeed (ASHA). */
  async requestStop(id: string): Promise<void> {
    await this.db.job.updateMany({ where: { id, status: { in: ['queued', 'running'] } }, data: { stopRequested: true } });
  }

  /** Puts a job on its type's queue (a no-op when the queue holds it already). */
  async enqueue(type: JobType, id: string): Promise<void> {
    await this.queues[type].add(type, { jobId: id }, enqueueOptions(id));
  }

  /** Puts a job back on its queue and says why in its history (the reconciler: the queue lost it, …). */
  async requeue(type: JobType, id: string, reason: string): Promise<void> {
    await withRetry('requeue', () => this.db.jobTransition.create({ data: { jobId: id, status: 'requeued', reason } }), { logger: this.log });
    await this.enqueue(type, id);
  }

  /**
   * Puts back on its queue a job that a worker held when that worker died (npm start's supervisor
   * knows which, and their lock tokens): at once, rather than after the lock expires and the stalled
   * check runs (lockDuration + stalledInterval, up to 30 + 30 s by default).
   */
  async takeBack(queueName: string, id: string, token: string, reason: string): Promise<boolean> {
    const queue = Object.values(this.queues).find((q) => q.name === queueName);
    const entry = await queue?.getJob(id);
    if (!entry) return false;
    try {
      await entry.moveToWait(token);
    } catch {
      return false; // its lock expired meanwhile: the stalled check has it
    }
    await withRetry('requeue', () => this.db.jobTransition.create({ data: { jobId: id, status: 'requeued', reason } }), { logger: this.log, budgetMs: 10_000 }).catch(
      () => {},
    );
    return true;
  }

  // ---- the workers' side ---------------------------------------------------------------------------

  /**
   * Takes a queued (or interrupted running) job for a worker: null when there is nothing to run (no
   * row, finished already, or cancelled before it started, which is recorded here).
   */
  async claim(id: string, log = this.log): Promise<Claim | null> {
    const claimed = await withRetry(
      'claim',
      () =>
        this.db.$transaction(async (tx): Promise<null | { cancelled: JobRowWithHistory } | { claim: Claim }> => {
          const row = await tx.job.findUnique({ where: { id } });
          if (!row || isTerminal(row.status)) return null;
          const now = new Date();
          if (row.cancelRequested) {
            await tx.job.update({ where: { id }, data: { status: 'cancelled', finishedAt: now } });
            await tx.jobTransition.create({ data: { jobId: id, status: 'cancelled', at: now, reason: `cancelled by ${row.cancelledBy ?? 'a client'}` } });
            return { cancelled: await tx.job.findUniqueOrThrow({ where: { id }, include: includeHistory }) };
          }
          const attempt = row.attempts + 1;
          await tx.job.update({ where: { id }, data: { status: 'running', startedAt: row.startedAt ?? now, attempts: attempt, heartbeatAt: now } });
          await tx.jobTransition.create({ data: { jobId: id, status: 'running', at: now, reason: attempt === 1 ? undefined : `attempt ${attempt}` } });
          const after = await tx.job.findUniqueOrThrow({ where: { id }, include: includeHistory });
          return { claim: { row: after, type: fromDbType(after.type), attempt, resumed: row.status === 'running' } };
        }),
      { logger: log },
    );
    if (!claimed) return null;
    if ('cancelled' in claimed) {
      await this.announceEnd(claimed.cancelled);
      return null;
    }
    const { claim } = claimed;
    const job = toApiJob(claim.row);
    if (claim.attempt === 1) {
      observeJobStarted(claim.type, claim.row.createdAt, claim.row.startedAt!);
      await this.opts.webhooks?.publish('job.started', job, { jobId: id });
    }
    await this.opts.events?.publish(id, 'status', job);
    return claim;
  }

  /** Writes progress (when given) and the heartbeat; tells whether a cancel was asked for. Not retried: it runs every second. */
  async heartbeat(id: string, progress: JobProgress | null): Promise<{ cancelRequested: boolean }> {
    const r = await this.db.job.update({
      where: { id },
      data: { heartbeatAt: new Date(), ...(progress ? { progress: progress as object } : {}) },
      select: { cancelRequested: true },
    });
    if (progress) await this.opts.events?.publish(id, 'progress', progress);
    return r;
  }

  /** Records one epoch's metrics, idempotent per (job, epoch): an epoch written again (a resumed run) replaces its row. */
  async recordEpoch(id: string, m: EpochRow, log = this.log): Promise<void> {
    const { epoch, ...row } = m;
    await withRetry('epoch metrics', () => this.db.epochMetric.upsert({ where: { jobId_epoch: { jobId: id, epoch } }, create: { jobId: id, epoch, ...row }, update: row }), {
      logger: log,
    });
    await this.opts.events?.publish(id, 'metric', m);
  }

  /**
   * Records the terminal status (with `result` or `error`) and its history row. False when the row
   * was finished already (e.g. cancelled meanwhile by a client): nothing is changed.
   */
  async finish(id: string, outcome: Outcome, log = this.log): Promise<boolean> {
    const done = await withRetry(
      'terminal status',
      () =>
        this.db.$transaction(async (tx) => {
          const before = await tx.job.findUnique({ where: { id }, select: { cancelledBy: true } });
          const now = new Date();
          const { count } = await tx.job.updateMany({
            where: { id, status: OPEN },
            data: {
              status: outcome.status,
              finishedAt: now,
              progress: outcome.progress as object,
              ...(outcome.status === 'succeeded' && outcome.result !== undefined ? { result: outcome.result as object } : {}),
              ...(outcome.status === 'failed' ? { error: outcome.error as object } : {}),
            },
          });
          if (!count) return null;
          const reason = outcome.status === 'failed' ? outcome.error.code : outcome.status === 'cancelled' ? `cancelled by ${before?.cancelledBy ?? 'a client'}` : undefined;
          await tx.jobTransition.create({ data: { jobId: id, status: outcome.status, at: now, reason } });
          return tx.job.findUniqueOrThrow({ where: { id }, include: includeHistory });
        }),
      { logger: log },
    );
    if (done) await this.announceEnd(done);
    return done !== null;
  }

  /**
   * The worker hands the job back (it is shutting down, or a dependency failed): the row stays
   * running, for the next worker to resume; `reason` goes into the history.
   */
  async release(id: string, progress: JobProgress, reason = 'the worker is shutting down', log = this.log): Promise<void> {
    const requeued = { ...progress, stage: 'requeued' };
    await withRetry(
      'release',
      () =>
        this.db.$transaction([
          this.db.job.updateMany({ where: { id, status: OPEN }, data: { progress: requeued as object } }),
          this.db.jobTransition.create({ data: { jobId: id, status: 'requeued', reason } }),
        ]),
      { logger: log, budgetMs: 10_000 },
    );
    await this.opts.events?.publish(id, 'progress', requeued);
  }

  /** The queue gave up on a job that stalled too often (it keeps killing its worker): failed, not run forever. */
  async markLost(id: string, message: string): Promise<void> {
    const row = await this.db.job.findUnique({ where: { id } });
    if (!row || isTerminal(row.status)) return;
    const progress = { ...((row.progress as JobProgress | null) ?? { percent: 0 }), stage: 'failed' };
    await this.finish(id, { status: 'failed', error: { code: 'WORKER_LOST', message }, progress });
  }

  /** Metrics, live events and webhooks of a job whose terminal status is committed. */
  private async announceEnd(row: JobRowWithHistory): Promise<void> {
    const job = toApiJob(row);
    observeJobFinished(job.type, job.status, row);
    await this.opts.events?.publish(row.id, 'status', job);
    await this.opts.events?.publish(row.id, 'end', { status: job.status });
    await this.opts.webhooks?.publish(`job.${job.status as 'succeeded' | 'failed' | 'cancelled'}`, job, { jobId: row.id, callbackUrl: row.callbackUrl });
  }
}
