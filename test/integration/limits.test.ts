// Per-key work limits and outbound URLs through HTTP, with workers: MAX_ACTIVE_JOBS_PER_KEY (429
// QUOTA_EXCEEDED, another key unaffected), maxRuntimeSeconds (the job fails MAX_RUNTIME_EXCEEDED)
// and its server cap, submittedBy and owner-only cancel, slim job lists; {url} sources that point
// into private networks refused (literal addresses at submit, names at connect time) with the
// test's own server never contacted.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { after, describe, it } from 'node:test';
import { bearer, expectError, startService, waitForJob } from '../helpers.js';

const SUBMIT_A = `submit-a-${'a'.repeat(20)}`;
const SUBMIT_B = `submit-b-${'b'.repeat(20)}`;
const ADMIN = `admin-limits-${'c'.repeat(20)}`;
const API_KEYS = `submit:${SUBMIT_A},submit:${SUBMIT_B},admin:${ADMIN}`;

// A server that must never be reached by the strict service, and that never answers the lenient one.
let connections = 0;
const target = createServer(() => {}); // accepts, never answers
target.on('connection', () => connections++);
target.listen(0, '0.0.0.0');
await once(target, 'listening');
const port = (target.address() as AddressInfo).port;

// The API alone: jobs stay queued unless a test starts workers of its own.
const svc = await startService({ api: true, worker: false }, { API_KEYS, API_KEY_PEPPER: 'limits', MAX_ACTIVE_JOBS_PER_KEY: 2, MAX_JOB_RUNTIME_S: 3600 });
const { app } = svc;
const created: string[] = [];
after(async () => {
  for (const id of created) await app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: bearer(ADMIN) });
  await svc.close();
  target.closeAllConnections();
  target.close();
});

const post = (secret: string, payload: object) => app.inject({ method: 'POST', url: '/v1/jobs', headers: bearer(secret), payload });
const cancelAll = async () => {
  for (const id of created.splice(0)) await app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: bearer(ADMIN) });
};

describe('outbound URLs of dataset sources', () => {
  it('refuses literal private addresses and localhost at submit, never contacting them', async () => {
    for (const host of ['127.0.0.1', 'localhost', '2130706433', '[::1]', '169.254.169.254', '10.0.0.1']) {
      expectError(await post(ADMIN, { type: 'dataset-prep', params: { source: { url: `http://${host}:${port}/mnist/` } } }), 400, 'URL_HOST_NOT_ALLOWED');
    }
    assert.equal(connections, 0);
  });

  it('refuses at connect time a name that resolves to a private address: the job fails, the server is never contacted', async (t) => {
    const name = os.hostname();
    if (/^(localhost|localhost\.localdomain)$/i.test(name)) return t.skip('the hostname is localhost');
    const res = await post(ADMIN, { type: 'dataset-prep', params: { source: { url: `http://${name}:${port}/mnist/` } } });
    assert.equal(res.statusCode, 202, res.body);
    const workers = await startService({ api: false, worker: true });
    try {
      const job = await waitForJob(app, res.json().id, { timeoutMs: 30_000, headers: bearer(ADMIN) });
      assert.equal(job.status, 'failed');
      assert.equal(job.error?.code, 'URL_HOST_NOT_ALLOWED');
      assert.equal(connections, 0, 'the server behind the name was never contacted');
    } finally {
      await workers.close();
    }
  });
});

describe('work limits', () => {
  it('MAX_ACTIVE_JOBS_PER_KEY: the third active job of a key is 429 QUOTA_EXCEEDED, another key is unaffected, a cancel frees a slot', async () => {
    // No workers run here: the jobs stay queued, and queued jobs count.
    const lenient = svc;
    {
      const job = (secret: string, seed: number) =>
        lenient.app.inject({ method: 'POST', url: '/v1/jobs', headers: bearer(secret), payload: { type: 'dataset-prep', params: { source: 'mnist', seed } } });
      const first = await job(SUBMIT_A, 1);
      const second = await job(SUBMIT_A, 2);
      assert.deepEqual([first.statusCode, second.statusCode], [202, 202]);
      created.push(first.json().id, second.json().id);
      assert.equal(first.json().submittedBy.startsWith('env:'), true, 'submittedBy records the key');
      const third = await job(SUBMIT_A, 3);
      const err = expectError(third, 429, 'QUOTA_EXCEEDED');
      assert.deepEqual([err.details.active, err.details.max], [2, 2]);
      const other = await job(SUBMIT_B, 4);
      assert.equal(other.statusCode, 202, 'another key has its own quota');
      created.push(other.json().id);

      // Only the submitting key (or an admin) cancels a job.
      expectError(await lenient.app.inject({ method: 'POST', url: `/v1/jobs/${first.json().id}/cancel`, headers: bearer(SUBMIT_B) }), 403, 'FORBIDDEN');
      assert.equal((await lenient.app.inject({ method: 'POST', url: `/v1/jobs/${first.json().id}/cancel`, headers: bearer(SUBMIT_A) })).statusCode, 202);
      const again = await job(SUBMIT_A, 5);
      assert.equal(again.statusCode, 202, 'a cancel frees a slot');
      created.push(again.json().id);
      const audit = await lenient.db.auditEvent.findFirst({ where: { action: 'job.cancel', target: first.json().id } });
      assert.ok(audit);
    }
    await cancelAll();
  });

  it('maxRuntimeSeconds: a job that runs longer fails with MAX_RUNTIME_EXCEEDED; above the server cap it is refused', async () => {
    const runner = await startService({ api: true, worker: true }, { API_KEYS, API_KEY_PEPPER: 'limits', OUTBOUND_ALLOW_PRIVATE: true, MAX_JOB_RUNTIME_S: 3600 });
    try {
      const headers = bearer(ADMIN);
      expectError(
        await runner.app.inject({ method: 'POST', url: '/v1/jobs', headers, payload: { type: 'dataset-prep', params: { source: 'mnist', maxRuntimeSeconds: 3601 } } }),
        400,
        'MAX_RUNTIME_ABOVE_CAP',
      );
      const res = await runner.app.inject({
        method: 'POST', url: '/v1/jobs', headers,
        payload: { type: 'dataset-prep', params: { source: { url: `http://127.0.0.1:${port}/slow/` }, maxRuntimeSeconds: 1 } },
      });
      assert.equal(res.statusCode, 202, res.body);
      const t0 = Date.now();
      const deadline = Date.now() + 30_000;
      let job: { status: string; error: { code: string } | null } = { status: 'queued', error: null };
      for (;;) {
        job = (await runner.app.inject({ url: `/v1/jobs/${res.json().id}`, headers })).json();
        if (['failed', 'succeeded', 'cancelled'].includes(job.status) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(job.status, 'failed', JSON.stringify(job));
      assert.equal(job.error?.code, 'MAX_RUNTIME_EXCEEDED');
      assert.ok(Date.now() - t0 < 15_000);
    } finally {
      await runner.close();
    }
  });
});

describe('job lists', () => {
  it('leave out the inline inputs of predict jobs; GET of the job has them', async () => {
    const inputs = Array.from({ length: 50 }, () => Array(784).fill(0.5));
    const id = crypto.randomUUID();
    await svc.db.job.create({ data: { id, type: 'predict', status: 'failed', params: { model: 'latest', inputs }, paramsHash: id, submittedBy: 'test' } });
    const list = await app.inject({ url: '/v1/jobs?type=predict&limit=100', headers: bearer(ADMIN) });
    assert.equal(list.statusCode, 200, list.body);
    const listed = list.json().items.find((j: { id: string }) => j.id === id);
    assert.equal(listed.params.inputs, undefined);
    assert.deepEqual(listed.paramsOmitted, ['inputs']);
    assert.ok(list.body.length < 10_000, `${list.body.length} bytes`);
    const full = (await app.inject({ url: `/v1/jobs/${id}`, headers: bearer(ADMIN) })).json();
    assert.equal(full.params.inputs.length, 50);
  });
});
