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

export function createQueues(redisUrl: string, prefix: string): Queues {
  const connection = redisConnection(redisUrl);
  return Object.fromEntries(
    JOB_TYPES.map((t) => [t, new Queue<QueuePayload>(queueName(t), { connection, prefix })]),
  ) as Queues;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}
