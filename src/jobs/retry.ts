// Telling a broken dependency from a broken job, and riding out the first. A job's lifecycle writes
// (claim, progress, epoch rows, finish) are retried with backoff while Postgres or Redis is away for
// a short while; an error that is not an outage (bad data, an unknown model) is never retried.
import { Prisma } from '../shared/db.js';
import type { Logger } from '../shared/logger.js';

/** Prisma codes of an unreachable or overloaded database. */
const PRISMA_TRANSIENT = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2034']);
/** Driver-adapter failure kinds of the same (see @prisma/driver-adapter-utils). */
const ADAPTER_TRANSIENT = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'TransactionWriteConflict']);
/** Postgres SQLSTATEs: connection exceptions (08), shutting down or starting up (57P0x), too many connections, serialization. */
const PG_TRANSIENT = /^(08...|57P0[1-3]|53300|40001|40P01)$/;
/** Socket-level errors of any client (pg, ioredis, fetch). */
const NET_TRANSIENT = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);
/** ioredis and BullMQ words for a Redis that is away. */
const REDIS_TRANSIENT = /Connection is closed|Stream isn't writeable|max retries per request|MaxRetriesPerRequest|ECONNREFUSED|Reached the max retries|LOADING|READONLY|CLUSTERDOWN|TRYAGAIN/i;

/** Whether `err` says a dependency (Postgres, Redis, the network) is unavailable, rather than the job is wrong. */
export function isTransient(err: unknown): boolean {
  // biome-ignore lint/suspicious/noExplicitAny: walks an error's cause chain, whatever threw it
  for (let e: any = err, depth = 0; e && depth < 5; e = e.cause, depth++) {
    if (e instanceof Prisma.PrismaClientInitializationError) return true;
    if (e instanceof Prisma.PrismaClientKnownRequestError) {
      if (PRISMA_TRANSIENT.has(e.code)) return true;
      const cause = (e.meta as { driverAdapterError?: { cause?: { kind?: string; code?: unknown } } } | undefined)?.driverAdapterError?.cause;
      if (cause && (ADAPTER_TRANSIENT.has(cause.kind ?? '') || (cause.kind === 'postgres' && PG_TRANSIENT.test(String(cause.code))))) return true;
      return false;
    }
    if (e instanceof Prisma.PrismaClientUnknownRequestError && /connect|terminat|closed|timeout/i.test(e.message)) return true;
    if (typeof e.code === 'string' && (NET_TRANSIENT.has(e.code) || PG_TRANSIENT.test(e.code))) return true;
    if (typeof e.message === 'string' && REDIS_TRANSIENT.test(e.message)) return true;
    if (e.name === 'DriverAdapterError' && ADAPTER_TRANSIENT.has(e.cause?.kind)) return true;
  }
  return false;
}

/** Thrown when a lifecycle write kept failing for the whole retry budget: the job goes back to the queue. */
export class StateNotRecorded extends Error {
  readonly code = 'STATE_NOT_RECORDED';
  constructor(what: string, cause: unknown) {
    super(`${what} could not be recorded: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'StateNotRecorded';
  }
}

export interface RetryOptions {
  /** Gives up (StateNotRecorded) once this much time has gone by. Default 60 s: a restart or fail-over. */
  budgetMs?: number;
  firstDelayMs?: number;
  maxDelayMs?: number;
  logger?: Logger;
  signal?: AbortSignal;
}

/**
 * Runs `fn`, again after a transient failure (doubling delays from firstDelayMs up to maxDelayMs),
 * for at most budgetMs; any other error is thrown at once.
 */
export async function withRetry<T>(what: string, fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const { budgetMs = 60_000, firstDelayMs = 250, maxDelayMs = 5_000, logger, signal } = opts;
  const deadline = Date.now() + budgetMs;
  let delay = firstDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err)) throw err;
      if (Date.now() + delay > deadline || signal?.aborted) throw new StateNotRecorded(what, err);
      if (attempt === 1 || attempt % 5 === 0) logger?.warn({ err: (err as Error).message, attempt, retryInMs: delay }, `${what}: dependency unavailable, retrying`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(maxDelayMs, delay * 2);
    }
  }
}
