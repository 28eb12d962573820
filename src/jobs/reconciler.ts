// The reconciler makes Postgres (the source of truth) and the queue agree after any fault: Redis
// restarted empty, an enqueue that failed after its row was written, a job BullMQ gave up on while
// its failure could not be recorded. It runs on start and every RECONCILE_INTERVAL_MS in every
// process that has a store, one pass at a time across all of them (a Redis lock):
// - an unfinished row without a live queue entry (missing, or in the failed or completed set) is
//   enqueued again under a fresh attempt, unless it is running with a fresh heartbeat (its worker is
//   alive and will finish it; the queue merely forgot it);
// - a waiting or delayed queue entry whose row is finished or gone is removed;
// - webhook messages still pending without a queue entry are queued again.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Db } from '../shared/db.js';
import type { Logger } from '../shared/logger.js';
import type { Queues } from '../shared/queue.js';
import { JOB_TYPES, isTerminal, type JobType } from './contract.js';
import { fromDbType } from './rows.js';
import type { WebhookPublisher } from '../webhooks/events.js';

export interface ReconcilerDeps {
  db: Db;
  queues: Queues;
  redisUrl: string;
  prefix: string;
  logger: Logger;
  webhooks?: WebhookPublisher;
  /** Puts a job on its queue as the store does (JobsStore.requeue: same id, same options, why in its history). */
  requeue(type: JobType, id: string, reason: string): Promise<void>;
  /** A running job whose heartbeat is younger than this has a live worker. */
  staleMs: number;
}

export interface ReconcileReport {
  requeued: string[];
  removed: string[];
  webhookMessages: number;
}

/** Queue states in which an entry will still be run (or is being run). */
const LIVE = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children', 'active', 'paused']);

export function createReconciler(deps: ReconcilerDeps) {
  const { db, queues, logger } = deps;
  const redis = new Redis(deps.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {});
  const lockKey = `${deps.prefix}:reconciler:lock`;

  /** One pass; null when another process holds the lock. */
  async function runOnce(lockMs = 60_000): Promise<ReconcileReport | null> {
    const token = randomUUID();
    if ((await redis.set(lockKey, token, 'PX', lockMs, 'NX')) !== 'OK') return null;
    try {
      const report: ReconcileReport = { requeued: [], removed: [], webhookMessages: 0 };
      const unfinished = await db.job.findMany({ where: { status: { in: ['queued', 'running'] } }, select: { id: true, type: true, status: true, heartbeatAt: true } });
      for (const row of unfinished) {
        const type = fromDbType(row.type);
        const entry = await queues[type].getJob(row.id);
        const state = entry ? await entry.getState() : 'missing';
        if (LIVE.has(state)) continue;
        if (row.status === 'running' && row.heartbeatAt && Date.now() - row.heartbeatAt.getTime() < deps.staleMs) continue;
        if (entry) await entry.remove().catch(() => {}); // its failed or completed entry would block the id
        await deps.requeue(type, row.id, `reconciler: the queue entry was ${state}`);
        report.requeued.push(row.id);
      }
      for (const type of JOB_TYPES) {
        const entries = await queues[type].getJobs(['waiting', 'delayed', 'prioritized']);
        const ids = entries.map((e) => e?.id).filter((id): id is string => !!id);
        if (ids.length === 0) continue;
        const rows = await db.job.findMany({ where: { id: { in: ids } }, select: { id: true, status: true } });
        const open = new Set(rows.filter((r) => !isTerminal(r.status)).map((r) => r.id));
        for (const e of entries) {
          if (!e?.id || open.has(e.id)) continue;
          await e.remove().catch(() => {});
          report.removed.push(e.id);
        }
      }
      if (deps.webhooks) report.webhookMessages = await deps.webhooks.requeuePending();
      if (report.requeued.length || report.removed.length || report.webhookMessages) logger.warn(report, 'reconciler: queue and database disagreed; fixed');
      return report;
    } finally {
      // Released only if still ours (compare and delete).
      await redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", 1, lockKey, token).catch(() => {});
    }
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = runOnce().catch((err) => logger.warn({ err: (err as Error).message }, 'reconciler pass failed; will try again'));
  };
  return {
    runOnce,
    /** A pass now, then one every `intervalMs`. */
    start(intervalMs: number) {
      tick();
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },
    async close() {
      clearInterval(timer);
      await running;
      redis.disconnect();
    },
  };
}
