// The jobs store: the only code that moves a job through its lifecycle, in Postgres (the source of
// truth) and in the queue. The API submits, reads and cancels through it; workers claim, report
// progress and epochs, and finish, release or give up jobs through it.
import { randomUUID } from 'node:crypto';
import type { EpochMetrics } from '../ml/results.js';
import type { Config } from '../shared/config.js';
import { Prisma, type Db } from '../shared/db.js';
import { AppError, notFound, type ErrorBody } from '../shared/errors.js';
import { afterCursor, pageOrder, toPage } from '../shared/pagination.js';
import { withQueueTimeout, type Queues } from '../shared/queue.js';
import { checkJobParams, type ChecksConfig } from './checks.js';
import { isTerminal, type Job, type JobProgress, type JobStatus, type JobType, type ParamsOf } from './contract.js';
import { fromDbType, paramsHash, toApiJob, toDbType, type JobRow } from './rows.js';

export interface Submission<T extends JobType = JobType> {
  type: T;
  params: ParamsOf<T>;
  idempotencyKey?: string;
}

export interface ListFilter {
  type?: JobType;
  status?: JobStatus;
  limit: number;
  cursor?: string;
}

/** One epoch's metric row, as src/ml reports it. */
export type EpochRow = EpochMetrics;

/** A job a worker claimed: its row after the claim. */
export interface Claim {
  row: JobRow;
  type: JobType;
  attempt: number;
  resumed: boolean;
}

export type Outcome =
  | { status: 'succeeded'; result: unknown; progress: JobProgress }
  | { status: 'cancelled'; progress: JobProgress }
  | { status: 'failed'; error: ErrorBody; progress: JobProgress };

const isUniqueViolation = (err: unknown) => err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';

/** BullMQ options of every job: the row id is the BullMQ id, so enqueueing twice is a no-op. */
const enqueueOptions = (id: string) => ({ jobId: id, removeOnComplete: 1000, removeOnFail: 5000 });

export class JobsStore {
  constructor(
    private readonly db: Db,
    private readonly queues: Queues,
    private readonly config: ChecksConfig & Pick<Config, 'MAX_ACTIVE_JOBS_PER_KEY' | 'MAX_JOB_RUNTIME_S'>,
  ) {}

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
  async submit<T extends JobType>({ type, params, idempotencyKey }: Submission<T>, submittedBy: string | null = null): Promise<{ job: Job; replayed: boolean }> {
    const hash = paramsHash(type, params);
    const replay = (existing: JobRow) => {
      if (existing.paramsHash !== hash || existing.type !== toDbType(type)) {
        throw new AppError('IDEMPOTENCY_KEY_REUSED', 'This idempotencyKey was used for a different job', { jobId: existing.id });
      }
      return { job: toApiJob(existing), replayed: true };
    };
    if (idempotencyKey) {
      const existing = await this.db.job.findUnique({ where: { idempotencyKey } });
      if (existing) return replay(existing);
    }
    await checkJobParams(this.db, this.config, type, params);
    await this.checkLimits(params as { maxRuntimeSeconds?: number }, submittedBy);
    // Redis first, bounded: while it is down the answer is a quick QUEUE_UNAVAILABLE and no row is written.
    await withQueueTimeout(this.queues[type].waitUntilReady());
    const id = randomUUID();
    let row: JobRow;
    try {
      row = await this.db.job.create({
        data: { id, type: toDbType(type), params: params as object, paramsHash: hash, idempotencyKey, submittedBy, progress: { percent: 0 } },
      });
    } catch (err) {
      // Two requests with one key raced: the loser answers with the winner's job.
      if (idempotencyKey && isUniqueViolation(err)) return replay(await this.db.job.findUniqueOrThrow({ where: { idempotencyKey } }));
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

  async row(id: string): Promise<JobRow> {
    const row = await this.db.job.findUnique({ where: { id } });
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
  async list({ type, status, limit, cursor }: ListFilter) {
    const rows = await this.db.job.findMany({
      where: { ...(type ? { type: toDbType(type) } : {}), ...(status ? { status } : {}), ...afterCursor(cursor) },
      orderBy: pageOrder,
      take: limit + 1,
      omit: { params: true },
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

  /** Per-epoch metric rows of a job, oldest first; those after `afterEpoch` when given. */
  async epochs(id: string, afterEpoch = 0): Promise<EpochRow[]> {
    const rows = await this.db.epochMetric.findMany({ where: { jobId: id, epoch: { gt: afterEpoch } }, orderBy: { epoch: 'asc' } });
    return rows.map(({ jobId: _j, createdAt: _c, ...m }) => m);
  }

  /**
   * Cancels a queued job at once; a running one is flagged and stops at its next batch (its worker
   * records `cancelled`). Cancelling a cancelled job is a no-op; a finished one is JOB_NOT_CANCELLABLE.
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
    await this.db.job.update({ where: { id }, data: { cancelRequested: true } });
    const queued = await this.queues[fromDbType(row.type)].getJob(id);
    if (queued && (await queued.getState()) !== 'active') await queued.remove().catch(() => {});
    await this.db.job.updateMany({
      where: { id, status: 'queued' },
      data: { status: 'cancelled', finishedAt: new Date(), progress: { ...(row.progress as object), stage: 'cancelled' } },
    });
    return this.get(id);
  }

  /** Puts a job on its type's queue (a no-op when the queue holds it already). */
  async enqueue(type: JobType, id: string): Promise<void> {
    await this.queues[type].add(type, { jobId: id }, enqueueOptions(id));
  }

  // ---- the workers' side ---------------------------------------------------------------------------

  /**
   * Takes a queued (or interrupted running) job for a worker: null when there is nothing to run (no
   * row, finished already, or cancelled before it started, which is recorded here).
   */
  async claim(id: string): Promise<Claim | null> {
    const row = await this.db.job.findUnique({ where: { id } });
    if (!row || isTerminal(row.status)) return null;
    if (row.cancelRequested) {
      await this.db.job.update({ where: { id }, data: { status: 'cancelled', finishedAt: new Date() } });
      return null;
    }
    const claimed = await this.db.job.update({
      where: { id },
      data: { status: 'running', startedAt: row.startedAt ?? new Date(), attempts: { increment: 1 } },
    });
    return { row: claimed, type: fromDbType(claimed.type), attempt: claimed.attempts, resumed: row.status === 'running' };
  }

  /** Writes progress (when given) and tells whether a cancel was asked for. */
  async heartbeat(id: string, progress: JobProgress | null): Promise<{ cancelRequested: boolean }> {
    return this.db.job.update({ where: { id }, data: progress ? { progress: progress as object } : {}, select: { cancelRequested: true } });
  }

  /** Records one epoch's metrics; writing an epoch again (a resumed run) replaces its row. */
  async recordEpoch(id: string, m: EpochRow): Promise<void> {
    const { epoch, ...row } = m;
    await this.db.epochMetric.upsert({ where: { jobId_epoch: { jobId: id, epoch } }, create: { jobId: id, epoch, ...row }, update: row });
  }

  async finish(id: string, outcome: Outcome): Promise<void> {
    await this.db.job.update({
      where: { id },
      data: {
        status: outcome.status,
        finishedAt: new Date(),
        progress: outcome.progress as object,
        ...(outcome.status === 'succeeded' && outcome.result !== undefined ? { result: outcome.result as object } : {}),
        ...(outcome.status === 'failed' ? { error: outcome.error as object } : {}),
      },
    });
  }

  /** A worker handed the job back (it is shutting down): the row stays running for the next worker. */
  async release(id: string, progress: JobProgress): Promise<void> {
    await this.db.job.update({ where: { id }, data: { progress: { ...progress, stage: 'requeued' } as object } });
  }

  /** The queue gave up on a job (it stalled too often): its row must not stay unfinished forever. */
  async markLost(id: string, message: string): Promise<void> {
    await this.db.job.updateMany({
      where: { id, status: { in: ['queued', 'running'] } },
      data: { status: 'failed', finishedAt: new Date(), error: { code: 'WORKER_LOST', message } },
    });
  }

  /**
   * Puts every unfinished job of `types` back on its queue: Redis may have lost it (it keeps nothing
   * on disk here) or an enqueue may have failed after the row was written.
   */
  async requeueUnfinished(types: readonly JobType[]): Promise<number> {
    const unfinished = await this.db.job.findMany({ where: { status: { in: ['queued', 'running'] } }, select: { id: true, type: true } });
    let count = 0;
    for (const row of unfinished) {
      const type = fromDbType(row.type);
      if (!types.includes(type)) continue;
      await this.enqueue(type, row.id);
      count++;
    }
    return count;
  }
}
