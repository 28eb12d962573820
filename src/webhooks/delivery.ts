// Delivering webhook messages: a BullMQ queue of its own (`webhooks`), so that a slow or dead
// receiver holds up only its deliveries, never a job. Each attempt is signed the Standard Webhooks way
// (webhook-id fixed per message, webhook-timestamp per attempt, webhook-signature `v1,<HMAC>`),
// times out after WEBHOOK_TIMEOUT_MS, and is recorded; a non-2xx answer, a timeout or a connection
// error is retried on RETRY_DELAYS_MS, and after the last attempt the message is failed.
import { randomUUID } from 'node:crypto';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import type { Config } from '../shared/config.js';
import type { Db } from '../shared/db.js';
import type { Logger } from '../shared/logger.js';
import { redisConnection } from '../shared/queue.js';
import { MAX_ATTEMPTS, RETRY_DELAYS_MS, WEBHOOK_QUEUE, type DeliveryPayload } from './events.js';
import { outboundPolicy } from '../shared/outbound.js';
import { deliveryFetch } from './outbound.js';

/** Deliveries run at once per worker process: they wait on the network, not the CPU. */
const CONCURRENCY = 16;

export interface DeliveryDeps {
  config: Pick<Config, 'REDIS_URL' | 'QUEUE_PREFIX' | 'WEBHOOK_TIMEOUT_MS' | 'CALLBACK_SECRET' | 'OUTBOUND_ALLOW_PRIVATE'>;
  db: Db;
  logger: Logger;
}

const describe = (err: unknown): string => {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
};

export async function deliver(deps: DeliveryDeps, job: Job<DeliveryPayload>): Promise<void> {
  const { config, db, logger } = deps;
  const msg = await db.webhookMessage.findUnique({ where: { id: job.data.messageId }, include: { webhook: { select: { secret: true } } } });
  if (msg?.status !== 'pending') return; // deleted with its webhook, or done already
  const secret = msg.webhookId ? msg.webhook?.secret : config.CALLBACK_SECRET;
  const attempt = msg.attempts + 1;
  const at = new Date();
  let statusCode: number | null = null;
  let error: string | null = null;
  const t0 = performance.now();
  if (!secret) {
    error = 'CALLBACK_SECRET is not set';
  } else {
    try {
      const res = await deliveryFetch(msg.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'mnist-jobs-webhooks/1',
          'webhook-id': msg.id,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': new Webhook(secret).sign(msg.id, at, msg.body),
        },
        body: msg.body,
        signal: AbortSignal.timeout(config.WEBHOOK_TIMEOUT_MS),
      }, outboundPolicy(config));
      statusCode = res.status;
      await res.body?.cancel().catch(() => {});
    } catch (err) {
      error = describe(err);
    }
  }
  const durationMs = Math.round(performance.now() - t0);
  const ok = statusCode !== null && statusCode >= 200 && statusCode < 300;
  const last = attempt >= MAX_ATTEMPTS || !secret;
  const nextRetryAt = ok || last ? null : new Date(Date.now() + RETRY_DELAYS_MS[attempt - 1]!);
  await db.$transaction([
    db.webhookDelivery.create({ data: { id: randomUUID(), messageId: msg.id, webhookId: msg.webhookId, attempt, statusCode, error, durationMs, nextRetryAt } }),
    db.webhookMessage.update({ where: { id: msg.id }, data: { attempts: attempt, status: ok ? 'delivered' : last ? 'failed' : 'pending', updatedAt: new Date() } }),
  ]);
  if (ok) return;
  const why = error ?? `answered ${statusCode}`;
  logger.warn({ messageId: msg.id, url: msg.url, attempt, error: why, nextRetryAt }, last ? 'webhook delivery failed for good' : 'webhook delivery failed; will retry');
  throw last ? new UnrecoverableError(why) : new Error(why);
}

export function startDeliveryWorker(deps: DeliveryDeps): Worker<DeliveryPayload> {
  const worker = new Worker<DeliveryPayload>(WEBHOOK_QUEUE, (job) => deliver(deps, job), {
    connection: redisConnection(deps.config.REDIS_URL),
    prefix: deps.config.QUEUE_PREFIX,
    concurrency: CONCURRENCY,
    settings: { backoffStrategy: (attemptsMade: number) => RETRY_DELAYS_MS[Math.min(attemptsMade, RETRY_DELAYS_MS.length) - 1] ?? RETRY_DELAYS_MS[0]! },
  });
  worker.on('error', (err) => deps.logger.error({ err }, 'webhook worker error'));
  return worker;
}
