// The 500s of issue 10, each with its new answer: hostile text (NUL, lone surrogates, bad UTF-8) in
// every place that reached Postgres, non-UUID ids, Postgres and Redis unreachable, a model whose files
// are gone, a model deletion on a read-only disk, a full disk; and the headers (helmet, CORS).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { expectError, startService } from '../helpers.js';
import { fakeModel } from '../fixtures/rows.js';

const svc = await startService({ api: true, worker: false }, { CORS_ORIGINS: 'https://app.example' });
const { app } = svc;
const created: string[] = [];
after(async () => {
  for (const id of created) await app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
  await svc.close();
});

const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object });
const raw = (url: string, body: string | Buffer) => app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: body });

/** A TCP port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

describe('hostile text never reaches Postgres', () => {
  it('refuses a NUL in every looked-up string with 400 INVALID_TEXT', async () => {
    const cases: [string, unknown][] = [
      ['/v1/predict', { model: 'late\u0000st', inputs: [Array(784).fill(0)] }],
      ['/predict', { model: '\u0000', inputs: [Array(784).fill(0)] }],
      ['/v1/jobs', { type: 'dataset-prep', params: { source: 'mnist' }, idempotencyKey: 'key\u0000' }],
      ['/v1/jobs', { type: 'predict', params: { model: 'x\u0000', inputs: [Array(784).fill(0)] } }],
      ['/v1/jobs', { type: 'dataset-prep', params: { source: 'mnist', name: 'digits\u0000' } }],
      ['/v1/jobs', { type: 'predict', params: { model: 'latest', inputs: ['iVBOR\u0000w0KGgo='] } }],
    ];
    for (const [url, body] of cases) expectError(await post(url, body), 400, 'INVALID_TEXT');
    expectError(await app.inject('/v1/models?architecture=mlp%00'), 400, 'INVALID_TEXT');
    expectError(await app.inject('/v1/jobs?cursor=%00'), 400, 'INVALID_TEXT');
  });

  it('refuses lone surrogates (400), so two ill-formed idempotency keys cannot collapse into one', async () => {
    for (const key of ['\\ud800', '\\udfff']) {
      const res = await raw('/v1/jobs', `{"type":"dataset-prep","params":{"source":"mnist"},"idempotencyKey":"k${key}"}`);
      expectError(res, 400, 'INVALID_TEXT');
    }
    expectError(await raw('/v1/jobs', '{"type":"dataset-prep","params":{"source":"mnist","name":"\\udc00x"}}'), 400, 'INVALID_TEXT');
    expectError(await raw('/v1/jobs', '{"type":"dataset-prep","params":{"source":"mnist"},"\\ud800":1}'), 400, 'INVALID_TEXT');
    // A well-formed pair is fine (the name is stored and read back as sent).
    const ok = await raw('/v1/jobs', '{"type":"dataset-prep","params":{"source":"mnist","name":"digits \\ud83d\\ude00"}}');
    assert.equal(ok.statusCode, 202, ok.body);
    created.push(ok.json().id);
    assert.equal(ok.json().params.name, 'digits 😀');
  });

  it('refuses bodies that are not UTF-8, and nesting bombs, with a code', async () => {
    expectError(await raw('/v1/jobs', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])), 400, 'INVALID_ENCODING');
    expectError(await raw('/v1/jobs', `${'['.repeat(5000)}${']'.repeat(5000)}`), 400, 'INVALID_TEXT');
    expectError(await raw('/v1/jobs', ''), 400, 'MALFORMED_JSON');
  });

  it('answers ids that are not UUIDs with 400, not a database error', async () => {
    for (const url of ['/v1/jobs/123', '/v1/jobs/x%00y', '/v1/models/abc/model.json', '/v1/datasets/..%2F..%2Fetc', "/v1/jobs/'%20OR%201=1"]) {
      const res = await app.inject(url);
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
      assert.ok(res.json().error.code);
    }
  });

  it('bounds inline inputs of a predict job and the body of /predict', async () => {
    const inputs = Array.from({ length: 10_001 }, () => [0]);
    const res = await post('/v1/jobs', { type: 'predict', params: { model: 'latest', inputs } });
    assert.ok([400, 413].includes(res.statusCode), res.body.slice(0, 200));
    const big = JSON.stringify({ inputs: ['A'.repeat(9 * 1024 * 1024)] });
    expectError(await raw('/v1/predict', big), 413, 'PAYLOAD_TOO_LARGE');
  });
});

describe('dependencies that are down answer 503 at once', () => {
  it('Postgres unreachable: 503 DATABASE_UNAVAILABLE with Retry-After on submit, read and predict', async () => {
    const port = await closedPort();
    const secret = `admin-${'x'.repeat(24)}`;
    const down = await startService({ api: true, worker: false }, { DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/nowhere`, API_KEYS: `admin:${secret}` });
    try {
      await down.app.ready();
      const headers = { authorization: `Bearer ${secret}` };
      const requests = [
        { method: 'POST' as const, url: '/v1/jobs', payload: { type: 'dataset-prep', params: { source: 'mnist' } } },
        { method: 'GET' as const, url: `/v1/jobs/${crypto.randomUUID()}` },
        { method: 'POST' as const, url: '/v1/predict', payload: { inputs: [Array(784).fill(0)] } },
        { method: 'GET' as const, url: '/v1/models' },
      ];
      for (const r of requests) {
        const t0 = performance.now();
        const res = await down.app.inject({ ...r, headers });
        expectError(res, 503, 'DATABASE_UNAVAILABLE');
        assert.ok(Number(res.headers['retry-after']) > 0);
        // The first request pays the driver's start-up; all answer well before a client would give up.
        assert.ok(performance.now() - t0 < 5000, `${r.url} answered in ${Math.round(performance.now() - t0)} ms`);
      }
      assert.equal((await down.app.inject('/ready')).statusCode, 503);
      assert.equal((await down.app.inject('/health')).statusCode, 200);
    } finally {
      await down.close();
    }
  });

  it('Redis unreachable: a submission fails fast with 503 QUEUE_UNAVAILABLE and leaves no job behind', async () => {
    const port = await closedPort();
    const down = await startService({ api: true, worker: false }, { REDIS_URL: `redis://127.0.0.1:${port}` });
    try {
      await down.app.ready(); // the start itself may wait on Redis for a while; the submission must not
      const key = `redis-down-${Date.now()}`;
      const t0 = performance.now();
      const res = await down.app.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'dataset-prep', params: { source: 'mnist' }, idempotencyKey: key } });
      const ms = performance.now() - t0;
      expectError(res, 503, 'QUEUE_UNAVAILABLE');
      assert.ok(Number(res.headers['retry-after']) > 0);
      assert.ok(ms < 5000, `answered in ${Math.round(ms)} ms (the first request also pays the database driver's start-up)`);
      assert.equal(await svc.db.job.count({ where: { idempotencyKey: key } }), 0, 'no half-made job');
      // Once the outage is known, the next submissions do not wait out the timeout again.
      const t1 = performance.now();
      expectError(await down.app.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'dataset-prep', params: { source: 'mnist' } } }), 503, 'QUEUE_UNAVAILABLE');
      assert.ok(performance.now() - t1 < 500, `then at once: ${Math.round(performance.now() - t1)} ms`);
    } finally {
      await down.close();
    }
  });
});

describe('models and disks', () => {
  it('a model whose files are gone answers 503 MODEL_UNAVAILABLE', async () => {
    const { id } = await fakeModel(svc.db, svc.config.DATA_DIR, { files: false });
    expectError(await post('/v1/predict', { model: id, inputs: [Array(784).fill(0)] }), 503, 'MODEL_UNAVAILABLE');
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/models/${id}` })).statusCode, 204, 'and can still be deleted');
  });

  it('deleting a model on a read-only disk is a clear 503 that leaves row and files as they were', async (t) => {
    const { id, dir } = await fakeModel(svc.db, svc.config.DATA_DIR);
    const modelsDir = path.dirname(dir);
    try {
      execFileSync('mount', ['--bind', modelsDir, modelsDir]);
      execFileSync('mount', ['-o', 'remount,bind,ro', modelsDir]);
    } catch {
      return t.skip('cannot mount read-only here');
    }
    try {
      expectError(await app.inject({ method: 'DELETE', url: `/v1/models/${id}` }), 503, 'STORE_UNAVAILABLE');
      assert.equal((await app.inject(`/v1/models/${id}`)).statusCode, 200, 'the row is kept');
      await access(path.join(dir, 'model.json'));
    } finally {
      execFileSync('umount', [modelsDir]);
    }
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/models/${id}` })).statusCode, 204);
    assert.equal((await app.inject(`/v1/models/${id}`)).statusCode, 404);
    await assert.rejects(access(dir), 'the files are gone too');
    const audit = await svc.db.auditEvent.findFirst({ where: { action: 'model.delete', target: id } });
    assert.ok(audit, 'the deletion is in the audit trail');
  });

  it('refuses a dataset-prep up front with INSUFFICIENT_DISK when the data directory is nearly full', async (t) => {
    const small = await mkdtemp(path.join(tmpdir(), 'small-disk-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', small]);
    } catch {
      await rm(small, { recursive: true, force: true });
      return t.skip('cannot mount a tmpfs here');
    }
    const full = await startService({ api: true, worker: false }, { DATA_DIR: small });
    try {
      await mkdir(path.join(small, 'x'), { recursive: true });
      const res = await full.app.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'dataset-prep', params: { source: 'mnist' } } });
      const err = expectError(res, 503, 'INSUFFICIENT_DISK');
      assert.ok(err.details.neededBytes > err.details.freeBytes);
    } finally {
      await full.close();
      execFileSync('umount', [small]);
      await rm(small, { recursive: true, force: true });
    }
  });
});

describe('headers', () => {
  it('sends helmet\'s security headers, and CORS only for the configured origins', async () => {
    const res = await app.inject({ url: '/health', headers: { origin: 'https://app.example' } });
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.ok(res.headers['strict-transport-security']);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example');
    const other = await app.inject({ url: '/health', headers: { origin: 'https://evil.example' } });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    const preflight = await app.inject({
      method: 'OPTIONS', url: '/v1/predict',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal(preflight.statusCode, 204);
    assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/);
  });
});
