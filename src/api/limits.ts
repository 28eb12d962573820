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

/** Checks and parses one JSON body: strict UTF-8, JSON, then the text check on the parsed value. */
function parseJsonBody(body: Buffer): { error: AppError } | { value: unknown } {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return { error: new AppError('INVALID_ENCODING', 'The request body is not valid UTF-8') };
  }
  if (text.trim() === '') return { error: new AppError('MALFORMED_JSON', 'The request body is empty; send a JSON document') };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: new AppError('MALFORMED_JSON', `The request body is not valid JSON: ${(err as Error).message.slice(0, 200)}`) };
  }
  const bad = badText(value, 'body');
  return bad ? { error: refuse('', bad) } : { value };
}

/** Bodies of at least this many bytes are parsed in turns (see takeTurns). */
const LARGE_BODY_BYTES = 64 * 1024;

/**
 * Runs queued tasks one per event-loop turn. Request bodies end in Node's nextTick queue, which is
 * drained before the loop polls again: when many large bodies complete together (a /predict flood),
 * parsing them where they end runs every parse back to back (measured: ~30 ms per 1 MB body, and
 * stalls of 0.7-4 s of /health under bench:flood). Taking turns bounds a stall to one parse, so
 * /health and small requests are answered between them.
 */
function takeTurns() {
  const tasks: (() => void)[] = [];
  let scheduled = false;
  const next = () => {
    const task = tasks.shift();
    if (tasks.length) setImmediate(next);
    else scheduled = false;
    task?.();
  };
  return {
    run(task: () => void) {
      tasks.push(task);
      if (!scheduled) {
        scheduled = true;
        setImmediate(next);
      }
    },
  };
}

/** Replaces Fastify's JSON parser: strict UTF-8, then the text check on the parsed value; large bodies take turns. */
function installJsonParser(app: FastifyInstance): void {
  const turns = takeTurns();
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    const finish = () => {
      const r = parseJsonBody(body);
      if ('error' in r) done(r.error, undefined);
      else done(null, r.value);
    };
    if (body.length < LARGE_BODY_BYTES) finish();
    else turns.run(finish);
  });
}

// ---- predict admission ---------------------------------------------------------------------------------
/**
 * Fewest bytes one input takes in a JSON body: 784 one-digit numbers with their commas (a base64
 * image can be smaller, and a typical float image is 2-3 times larger). Dividing a body's declared
 * length by it estimates how many images it holds before it is read.
 */
export const MIN_BYTES_PER_INPUT = 784 * 2;

/**
 * Admission of /predict in onRequest, before the body is read (so a refusal costs no parsing and no
 * memory): the images inside the predict service (`queued`) plus an estimate of those in the
 * bodies admitted but not parsed yet stay within PREDICT_MAX_QUEUE, and the declared bytes of those
 * bodies within PREDICT_MAX_INFLIGHT_BYTES. Beyond either: 503 OVERLOADED with Retry-After at once,
 * and the refused body discarded unparsed. A body's estimate is released once it is parsed and
 * validated (the service then counts its real images and makes the exact check).
 */
export function predictGate(
  config: Pick<Config, 'PREDICT_MAX_QUEUE' | 'PREDICT_BODY_LIMIT_BYTES' | 'PREDICT_MAX_INFLIGHT_BYTES' | 'PREDICT_MAX_INPUTS'>,
  queued: () => number,
) {
  // A body as large as the limit must always fit when nothing else is in flight.
  const maxBytes = Math.max(config.PREDICT_MAX_INFLIGHT_BYTES, config.PREDICT_BODY_LIMIT_BYTES);
  let requests = 0;
  let rows = 0;
  let bytes = 0;
  const held = new WeakMap<FastifyRequest, () => void>();
  // A refused body of a declared length within the limit is left to Node, which discards it unparsed
  // as it arrives and keeps the connection: closing it instead resets a client still sending (its
  // write fails with EPIPE before it reads the 503). A body of unknown or excessive length could
  // take unbounded reading, so its connection is closed.
  const overloaded = (reply: FastifyReply, drainable: boolean, why: string) => {
    reply.header('retry-after', '1');
    if (!drainable) reply.header('connection', 'close');
    return new AppError('OVERLOADED', `The prediction queue is full (${why}); retry shortly`, { queued: queued(), parsing: requests });
  };
  return {
    async onRequest(req: FastifyRequest, reply: FastifyReply) {
      const header = Number(req.headers['content-length']); // NaN when absent
      const drainable = Number.isInteger(header) && header >= 0 && header <= config.PREDICT_BODY_LIMIT_BYTES;
      const declared = drainable ? header : config.PREDICT_BODY_LIMIT_BYTES;
      // Capped at the whole queue: with nothing queued, any one request is let in to be counted exactly.
      const estimate = Math.min(Math.max(1, Math.ceil(declared / MIN_BYTES_PER_INPUT)), config.PREDICT_MAX_INPUTS, config.PREDICT_MAX_QUEUE);
      const waiting = queued() + rows;
      if (waiting + estimate > config.PREDICT_MAX_QUEUE) throw overloaded(reply, drainable, `${waiting} images waiting or arriving, limit ${config.PREDICT_MAX_QUEUE}`);
      if (bytes + declared > maxBytes) throw overloaded(reply, drainable, `${bytes} bytes of requests being read, limit ${maxBytes}`);
      requests++;
      rows += estimate;
      bytes += declared;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        requests--;
        rows -= estimate;
        bytes -= declared;
      };
      held.set(req, release);
      reply.raw.once('finish', release);
      reply.raw.once('close', release);
    },
    /** The body is parsed and valid: from here on the predict service counts its images. */
    async preHandler(req: FastifyRequest) {
      held.get(req)?.();
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
/** Counts one failed authentication of `req`'s client; an error (429 RATE_LIMITED) once it has had too many. */
export type AuthFailureLimiter = (req: FastifyRequest, reply: FastifyReply) => Promise<AppError | undefined>;

export interface Limits {
  /** Set when AUTH_FAILURE_LIMIT_MAX > 0: installAuth calls it on every 401. */
  authFailures?: AuthFailureLimiter;
  close(): Promise<void>;
}

/** Longest the start waits for the limiters' Redis connection. */
const CONNECT_WAIT_MS = 300;

const rateLimited = (message: string, limit: number) => Object.assign(new AppError('RATE_LIMITED', message, { limit }), { statusCode: 429 });

/**
 * Helmet, CORS, the JSON parser, the query/params text check, the rate limiter and the limiter of
 * failed authentications. Call after installAuth (the limiter counts per key, so it must run after
 * the key is known) and before routes.
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

  if (config.RATE_LIMIT_MAX === 0 && config.AUTH_FAILURE_LIMIT_MAX === 0) return { close: async () => {} };
  // Its own connection, failing fast: with Redis down the limiters let requests through
  // (skipOnError) instead of holding every request in an offline queue, and a Redis that accepts
  // connections but does not answer costs a request at most commandTimeout. The start waits for
  // the connection at most CONNECT_WAIT_MS, so that a healthy Redis counts the very first requests
  // while one that is down or hung cannot hold the start (it used to wait forever for a Redis that
  // accepts connections and never answers); until the connection is up, requests pass uncounted.
  const redis = new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 500, lazyConnect: true });
  redis.on('error', () => {}); // reported by /ready; the limiters skip while it is down
  const connected = redis.connect().catch(() => {}); // on failure ioredis keeps reconnecting
  await Promise.race([connected, new Promise((resolve) => setTimeout(resolve, CONNECT_WAIT_MS).unref())]);
  await app.register(rateLimit, {
    // Off (RATE_LIMIT_MAX=0): no per-key hook, the plugin only backs the failure limiter below.
    global: config.RATE_LIMIT_MAX > 0,
    max: config.RATE_LIMIT_MAX,
    timeWindow: config.RATE_LIMIT_WINDOW_S * 1000,
    redis,
    nameSpace: `${config.QUEUE_PREFIX}:rate-limit:`,
    skipOnError: true,
    keyGenerator: (req) => req.principal?.id ?? `ip:${req.ip}`,
    // Liveness, readiness and the docs are never limited: probes must always get through.
    allowList: (req) => req.routeOptions.config?.role === 'open',
    errorResponseBuilder: (_req, ctx) => rateLimited(`Rate limit of ${ctx.max} requests per ${ctx.after} exceeded; retry after ${Math.ceil(ctx.ttl / 1000)} s`, ctx.max),
  });

  let authFailures: AuthFailureLimiter | undefined;
  if (config.AUTH_FAILURE_LIMIT_MAX > 0) {
    // Failed authentications per client IP, on the same Redis store (shared by every replica). Only
    // 401s are counted (auth calls this when a key is missing, malformed or unknown), so a valid
    // key is never counted nor refused, whichever address it comes from.
    const check = app.createRateLimit({
      max: config.AUTH_FAILURE_LIMIT_MAX,
      timeWindow: config.RATE_LIMIT_WINDOW_S * 1000,
      keyGenerator: (req) => `auth-failed:${req.ip}`,
      allowList: () => false,
    });
    authFailures = async (req, reply) => {
      const r = await check(req);
      if (r.isAllowed || !r.isExceeded) return undefined;
      reply.header('retry-after', String(Math.max(1, r.ttlInSeconds)));
      return rateLimited(`Too many failed authentications from this address (${r.max} per ${config.RATE_LIMIT_WINDOW_S} s); retry after ${Math.max(1, r.ttlInSeconds)} s`, r.max);
    };
  }
  return {
    authFailures,
    close: async () => {
      redis.disconnect();
    },
  };
}
