// The live events of a job (status, progress, per-epoch metric, end), published by whichever process
// moves the job and read by the API's server-sent event streams. Each job has a Redis stream: its
// entry ids are the SSE `id:`s, so a client reconnecting with Last-Event-ID is sent exactly the
// events after it, and a reader blocks on XREAD instead of polling Postgres. The streams are a
// notification channel, not the record: Postgres stays the source of truth, and a stream reader
// re-reads the row when the stream is silent (see the SSE route).
import { Redis } from 'ioredis';
import type { Logger } from './logger.js';

export type JobEventType = 'status' | 'progress' | 'metric' | 'end';
export interface JobEvent {
  id: string;
  type: JobEventType;
  data: unknown;
}

/** Entries kept per job (approximately: trimmed with MAXLEN ~), and how long a finished job's stream lives. */
const MAX_ENTRIES = 1000;
const TTL_SECONDS = 24 * 3600;
/** A Redis stream entry id, as a client sends it back in Last-Event-ID. */
export const STREAM_ID_RE = /^\d{1,20}-\d{1,20}$/;

export interface JobEventBus {
  /** Appends an event to the job's stream; never throws (a lost event is recovered from Postgres). */
  publish(jobId: string, type: JobEventType, data: unknown): Promise<void>;
  /** The id of the job's latest event, or '0-0' when it has none. */
  lastId(jobId: string): Promise<string>;
  /**
   * Events after `afterId`, waiting up to `blockMs` for the first; [] on timeout. Uses a connection of
   * its own (an XREAD BLOCK holds it): call close() on the reader when the stream ends.
   */
  reader(): { read(jobId: string, afterId: string, blockMs: number): Promise<JobEvent[]>; close(): void };
  close(): Promise<void>;
}

export function createJobEventBus(redisUrl: string, prefix: string, logger: Logger): JobEventBus {
  // Few retries: a publisher must not hang on a Redis that is down (the event is then lost, which
  // the readers survive), unlike BullMQ's connections, which wait for Redis to come back.
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {}); // reported by the commands that fail
  const key = (jobId: string) => `${prefix}:job-events:${jobId}`;
  const parse = (entries: [string, string[]][]): JobEvent[] =>
    entries.map(([id, fields]) => ({ id, type: fields[1] as JobEventType, data: JSON.parse(fields[3] ?? 'null') }));
  return {
    async publish(jobId, type, data) {
      try {
        await redis
          .multi()
          .xadd(key(jobId), 'MAXLEN', '~', String(MAX_ENTRIES), '*', 'type', type, 'data', JSON.stringify(data))
          .expire(key(jobId), TTL_SECONDS)
          .exec();
      } catch (err) {
        logger.warn({ err, jobId, type }, 'job event not published');
      }
    },
    async lastId(jobId) {
      const [last] = await redis.xrevrange(key(jobId), '+', '-', 'COUNT', 1);
      return last?.[0] ?? '0-0';
    },
    reader() {
      const conn = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
      conn.on('error', () => {});
      return {
        async read(jobId, afterId, blockMs) {
          const res = await conn.xread('COUNT', 100, 'BLOCK', blockMs, 'STREAMS', key(jobId), afterId);
          return res ? parse(res[0]![1] as [string, string[]][]) : [];
        },
        close: () => conn.disconnect(),
      };
    },
    async close() {
      redis.disconnect();
    },
  };
}
