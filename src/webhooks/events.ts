// Webhook events: what may be subscribed to, and the publisher that turns an event into one message
// per receiver (every webhook subscribed to it, and a job's callbackUrl) and queues its delivery.
// A message is written to Postgres before it is queued, so a message whose queue entry Redis lost is
// still known (status `pending`) and queued again by requeuePending().
import { randomBytes, randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Db } from '../shared/db.js';
import type { Logger } from '../shared/logger.js';
import { redisConnection } from '../shared/queue.js';

export const WEBHOOK_EVENTS = ['job.started', 'job.succeeded', 'job.failed', 'job.cancelled', 'model.created', 'model.alias_moved', 'model.deleted'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number] | 'webhook.test';
/** The events a job's callbackUrl receives: its one answer. */
export const CALLBACK_EVENTS: readonly WebhookEvent[] = ['job.succeeded', 'job.failed', 'job.cancelled'];

export const WEBHOOK_QUEUE = 'webhooks';
export interface DeliveryPayload {
  messageId: string;
}

/**
 * Svix's retry schedule after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts
 * over ~27.6 h), then the message is failed.
 */
export const RETRY_DELAYS_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;

export const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;
/** Standard Webhooks message ids: unique, opaque, `msg_` by convention. */
const newMessageId = () => `msg_${randomUUID().replace(/-/g, '')}`;

export function createWebhookQueue(redisUrl: string, prefix: string): Queue<DeliveryPayload> {
  const queue = new Queue<DeliveryPayload>(WEBHOOK_QUEUE, { connection: redisConnection(redisUrl), prefix });
  // Without a listener BullMQ prints every connection error of an outage to stderr; /ready reports it.
  queue.on('error', () => {});
  return queue;
}

export const deliveryJobOptions = (messageId: string) => ({
  jobId: messageId,
  attempts: MAX_ATTEMPTS,
  backoff: { type: 'svix' },
  removeOnComplete: 1000,
  removeOnFail: 5000,
});

export interface WebhookPublisher {
  /** The delivery queue (for the queue UI and the reconciler). */
  queue: Queue<DeliveryPayload>;
  /**
   * Records and queues `type` for every webhook subscribed to it (and `callbackUrl`, for the job
   * events it receives). Never throws: an event that cannot be recorded is logged, not allowed to
   * fail the job or request that caused it.
   */
  publish(type: WebhookEvent, data: unknown, opts?: { callbackUrl?: string | null; jobId?: string; onlyWebhookId?: string }): Promise<string[]>;
  /** Queues again every pending message (e.g. after Redis lost its queue entries); BullMQ skips ids it holds. */
  requeuePending(): Promise<number>;
  close(): Promise<void>;
}

export function createWebhookPublisher({ db, queue, logger }: { db: Db; queue: Queue<DeliveryPayload>; logger: Logger }): WebhookPublisher {
  return {
    queue,
    async publish(type, data, opts = {}) {
      try {
        const body = JSON.stringify({ type, timestamp: new Date().toISOString(), data });
        const hooks = opts.onlyWebhookId
          ? await db.webhook.findMany({ where: { id: opts.onlyWebhookId }, select: { id: true, url: true } })
          : await db.webhook.findMany({ where: { events: { has: type } }, select: { id: true, url: true } });
        const receivers = hooks.map((h) => ({ webhookId: h.id as string | null, url: h.url }));
        if (opts.callbackUrl && CALLBACK_EVENTS.includes(type)) receivers.push({ webhookId: null, url: opts.callbackUrl });
        if (receivers.length === 0) return [];
        const messages = receivers.map((r) => ({ id: newMessageId(), webhookId: r.webhookId, jobId: r.webhookId ? null : (opts.jobId ?? null), url: r.url, event: type, body }));
        await db.webhookMessage.createMany({ data: messages });
        await queue.addBulk(messages.map((m) => ({ name: type, data: { messageId: m.id }, opts: deliveryJobOptions(m.id) })));
        return messages.map((m) => m.id);
      } catch (err) {
        logger.error({ err, event: type }, 'webhook event could not be queued');
        return [];
      }
    },
    async requeuePending() {
      const pending = await db.webhookMessage.findMany({ where: { status: 'pending' }, select: { id: true, event: true } });
      let added = 0;
      for (const m of pending) {
        const existing = await queue.getJob(m.id);
        if (existing) continue;
        await queue.add(m.event, { messageId: m.id }, deliveryJobOptions(m.id));
        added++;
      }
      return added;
    },
    close: () => queue.close(),
  };
}
