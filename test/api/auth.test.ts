// API keys and roles through HTTP: open routes, 401 and 403 with their codes, every route's role
// boundary from the one table, run-time keys (made, used, listed without secret, revoked at once),
// the start refused without keys when required, rate limits per key, and failed authentications
// limited per client address.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ROLES, ROUTE_ROLES, roleAtLeast, type Role } from '../../src/api/auth.js';
import { ConfigError } from '../../src/shared/config.js';
import { bearer, expectError, startService } from '../helpers.js';

const SECRETS: Record<Role, string> = {
  read: `read-${'r'.repeat(20)}-${process.pid}`,
  predict: `predict-${'p'.repeat(20)}-${process.pid}`,
  submit: `submit-${'s'.repeat(20)}-${process.pid}`,
  admin: `admin-${'a'.repeat(20)}-${process.pid}`,
};
const API_KEYS = ROLES.map((r) => `${r}:${SECRETS[r]}`).join(',');
const svc = await startService({ api: true, worker: false }, { API_KEYS, API_KEY_PEPPER: 'test-pepper' });
const { app } = svc;
const as = (role: Role) => bearer(SECRETS[role]);

after(async () => {
  // Revoke every run-time key made here: later test files run open.
  await svc.db.apiKey.updateMany({ where: { revokedAt: null }, data: { revokedAt: new Date() } });
  await svc.close();
});

describe('authentication', () => {
  it('leaves liveness, readiness, the contract and the docs open, and /ready says auth is on', async () => {
    for (const url of ['/health', '/ready', '/openapi.json', '/docs']) {
      const res = await app.inject(url);
      assert.ok(res.statusCode < 400, `${url}: ${res.statusCode}`);
    }
    assert.equal((await app.inject('/ready')).json().auth, 'on');
  });

  it('answers 401 UNAUTHENTICATED with WWW-Authenticate for a missing, malformed or unknown key', async () => {
    for (const headers of [{}, { authorization: 'Basic YWRtaW46YWRtaW4=' }, { authorization: 'Bearer' }, bearer('not-a-key-of-this-service')]) {
      const res = await app.inject({ url: '/v1/jobs', headers });
      expectError(res, 401, 'UNAUTHENTICATED');
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    }
  });

  it('checks the key before the body: a bad body from a caller without the role is 403, not 400', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...as('read'), 'content-type': 'application/json' }, payload: '{"broken' });
    const err = expectError(res, 403, 'FORBIDDEN');
    assert.match(err.message, /submit/);
    assert.equal(err.details.required, 'submit');
    expectError(await app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'application/json' }, payload: '{"broken' }), 401, 'UNAUTHENTICATED');
  });

  it('enforces every route\'s role from the table, for every role', async () => {
    const id = crypto.randomUUID();
    const routes = Object.entries(ROUTE_ROLES).filter(([, access]) => access !== 'open');
    assert.ok(routes.length > 20);
    const registered = new Set<string>();
    for (const [route, access] of routes) {
      const [method, path] = route.split(' ') as [string, string];
      const url = path.replace(':id', id).replace(':alias', 'some-alias');
      for (const role of ROLES) {
        const res = await app.inject({ method: method as 'GET', url, headers: as(role), ...(method === 'GET' || method === 'DELETE' ? {} : { payload: {} }) });
        if (res.statusCode === 404 && res.json().error?.code === 'ROUTE_NOT_FOUND') break; // not served by this build (e.g. model.onnx)
        registered.add(route);
        const allowed = access === 'any' || roleAtLeast(role, access as Role);
        if (allowed) assert.ok(![401, 403].includes(res.statusCode), `${route} as ${role}: ${res.statusCode} ${res.body}`);
        else assert.equal(res.json().error?.code, 'FORBIDDEN', `${route} as ${role}: ${res.statusCode} ${res.body}`);
      }
    }
    assert.ok(registered.has('DELETE /v1/models/:id') && registered.has('POST /v1/predict') && registered.has('POST /v1/api-keys'));
  });

  it('declares the bearer scheme and each operation\'s role in OpenAPI', async () => {
    const doc = (await app.inject('/openapi.json')).json();
    assert.equal(doc.components.securitySchemes.bearerAuth.scheme, 'bearer');
    const ops = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([p, item]) => Object.entries(item).map(([m, op]) => ({ p, m, op })));
    for (const { p, m, op } of ops) {
      assert.ok(op['x-role'], `${m} ${p} has an x-role`);
      assert.deepEqual(op.security, op['x-role'] === 'open' ? [] : [{ bearerAuth: [] }], `${m} ${p}`);
    }
    assert.equal(doc.paths['/v1/models/{id}'].delete['x-role'], 'admin');
    assert.equal(doc.paths['/health'].get['x-role'], 'open');
  });
});

describe('run-time API keys', () => {
  it('are made by an admin, used, listed without their secret, and revoked at once', async () => {
    expectError(await app.inject({ method: 'POST', url: '/v1/api-keys', headers: as('submit'), payload: { name: 'x', role: 'read' } }), 403, 'FORBIDDEN');
    const made = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: as('admin'), payload: { name: 'ci predictor', role: 'predict' } });
    assert.equal(made.statusCode, 201, made.body);
    const key = made.json();
    assert.equal(key.role, 'predict');
    assert.equal(key.name, 'ci predictor');
    assert.ok(key.secret.length >= 32);
    assert.ok(key.id && key.createdAt);

    assert.equal((await app.inject({ url: '/v1/jobs', headers: bearer(key.secret) })).statusCode, 200);
    expectError(await app.inject({ method: 'POST', url: '/v1/jobs', headers: bearer(key.secret), payload: { type: 'dataset-prep', params: { source: 'mnist' } } }), 403, 'FORBIDDEN');

    const list = await app.inject({ url: '/v1/api-keys?limit=100', headers: as('admin') });
    assert.equal(list.statusCode, 200);
    const listed = list.json().items.find((k: any) => k.id === key.id);
    assert.ok(listed);
    assert.equal(listed.secret, undefined);
    assert.doesNotMatch(list.body, new RegExp(key.secret));
    assert.ok(listed.lastUsedAt, 'lastUsedAt recorded');
    const stored = await svc.db.apiKey.findUniqueOrThrow({ where: { id: key.id } });
    assert.notEqual(stored.secretHash, key.secret);
    assert.equal(stored.secretHash.length, 64, 'kept as an HMAC-SHA-256 hex digest');

    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/api-keys/${key.id}`, headers: as('admin') })).statusCode, 204);
    expectError(await app.inject({ url: '/v1/jobs', headers: bearer(key.secret) }), 401, 'UNAUTHENTICATED');
    expectError(await app.inject({ method: 'DELETE', url: `/v1/api-keys/${crypto.randomUUID()}`, headers: as('admin') }), 404, 'API_KEY_NOT_FOUND');
    const audit = await svc.db.auditEvent.findMany({ where: { target: key.id }, orderBy: { createdAt: 'asc' } });
    assert.deepEqual(audit.map((a) => a.action), ['api-key.create', 'api-key.revoke']);
    assert.match(audit[0]!.actor, /^env:/);
  });

  it('are revoked on every replica at once: a second API instance refuses the key on its next request', async () => {
    const other = await startService({ api: true, worker: false }, { API_KEYS, API_KEY_PEPPER: 'test-pepper' });
    try {
      const key = (await app.inject({ method: 'POST', url: '/v1/api-keys', headers: as('admin'), payload: { name: 'replica', role: 'read' } })).json();
      assert.equal((await other.app.inject({ url: '/v1/models', headers: bearer(key.secret) })).statusCode, 200);
      await app.inject({ method: 'DELETE', url: `/v1/api-keys/${key.id}`, headers: as('admin') });
      expectError(await other.app.inject({ url: '/v1/models', headers: bearer(key.secret) }), 401, 'UNAUTHENTICATED');
    } finally {
      await other.close();
    }
  });
});

describe('starting', () => {
  it('refuses a bad API_KEYS entry with a message naming it', async () => {
    for (const spec of ['admin:short', 'root:aaaaaaaaaaaaaaaaaaaa', 'aaaaaaaaaaaaaaaaaaaaaaaa']) {
      await assert.rejects(startService({ api: true, worker: false }, { API_KEYS: spec }), (err: Error) => err instanceof ConfigError && /API_KEYS entry 1/.test(err.message) && !err.message.includes('aaaaaaaaaaaaaaaa'));
    }
  });

  it('with AUTH_REQUIRED refuses to start without a key, and without it runs open', async () => {
    await svc.db.apiKey.updateMany({ where: { revokedAt: null }, data: { revokedAt: new Date() } });
    await assert.rejects(startService({ api: true, worker: false }, { AUTH_REQUIRED: true }), (err: Error) => err instanceof ConfigError && /AUTH_REQUIRED/.test(err.message));
    const open = await startService({ api: true, worker: false });
    try {
      assert.equal((await open.app.inject('/ready')).json().auth, 'off');
      assert.equal((await open.app.inject('/v1/jobs')).statusCode, 200);
    } finally {
      await open.close();
    }
  });
});

describe('rate limits', () => {
  it('count per key: one key running out answers 429 RATE_LIMITED with Retry-After, another key is untouched', async () => {
    const limited = await startService({ api: true, worker: false }, { API_KEYS, API_KEY_PEPPER: 'test-pepper', RATE_LIMIT_MAX: 5, RATE_LIMIT_WINDOW_S: 60 });
    try {
      const statuses = [];
      for (let i = 0; i < 7; i++) statuses.push((await limited.app.inject({ url: '/v1/models', headers: as('read') })).statusCode);
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429]);
      const res = await limited.app.inject({ url: '/v1/models', headers: as('read') });
      expectError(res, 429, 'RATE_LIMITED');
      assert.ok(Number(res.headers['retry-after']) > 0, 'Retry-After');
      assert.equal((await limited.app.inject({ url: '/v1/models', headers: as('submit') })).statusCode, 200, 'another key is not limited');
      assert.equal((await limited.app.inject('/health')).statusCode, 200, 'probes are never limited');
    } finally {
      await limited.close();
    }
  });
  it('limit failed authentications per client address: past AUTH_FAILURE_LIMIT_MAX 401s answer 429, valid keys from that address are untouched', async () => {
    const limited = await startService({ api: true, worker: false }, { API_KEYS, API_KEY_PEPPER: 'test-pepper', AUTH_FAILURE_LIMIT_MAX: 5, RATE_LIMIT_WINDOW_S: 60 });
    try {
      const from = (remoteAddress: string, headers: Record<string, string> = {}) => limited.app.inject({ url: '/v1/models', headers, remoteAddress });
      // The same address in every request: missing, malformed and unknown keys count alike.
      const attacker = '192.0.2.7';
      const failures = [{}, { authorization: 'Basic abc' }, bearer(`unknown-${'u'.repeat(20)}`), {}, bearer(`unknown-${'v'.repeat(20)}`), {}, bearer(`unknown-${'w'.repeat(20)}`)];
      const statuses = [];
      for (const headers of failures) statuses.push((await from(attacker, headers)).statusCode);
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429]);
      const res = await from(attacker);
      expectError(res, 429, 'RATE_LIMITED');
      assert.ok(Number(res.headers['retry-after']) > 0, 'Retry-After');

      // Valid keys from that same address are neither counted nor refused: a bootstrap key, and a
      // run-time key (looked up in Postgres).
      for (let i = 0; i < 3; i++) assert.equal((await from(attacker, as('read'))).statusCode, 200, 'a bootstrap key still works');
      const made = await limited.app.inject({ method: 'POST', url: '/v1/api-keys', headers: { ...as('admin') }, payload: { name: 'from-the-same-address', role: 'read' }, remoteAddress: attacker });
      assert.equal(made.statusCode, 201, made.body);
      assert.equal((await from(attacker, bearer(made.json().secret))).statusCode, 200, 'a run-time key still works');
      assert.equal((await limited.app.inject({ url: '/health', remoteAddress: attacker })).statusCode, 200, 'probes are never limited');

      // Another address has its own count.
      expectError(await from('192.0.2.8'), 401, 'UNAUTHENTICATED');
    } finally {
      await limited.close();
    }
  });
});
