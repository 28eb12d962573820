// Authentication and roles. The role every route needs is declared in one place, ROUTE_ROLES below
// (a route missing from it stops the start); one onRequest hook checks it before the body is read or
// validated, and the same declaration is written into OpenAPI (the bearer scheme, per-operation
// `security`, `x-role`, and the 401/403 answers).
// Roles include the ones before them: read < predict < submit < admin.
//
// Keys: bootstrap keys from API_KEYS, and run-time keys in Postgres (POST /v1/api-keys). A secret is
// kept only as HMAC-SHA-256(API_KEY_PEPPER, secret): a leaked table does not give working keys, and
// the hash is an exact-match index lookup. Run-time keys are looked up on every request, with no
// cache, so that a revocation holds at once on every API replica (one indexed read per request).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import type { Config } from '../shared/config.js';
import { ConfigError } from '../shared/config.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { AuthFailureLimiter } from './limits.js';
import { errorRef } from './schemas.js';

export const ROLES = ['read', 'predict', 'submit', 'admin'] as const;
export type Role = (typeof ROLES)[number];
/** What a route needs: a role, any valid key (`any`), or nothing (`open`). */
export type Access = Role | 'any' | 'open';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role this route needs (see src/api/auth.ts); every route declares one. */
    role?: Access;
  }
  interface FastifyRequest {
    /** Who is calling: set by the auth hook on every request that reached a route. */
    principal: Principal;
  }
}

export interface Principal {
  /** An API key id (`env:<hash prefix>` for bootstrap keys), or `ip:<address>` when auth is off. */
  id: string;
  name: string;
  role: Role;
  /** False when the service runs open (no key configured anywhere). */
  authenticated: boolean;
}

export const roleAtLeast = (have: Role, need: Role) => ROLES.indexOf(have) >= ROLES.indexOf(need);

const MIN_SECRET = 16;

export interface BootstrapKey {
  role: Role;
  hash: string;
}

/** `API_KEYS="<role>:<secret>[,…]"` → keys; any bad entry is a ConfigError naming it (without the secret). */
export function parseApiKeys(spec: string, pepper: string): BootstrapKey[] {
  const keys: BootstrapKey[] = [];
  const entries = spec.split(',').map((e) => e.trim()).filter(Boolean);
  for (const [i, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    const role = entry.slice(0, colon) as Role;
    const secret = entry.slice(colon + 1);
    if (colon < 0 || !ROLES.includes(role)) {
      throw new ConfigError(`API_KEYS entry ${i + 1}: expected <role>:<secret> with role one of ${ROLES.join(', ')}`);
    }
    if (secret.length < MIN_SECRET || /[\s,]/.test(secret)) {
      throw new ConfigError(`API_KEYS entry ${i + 1} (${role}): the secret must be at least ${MIN_SECRET} characters without spaces or commas`);
    }
    keys.push({ role, hash: hashSecret(secret, pepper) });
  }
  return keys;
}

export const hashSecret = (secret: string, pepper: string) => createHmac('sha256', pepper).update(secret).digest('hex');

/** A new secret: 32 random bytes, prefixed so that leaked keys are easy to recognise and scan for. */
export const newSecret = () => `mj_${randomBytes(32).toString('base64url')}`;

const unauthenticated = (message: string) => new AppError('UNAUTHENTICATED', message);

/** `lastUsedAt` is written at most this often per key: a busy key must not cost a write per request. */
const LAST_USED_EVERY_MS = 60_000;

export interface Auth {
  /** `on` once any key exists (bootstrap or stored); `off` runs the service open. */
  mode(): 'on' | 'off';
  /** Called after a key was created here, so that an open service closes at once. */
  keyCreated(): void;
  /** Counts every 401 per client with `limiter` (src/api/limits.ts), which may turn it into a 429. */
  limitFailures(limiter: AuthFailureLimiter | undefined): void;
  close(): void;
}

/**
 * Installs authentication on `app`: the onRoute hook that reads each route's role (and writes it into
 * its OpenAPI operation) and the onRequest hook that enforces it. Register before any route.
 */
export async function installAuth(app: FastifyInstance, deps: { config: Config; db: Db; logger: Logger }): Promise<Auth> {
  const { config, db, logger } = deps;
  const pepper = config.API_KEY_PEPPER;
  const bootstrap = parseApiKeys(config.API_KEYS, pepper);
  if (bootstrap.length && !pepper) logger.warn('API_KEY_PEPPER is not set: stored key hashes are unkeyed; set a long random value');
  // Whether keys are stored; unknown while Postgres cannot be asked (then keys are required: an API
  // that cannot tell must not run open). `on` never goes back to off in a running process.
  const storedKeys = async () => (await db.apiKey.count({ where: { revokedAt: null } })) > 0;
  let on: boolean | undefined = bootstrap.length > 0 ? true : await storedKeys().catch(() => undefined);
  if (on === undefined) logger.warn('The database cannot be reached: API keys are required until it answers');
  if (on === false && config.AUTH_REQUIRED) {
    throw new ConfigError('AUTH_REQUIRED=true but no API key is configured: set API_KEYS="admin:<secret of 16+ characters>"');
  }
  if (on === false) logger.warn('No API key configured: the API is open to anyone who can reach it (set API_KEYS, or AUTH_REQUIRED=true)');
  // While open or unknown, look every few seconds whether a key was created (by another replica).
  const poll = setInterval(() => {
    if (on === true) return clearInterval(poll);
    storedKeys().then((has) => (on = has || (config.AUTH_REQUIRED ? undefined : false)), () => {});
  }, 5000).unref();

  const lastWritten = new Map<string, number>();
  const touch = (id: string) => {
    const now = Date.now();
    if ((lastWritten.get(id) ?? 0) > now - LAST_USED_EVERY_MS) return;
    lastWritten.set(id, now);
    db.apiKey.update({ where: { id }, data: { lastUsedAt: new Date(now) } }).catch(() => lastWritten.delete(id));
  };

  async function authenticate(req: FastifyRequest): Promise<Principal> {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([\x21-\x7e]{1,200})$/i.exec(header.trim()) : null;
    if (!match) throw unauthenticated(header ? 'The Authorization header must be "Bearer <secret>"' : 'Send an API key: Authorization: Bearer <secret>');
    const hash = Buffer.from(hashSecret(match[1]!, pepper), 'hex');
    // Constant time over all bootstrap keys: no early exit that would time which one matched.
    let found: BootstrapKey | undefined;
    for (const k of bootstrap) if (timingSafeEqual(hash, Buffer.from(k.hash, 'hex')) && !found) found = k;
    if (found) return { id: `env:${found.hash.slice(0, 12)}`, name: `API_KEYS (${found.role})`, role: found.role, authenticated: true };
    const row = await db.apiKey.findUnique({ where: { secretHash: hash.toString('hex') } });
    if (!row || row.revokedAt || !timingSafeEqual(hash, Buffer.from(row.secretHash, 'hex'))) throw unauthenticated('Unknown or revoked API key');
    touch(row.id);
    return { id: row.id, name: row.name, role: row.role, authenticated: true };
  }

  app.decorateRequest('principal', null as unknown as Principal);
  let failures: AuthFailureLimiter | undefined;

  app.addHook('onRoute', (route: RouteOptions) => {
    const access = accessOf(route);
    route.config = { ...(route.config as object), role: access };
    if (route.schema && !route.schema.hide) {
      const guarded = access !== 'open';
      const response = { ...(route.schema.response as object), ...(guarded ? { 401: errorRef, 403: errorRef, 429: errorRef } : {}) };
      route.schema = { ...route.schema, response, 'x-role': access, security: guarded ? [{ bearerAuth: [] }] : [] } as typeof route.schema;
    }
  });

  app.addHook('onRequest', async (req, reply) => {
    const access = req.routeOptions.config?.role;
    const anonymous: Principal = { id: `ip:${req.ip}`, name: 'anonymous', role: 'admin', authenticated: false };
    if (on === false) {
      req.principal = anonymous;
      return;
    }
    if (access === 'open' || access === undefined) {
      // Open routes (and unknown URLs, which answer 404) need no key; none is checked.
      req.principal = { ...anonymous, role: 'read' };
      return;
    }
    try {
      req.principal = await authenticate(req);
    } catch (err) {
      if (err instanceof AppError && err.code === 'UNAUTHENTICATED') {
        // A client that keeps failing (guessing keys, or hammering without one) is limited per address.
        const limited = await failures?.(req, reply);
        if (limited) throw limited;
        reply.header('www-authenticate', 'Bearer realm="mnist-jobs"');
      }
      throw err;
    }
    if (access !== 'any' && !roleAtLeast(req.principal.role, access)) {
      throw new AppError('FORBIDDEN', `This needs the ${access} role; the key has ${req.principal.role}`, { required: access, role: req.principal.role });
    }
  });

  return {
    mode: () => (on === false ? 'off' : 'on'),
    keyCreated: () => (on = true),
    limitFailures: (limiter) => (failures = limiter),
    close: () => clearInterval(poll),
  };
}

/**
 * The role of every route, `METHOD /path` as registered. read: every GET of data; predict: synchronous
 * predictions; submit: jobs; admin: aliases, deleting models, API keys, webhooks, the queue UI.
 */
export const ROUTE_ROLES: Readonly<Record<string, Access>> = {
  'GET /': 'open', // redirects to the web UI (/ui/)
  'GET /health': 'open',
  'GET /ready': 'open',
  'GET /openapi.json': 'open',
  'GET /metrics': 'any',

  'POST /v1/jobs': 'submit',
  'GET /v1/jobs': 'read',
  'GET /v1/jobs/:id': 'read',
  'POST /v1/jobs/:id/cancel': 'submit',
  'GET /v1/jobs/:id/metrics': 'read',
  'GET /v1/jobs/:id/events': 'read',
  'GET /v1/jobs/:id/predictions': 'read',
  'GET /v1/jobs/:id/trials': 'read',

  'GET /v1/datasets': 'read',
  'GET /v1/datasets/:id': 'read',
  'GET /v1/datasets/:id/preview.png': 'read',

  'GET /v1/models': 'read',
  'GET /v1/models/:id': 'read',
  'GET /v1/models/:id/model.json': 'read',
  'GET /v1/models/:id/weights.bin': 'read',
  'GET /v1/models/:id/training-curve.svg': 'read',
  'GET /v1/models/:id/model.onnx': 'read',
  'GET /v1/models/:id/misclassified': 'read',
  'DELETE /v1/models/:id': 'admin',
  'GET /v1/models/aliases/:alias': 'read',
  'PUT /v1/models/aliases/:alias': 'admin',
  'DELETE /v1/models/aliases/:alias': 'admin',

  'POST /v1/predict': 'predict',
  'POST /predict': 'predict',

  'POST /v1/api-keys': 'admin',
  'GET /v1/api-keys': 'admin',
  'DELETE /v1/api-keys/:id': 'admin',

  'POST /v1/webhooks': 'admin',
  'GET /v1/webhooks': 'admin',
  'GET /v1/webhooks/:id': 'admin',
  'DELETE /v1/webhooks/:id': 'admin',
  'POST /v1/webhooks/:id/test': 'admin',
  'GET /v1/webhooks/:id/deliveries': 'admin',
};

/** Prefixes served by plugins (the docs UI, the web UI's static files): open, they hold no data. Admin UIs are listed by prefix too. */
const PREFIX_ROLES: readonly [string, Access][] = [
  ['/docs', 'open'],
  ['/ui', 'open'],
  ['/admin/queues', 'admin'],
];

function accessOf(route: RouteOptions): Access {
  const url = route.url ?? '';
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  // Fastify adds a HEAD route beside each GET: it needs what the GET needs.
  const roles = methods.map((m) => ROUTE_ROLES[`${m === 'HEAD' ? 'GET' : m} ${url}`]);
  if (roles.every((r) => r !== undefined) && new Set(roles).size === 1) return roles[0]!;
  const prefixed = PREFIX_ROLES.find(([p]) => url === p || url.startsWith(`${p}/`));
  if (prefixed) return prefixed[1];
  if (methods.every((m) => m === 'OPTIONS')) return 'open'; // CORS preflights carry no credentials
  // A route missing from the table must not end up open: refuse to start.
  throw new Error(`Route ${methods.join(',')} ${url} has no role in ROUTE_ROLES (src/api/auth.ts)`);
}
