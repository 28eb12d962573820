// runJob: the lifecycle every job shares, around its processor: claim it, report progress, honour
// cancel, record the outcome, all through the jobs store. Processors only do their job's steps.
import { toErrorBody, type ErrorBody } from '../shared/errors.js';
import type { JobProgress, JobType } from '../jobs/contract.js';
import { parseJobParams } from '../jobs/params.js';
import type { JobContext, Processor, Processors, WorkerDeps } from '../jobs/registry.js';
import type { JobsStore, Outcome } from '../jobs/store.js';
import { isTransient, StateNotRecorded } from '../jobs/retry.js';
import { checkpointPrefix } from '../storage/keys.js';

export type { JobContext, WorkerDeps };

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

/** The abort reason when a job ran past its maxRuntimeSeconds (or the server cap). */
export class MaxRuntimeExceeded extends Error {
  readonly code = 'MAX_RUNTIME_EXCEEDED';
  constructor(readonly seconds: number) {
    super(`The job ran longer than its ${seconds} s limit (maxRuntimeSeconds, at most MAX_JOB_RUNTIME_S)`);
  }
}

const FLUSH_MS = 1000;

/**
 * What became of a job in runJob: `done` (its terminal status is recorded, or there was nothing to
 * run; `failed` when it failed by its own fault), `released` (handed back: the worker is shutting
 * down; the caller puts it back on the queue), or `retry` (a dependency failed: the caller lets the
 * queue retry it with backoff; the checkpoint stays, and the next attempt resumes from it).
 */
export type RunResult = { kind: 'done'; failed?: ErrorBody } | { kind: 'released' } | { kind: 'retry'; error: Error };

/** Deleted only once the terminal status is committed: until then a rerun may resume from it. */
const dropCheckpoint = (deps: WorkerDeps, id: string) => deps.artifacts.store.deletePrefix(checkpointPrefix(id));

/** Runs one job through its type's processor, every lifecycle write through the jobs store. */
export async function runJob(
  deps: WorkerDeps & { store: JobsStore },
  jobId: string,
  processors: Partial<Processors>,
  shutdown?: AbortSignal,
): Promise<RunResult> {
  const { store, logger } = deps;
  let claim: Awaited<ReturnType<JobsStore['claim']>>;
  try {
    claim = await store.claim(jobId, logger.child({ jobId }));
  } catch (err) {
    return { kind: 'retry', error: err as Error };
  }
  if (!claim) {
    logger.info({ jobId }, 'job has nothing to run (missing, finished or cancelled); skipped');
    return { kind: 'done' };
  }
  const { row, type } = claim;
  const log = logger.child({ jobId, type });
  log.info({ attempt: claim.attempt }, claim.resumed ? 'job resumed' : 'job started');
  const processor = processors[type] as Processor<JobType> | undefined;

  const abort = new AbortController();
  let pending: JobProgress | null = null;
  let last: JobProgress = (row.progress as JobProgress | null) ?? { percent: 0 };
  const flush = async () => {
    const progress = pending;
    pending = null;
    const { cancelRequested } = await store.heartbeat(jobId, progress).catch((err) => {
      pending ??= progress; // written with the next beat
      throw err;
    });
    if (cancelRequested && !abort.signal.aborted) {
      log.info('cancel requested');
      abort.abort(new Cancelled());
    }
  };
  let flushing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    flushing = flushing.then(flush).catch((err) => log.warn({ err: (err as Error).message }, 'progress write failed; retried with the next beat'));
  }, FLUSH_MS);

  // The deadline counts from the job's first start, resumed runs included; it stops the processor
  // as a cancel does (the signal, cancelled()), and the job fails with MAX_RUNTIME_EXCEEDED.
  const limit = Math.min((row.params as { maxRuntimeSeconds?: number }).maxRuntimeSeconds ?? Infinity, deps.config.MAX_JOB_RUNTIME_S);
  const startedAt = (row.startedAt ?? new Date()).getTime();
  const deadline = setTimeout(() => {
    log.warn({ limitSeconds: limit }, 'job ran past its maximum runtime: stopping it');
    abort.abort(new MaxRuntimeExceeded(limit));
  }, Math.max(0, startedAt + limit * 1000 - Date.now()));
  const overtime = () => abort.signal.reason instanceof MaxRuntimeExceeded;

  const t0 = performance.now();
  let outcome: Outcome | { status: 'released' } | { status: 'retry'; error: Error };
  try {
    if (!processor) throw new Error(`no processor for job type ${type}`);
    const ctx: JobContext = {
      ...deps,
      id: jobId,
      type,
      params: parseJobParams(type, row.params),
      log,
      attempt: claim.attempt,
      progress: (p) => {
        last = { ...p, percent: Math.max(0, Math.min(100, Math.round(p.percent * 10) / 10)) };
        pending = last;
      },
      recordEpoch: (m) => store.recordEpoch(jobId, m, log),
      cancelled: () => abort.signal.aborted,
      signal: abort.signal,
      stopping: () => shutdown?.aborted ?? false,
    };
    const result = await processor(ctx);
    outcome = overtime()
      ? { status: 'failed', error: toErrorBody(abort.signal.reason), progress: { ...last, stage: 'failed' } }
      : abort.signal.aborted
      ? { status: 'cancelled', progress: { ...last, stage: 'cancelled' } }
      : { status: 'succeeded', result, progress: { ...last, percent: 100, etaSeconds: 0, stage: 'succeeded' } };
  } catch (err) {
    if (overtime()) outcome = { status: 'failed', error: toErrorBody(abort.signal.reason), progress: { ...last, stage: 'failed' } };
    else if (abort.signal.aborted || err instanceof Cancelled) outcome = { status: 'cancelled', progress: { ...last, stage: 'cancelled' } };
    else if (err instanceof Released) outcome = { status: 'released' };
    else if (err instanceof StateNotRecorded || isTransient(err)) {
      // Postgres, Redis or the network is away: not the job's fault, so not its failure.
      log.warn({ err: (err as Error).message }, 'job interrupted by an unavailable dependency; back to the queue');
      outcome = { status: 'retry', error: err as Error };
    } else {
      const error = toErrorBody(err, 'JOB_FAILED');
      if (error.code === 'JOB_FAILED') log.error({ err }, 'job failed unexpectedly');
      else log.warn({ error }, 'job failed');
      outcome = { status: 'failed', error, progress: { ...last, stage: 'failed' } };
    }
  } finally {
    clearInterval(timer);
    clearTimeout(deadline);
    await flushing;
  }
  const seconds = Math.round((performance.now() - t0) / 100) / 10;
  if (outcome.status === 'released' || outcome.status === 'retry') {
    const reason = outcome.status === 'released' ? 'the worker is shutting down' : `dependency unavailable: ${outcome.error.message.slice(0, 200)}`;
    await store.release(jobId, last, reason, log).catch((err) => log.warn({ err: (err as Error).message }, 'could not record the release'));
    log.info({ seconds, reason }, 'job handed back to the queue');
    return outcome.status === 'released' ? { kind: 'released' } : { kind: 'retry', error: outcome.error };
  }
  let recorded: boolean;
  try {
    recorded = await store.finish(jobId, outcome, log);
  } catch (err) {
    // The outcome could not be committed: run it again later (from its checkpoint), never lose it.
    return { kind: 'retry', error: err as Error };
  }
  await dropCheckpoint(deps, jobId).catch((err) => log.warn({ err }, 'checkpoint not deleted (left in the store)'));
  if (recorded) log.info({ status: outcome.status, seconds }, 'job finished');
  return { kind: 'done', failed: outcome.status === 'failed' ? outcome.error : undefined };
}
