// What stands between a client and the handlers, apart from auth: security headers, CORS, per-key
// rate limits, a JSON body parser that refuses text Postgres cannot store, the admission gate of
// /predict (answers 503 at once rather than queueing without bound), and the classification of
// errors from dependencies that are down.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import { AppError } from '../shared/errors.js';

// ---- text that reaches Postgres and the file system --------------------------------------------------
// Postgres refuses NUL in text and jsonb (22021 / 22P05), and jsonb refuses lone surrogates (22P02);
// neither belongs in any field of this API, nor do other control characters (names, ids, paths). One
// check over every string of the body, the query and the path parameters, keys included, instead of
// a pattern on each field (identifiers have their own patterns on top).
/** C0 and C1 control characters (NUL included) other than tab, line feed and carriage return. */
const CONTROL = /(?![\t\n\r])\p{Cc}/u;
/** String.prototype.isWellFormed (Node ≥ 20; not in this TypeScript lib): false for a lone surrogate. */
const wellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed();
/** Deeper than any body of this API: refuses nesting bombs before they cost stack or validation time. */
const MAX_DEPTH = 32;

/** Why `value` holds text the API refuses, with the path to it; undefined when it is clean. */
export function badText(value: unknown, path = '', depth = 0): { path: string; problem: string } | undefined {
  if (typeof value === 'string') {
    if (!wellFormed(value)) return { path, problem: 'ill-formed Unicode (a lone surrogate)' };
    if (CONTROL.test(value)) return { path, problem: 'a NUL or control character' };
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (depth > MAX_DEPTH) return { path, problem: `nesting deeper than ${MAX_DEPTH} levels` };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (typeof v === 'number') continue; // the bulk of predict inputs: skip the call
      const bad = badText(v, `${path}/${i}`, depth + 1);
      if (bad) return bad;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) {
    const bad = badText(k, `${path}/${k}`, depth + 1) ?? badText(v, `${path}/${k}`, depth + 1);
    if (bad) return bad;
  }
  return undefined;
}

const refuse = (where: string, bad: { path: string; problem: string }) =>
  new AppError('INVALID_TEXT', `${where}${bad.path} holds ${bad.problem}`, { in: where, path: bad.path });

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Replaces Fastify's JSON parser: strict UTF-8, then the text check on the parsed value. */
function installJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      return done(new AppError('INVALID_ENCODING', 'The request body is not valid UTF-8'), undefined);
    }
    if (text.trim() === '') return done(new AppError('MALFORMED_JSON', 'The request body is empty; send a JSON document'), undefined);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return done(new AppError('MALFORMED_JSON', `The request body is not valid JSON: ${(err as Error).message.slice(0, 200)}`), undefined);
    }
    const bad = badText(value, 'body');
    done(bad ? refuse('', bad) : null, value);
  });
}

// ---- predict admission ---------------------------------------------------------------------------------
/**
 * Bounds the /predict work in this process before it costs memory: at most PREDICT_MAX_QUEUE requests
 * (each at least one image) and PREDICT_MAX_INFLIGHT_BYTES of declared bodies in flight, checked in
 * onRequest, before the body is read. The predict service bounds the images themselves.
 */
export function predictGate(config: Pick<Config, 'PREDICT_MAX_QUEUE' | 'PREDICT_BODY_LIMIT_BYTES'>) {
  const maxBytes = Math.max(config.PREDICT_BODY_LIMIT_BYTES * 2, 64 * 1024 * 1024);
  let requests = 0;
  let bytes = 0;
  return {
    stats: () => ({ requests, bytes }),
    async onRequest(req: FastifyRequest, reply: FastifyReply) {
      const declared = Number(req.headers['content-length'] ?? config.PREDICT_BODY_LIMIT_BYTES) || 0;
      if (requests + 1 > config.PREDICT_MAX_QUEUE || bytes + declared > maxBytes) {
        reply.header('retry-after', '1');
        throw new AppError('OVERLOADED', 'The prediction queue is full; retry shortly', { inFlight: requests });
      }
      requests++;
      bytes += declared;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        requests--;
        bytes -= declared;
      };
      reply.raw.once('finish', release);
      reply.raw.once('close', release);
    },
  };
}

// ---- dependencies that are down ------------------------------------------------------------------------
const DB_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P1000', 'P1003']);
const DB_KINDS = new Set(['DatabaseNotReachable', 'DatabaseDoesNotExist', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'TlsConnectionError', 'DatabaseAccessDenied', 'AuthenticationFailed']);

/** An error from a dependency (Postgres, Redis) or from Postgres refusing a value, as an AppError; else undefined. */
export function dependencyError(err: unknown): AppError | undefined {
  const e = err as { name?: string; code?: unknown; message?: string; meta?: { driverAdapterError?: { cause?: { kind?: string; code?: string; originalCode?: string } } } };
  if (!e || typeof e !== 'object') return undefined;
  const name = e.name ?? '';
  const cause = e.meta?.driverAdapterError?.cause;
  const pgCode = cause?.originalCode ?? cause?.code ?? '';
  if (name.startsWith('PrismaClient')) {
    if (name === 'PrismaClientInitializationError' || DB_CODES.has(String(e.code)) || DB_KINDS.has(cause?.kind ?? '') || /^(08|57P|53)/.test(pgCode)) {
      return new AppError('DATABASE_UNAVAILABLE', 'The database cannot be reached; try again shortly');
    }
    // A value Postgres refused (a backstop: the input checks should have caught it).
    if (/^22/.test(pgCode) || e.code === 'P2000' || e.code === 'P2007') return new AppError('INVALID_INPUT', 'A value in the request cannot be stored');
    return undefined;
  }
  const msg = e.message ?? '';
  if (e.code === 'QUEUE_UNAVAILABLE') return new AppError('QUEUE_UNAVAILABLE', msg);
  if (name === 'MaxRetriesPerRequestError' || /enableOfflineQueue|Connection is closed|Stream isn't writeable/.test(msg)) {
    return new AppError('QUEUE_UNAVAILABLE', 'The job queue (Redis) cannot be reached; try again shortly');
  }
  if (typeof e.code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(e.code)) {
    return new AppError('DEPENDENCY_UNAVAILABLE', 'A service this request needs cannot be reached; try again shortly');
  }
  return undefined;
}

/** Rejects with `error()` when `promise` has not settled after `ms`; for calls to dependencies that may hang. */
export function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(error()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ---- installing it all -----------------------------------------------------------------------------------
export interface Limits {
  close(): Promise<void>;
}

/**
 * Helmet, CORS, the JSON parser, the query/params text check and the rate limiter. Call after
 * installAuth (the limiter counts per key, so it must run after the key is known) and before routes.
 */
export async function installLimits(app: FastifyInstance, config: Config): Promise<Limits> {
  // crossOriginResourcePolicy cross-origin: CORS decides who may read, and tf.loadLayersModel from a
  // page on another origin must be able to fetch model.json and weights.bin.
  await app.register(helmet, {
    global: true,
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    contentSecurityPolicy: {
      directives: { defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:', 'blob:'] /* the web UI shows API images fetched with the key as blob: URLs */, connectSrc: ["'self'"] },
    },
  });
  const origins = config.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean);
  await app.register(cors, {
    origin: origins.includes('*') ? true : origins.length ? origins : false,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
    exposedHeaders: ['location', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'idempotent-replayed'],
    maxAge: 600,
  });

  installJsonParser(app);
  app.addHook('preValidation', async (req) => {
    const bad = badText(req.query, 'query') ?? badText(req.params, 'path');
    if (bad) throw refuse('', bad);
  });

  let redis: Redis | undefined;
  if (config.RATE_LIMIT_MAX > 0) {
    // Its own connection, failing fast: with Redis down the limiter lets requests through
    // (skipOnError) instead of holding every request in an offline queue.
    redis = new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true });
    redis.on('error', () => {}); // reported by /ready; the limiter skips while it is down
    // Connected before the first request, so that none slips through uncounted (down: it keeps retrying).
    await redis.connect().catch(() => {});
    await app.register(rateLimit, {
      global: true,
      max: config.RATE_LIMIT_MAX,
      timeWindow: config.RATE_LIMIT_WINDOW_S * 1000,
      redis,
      nameSpace: `${config.QUEUE_PREFIX}:rate-limit:`,
      skipOnError: true,
      keyGenerator: (req) => req.principal?.id ?? `ip:${req.ip}`,
      // Liveness, readiness and the docs are never limited: probes must always get through.
      allowList: (req) => req.routeOptions.config?.role === 'open',
      errorResponseBuilder: (_req, ctx) => {
        const err = new AppError('RATE_LIMITED', `Rate limit of ${ctx.max} requests per ${ctx.after} exceeded; retry after ${Math.ceil(ctx.ttl / 1000)} s`, { limit: ctx.max });
        return Object.assign(err, { statusCode: 429 });
      },
    });
  }
  return {
    close: async () => {
      redis?.disconnect();
    },
  };
}
