// BullMQ queues: one per job type, so a long training never holds up data preparation or bulk
// predictions, and each type's worker concurrency can be set on its own. The BullMQ job id is the
// jobs-table row id.
import { Queue, type ConnectionOptions } from 'bullmq';
import { JOB_TYPES, type JobType } from '../jobs/contract.js';

export const queueName = (type: JobType) => `jobs-${type}`;

/** The payload of every BullMQ job: the row id is the job id; params live in Postgres. */
export interface QueuePayload {
  jobId: string;
}

export function redisConnection(redisUrl: string): ConnectionOptions {
  // maxRetriesPerRequest: null lets workers ride out a Redis restart instead of crashing.
  return { url: redisUrl, maxRetriesPerRequest: null };
}

export type Queues = Record<JobType, Queue<QueuePayload>>;

/** Reconnect delay of producers' connections: 200 ms, 400 ms, … at most 2 s. */
const PRODUCER_RETRY = (times: number) => Math.min(times * 200, 2000);

export function createQueues(redisUrl: string, prefix: string): Queues {
  // Producers fail fast while Redis is down (no offline queue, one retry): a submission answers
  // 503 QUEUE_UNAVAILABLE at once instead of hanging until Redis returns. Workers keep their own
  // patient connections (redisConnection).
  // Reconnect every 2 s at most while Redis is down (BullMQ's default backs off to 20 s), so that a
  // returning Redis is in use again within seconds.
  const connection = { url: redisUrl, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: PRODUCER_RETRY };
  return Object.fromEntries(
    JOB_TYPES.map((t) => {
      const q = new Queue<QueuePayload>(queueName(t), { connection, prefix });
      q.on('error', () => {}); // a Redis outage surfaces as 503 QUEUE_UNAVAILABLE and in /ready, not as log spam
      return [t, q];
    }),
  ) as Queues;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

/** How long a producer waits for Redis before a submission answers QUEUE_UNAVAILABLE. */
export const ENQUEUE_TIMEOUT_MS = 1000;
/**
 * After a failure, further calls wait at most RECHECK_MS instead of the whole timeout for this long:
 * quick answers while Redis is down, and the first call after it is back succeeds (and clears it).
 */
const DOWN_FOR_MS = 2000;
const RECHECK_MS = 50;
let downUntil = 0;

export class QueueUnavailableError extends Error {
  readonly code = 'QUEUE_UNAVAILABLE';
  constructor() {
    super('The job queue (Redis) cannot be reached; try again shortly');
  }
}

/** `op` on a queue, failing with QueueUnavailableError after ENQUEUE_TIMEOUT_MS (RECHECK_MS during a known outage) instead of waiting for Redis to return. */
export function withQueueTimeout<T>(op: Promise<T>, ms = ENQUEUE_TIMEOUT_MS): Promise<T> {
  op.catch(() => {});
  const wait = Date.now() < downUntil ? Math.min(ms, RECHECK_MS) : ms;
  let timer: NodeJS.Timeout;
  return Promise.race([op, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new QueueUnavailableError()), wait)))]).then(
    (v) => {
      clearTimeout(timer);
      downUntil = 0;
      return v;
    },
    (err) => {
      clearTimeout(timer);
      downUntil = Date.now() + DOWN_FOR_MS;
      throw err instanceof QueueUnavailableError ? err : Object.assign(new QueueUnavailableError(), { cause: err });
    },
  );
}

/** BullMQ job counts per queue, for the queue-depth gauge. */
export async function queueCounts(queues: Queues): Promise<Record<string, Record<string, number>>> {
  const entries = await Promise.all(
    (Object.entries(queues) as [JobType, Queue<QueuePayload>][]).map(async ([type, q]) => [type, await q.getJobCounts('waiting', 'active', 'delayed', 'failed')] as const),
  );
  return Object.fromEntries(entries);
}
