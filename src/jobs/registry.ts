// The typed processor registry: what a processor of each job type receives and returns. Processors
// (src/worker/processors) do their job's steps only; the lifecycle around them is runJob's, through
// the jobs store.
import type { Config } from '../shared/config.js';
import type { Db } from '../shared/db.js';
import type { Logger } from '../shared/logger.js';
import type { JobEventBus } from '../shared/job-events.js';
import type { WebhookPublisher } from '../webhooks/events.js';
import type { JobProgress, JobType, ParamsOf, ResultOf } from './contract.js';
import type { EpochRow } from './store.js';

export interface WorkerDeps {
  config: Config;
  db: Db;
  logger: Logger;
  /** Webhook events (job.*, model.created). */
  webhooks?: WebhookPublisher;
  /** Live job events, for the SSE streams. */
  events?: JobEventBus;
}

export interface JobContext<T extends JobType = JobType> extends WorkerDeps {
  id: string;
  type: T;
  /** Parsed by parseJobParams: defaults filled in, validated. */
  params: ParamsOf<T>;
  log: Logger;
  /** 1 on the first run; more when the job is picked up again after its worker died. */
  attempt: number;
  /** Records progress; written to Postgres at most once a second so it never slows the work. */
  progress(p: JobProgress): void;
  /** Records one epoch's metric row (idempotent per epoch; retried while Postgres is away) and publishes it. */
  recordEpoch(m: EpochRow): Promise<void>;
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

/** What a processor returns: the job's result, or undefined when it stopped on a cancel. */
export type Processor<T extends JobType> = (ctx: JobContext<T>) => Promise<ResultOf<T> | undefined>;
export type Processors = { [T in JobType]: Processor<T> };
