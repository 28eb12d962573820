// Webhooks as a receiver sees them: signed Standard Webhooks deliveries it verifies with its secret,
// a failed attempt retried with the same webhook-id, each attempt in the delivery log; a job's
// callbackUrl signed with the service's secret; registration validated.
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { expectError, startService, submit, waitForJob } from '../helpers.js';
import { gzipAll, mnistSlice, startIdxServer } from '../fixtures/idx-server.js';
import { startReceiver } from '../fixtures/webhook-receiver.js';
import { newSecret } from '../../src/webhooks/events.js';

const CALLBACK_SECRET = newSecret();
const svc = await startService({ api: true, worker: true }, { CALLBACK_SECRET, OUTBOUND_ALLOW_PRIVATE: true });
const { app } = svc;
const server = await startIdxServer({ small: gzipAll(await mnistSlice(300, 100)) });
const receivers: Awaited<ReturnType<typeof startReceiver>>[] = [];
after(async () => {
  for (const r of receivers) await r.close();
  await server.close();
  await svc.close();
});

async function until<T>(get: () => T | Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('delivers signed job events, retries a failed attempt with the same webhook-id, and logs both', async () => {
  // The first request fails: a receiver that was down for a moment.
  const receiver = await startReceiver((_r, i) => (i === 0 ? 503 : 200));
  receivers.push(receiver);
  const created = await app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: receiver.url, events: ['job.started', 'job.succeeded'], description: 'ci' } });
  assert.equal(created.statusCode, 201, created.body);
  const hook = created.json();
  assert.match(hook.secret, /^whsec_/);
  assert.deepEqual(hook.events, ['job.started', 'job.succeeded']);

  const job = await submit(app, 'dataset-prep', { source: { url: server.url('small') }, seed: 1 });
  assert.equal((await waitForJob(app, job.id)).status, 'succeeded');
  // job.started (failed once, then retried ~5 s later) and job.succeeded: three requests.
  await until(() => receiver.received.length, (n) => n >= 3, 'three deliveries arrived');
  const verifier = new Webhook(hook.secret);
  for (const r of receiver.received) {
    assert.match(r.headers['webhook-signature']!, /^v1,[A-Za-z0-9+/=]+$/);
    verifier.verify(r.body, r.headers); // throws on a bad signature or a stale timestamp
  }
  assert.throws(() => new Webhook(newSecret()).verify(receiver.received[0]!.body, receiver.received[0]!.headers));
  const events = receiver.events();
  const started = events.filter((e) => e.type === 'job.started');
  assert.equal(started.length, 2);
  assert.equal(started[0]!.headers['webhook-id'], started[1]!.headers['webhook-id'], 'a retry keeps the webhook-id');
  const sameId = receiver.received.filter((r) => r.headers['webhook-id'] === started[0]!.headers['webhook-id']);
  const retryDelay = sameId[1]!.at - sameId[0]!.at;
  assert.ok(retryDelay >= 4000 && retryDelay < 15_000, `first retry after ${retryDelay} ms`);
  assert.equal(started[0]!.data.id, job.id);
  const succeeded = events.find((e) => e.type === 'job.succeeded')!;
  assert.equal(succeeded.data.status, 'succeeded');
  assert.deepEqual(succeeded.data, (await app.inject(`/v1/jobs/${job.id}`)).json(), 'data is the job as GET returns it');

  const log = await until(
    async () => (await app.inject(`/v1/webhooks/${hook.id}/deliveries`)).json().items as any[],
    (items) => items.length >= 3,
    'the delivery log holds three attempts',
  );
  const ofStarted = log.filter((d) => d.messageId === started[0]!.headers['webhook-id']).sort((a, b) => a.attempt - b.attempt);
  assert.deepEqual(ofStarted.map((d) => [d.event, d.attempt, d.statusCode]), [['job.started', 1, 503], ['job.started', 2, 200]]);
  assert.ok(ofStarted[0].nextRetryAt, 'the failed attempt says when the next one is due');
  assert.equal(ofStarted[1].nextRetryAt, null);
  assert.ok(ofStarted.every((d) => d.durationMs >= 0 && d.error === null));
});

it('records a connection error, sends webhook.test, lists, reads and deletes webhooks', async () => {
  const dead = await startReceiver();
  await dead.close(); // nothing listens on its port any more
  const hook = (await app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: dead.url, events: ['model.created'] } })).json();
  const test = await app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/test` });
  assert.equal(test.statusCode, 202, test.body);
  const [attempt] = await until(async () => (await app.inject(`/v1/webhooks/${hook.id}/deliveries`)).json().items as any[], (i) => i.length >= 1, 'the attempt is logged');
  assert.equal(attempt.event, 'webhook.test');
  assert.equal(attempt.statusCode, null);
  // Outbound errors are generic by design (a closed port reads like any failed fetch).
  assert.match(attempt.error, /ECONNREFUSED|Could not fetch/);
  assert.ok(attempt.nextRetryAt);

  const receiver = await startReceiver();
  receivers.push(receiver);
  const live = (await app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: receiver.url, events: ['job.failed'] } })).json();
  await app.inject({ method: 'POST', url: `/v1/webhooks/${live.id}/test` });
  const [msg] = await until(() => receiver.events(), (e) => e.length >= 1, 'the test event arrives');
  assert.equal(msg!.type, 'webhook.test');
  new Webhook(live.secret).verify(receiver.received[0]!.body, receiver.received[0]!.headers);

  const list = (await app.inject('/v1/webhooks')).json();
  assert.ok(list.items.some((w: any) => w.id === live.id));
  assert.equal(list.items[0].secret, undefined, 'the secret is shown once, at creation');
  assert.equal((await app.inject(`/v1/webhooks/${live.id}`)).json().url, receiver.url);
  assert.equal((await app.inject({ method: 'DELETE', url: `/v1/webhooks/${hook.id}` })).statusCode, 204);
  expectError(await app.inject(`/v1/webhooks/${hook.id}`), 404, 'WEBHOOK_NOT_FOUND');
  expectError(await app.inject({ method: 'DELETE', url: `/v1/webhooks/${hook.id}` }), 404, 'WEBHOOK_NOT_FOUND');

  expectError(await app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: receiver.url, events: ['job.exploded'] } }), 400, 'VALIDATION_FAILED');
  expectError(await app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: receiver.url, events: [] } }), 400, 'VALIDATION_FAILED');
  expectError(await app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: 'ftp://x.example/', events: ['job.failed'] } }), 400, 'VALIDATION_FAILED');
  expectError(await app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: 'http://u:p@x.example/', events: ['job.failed'] } }), 400, 'WEBHOOK_URL_NOT_ALLOWED');
});

it("calls a job's callbackUrl once it ends, signed with the service's secret", async () => {
  const receiver = await startReceiver();
  receivers.push(receiver);
  const job = await submit(app, 'dataset-prep', { source: { url: server.url('small') }, seed: 2 }, { callbackUrl: receiver.url });
  assert.equal((await waitForJob(app, job.id)).status, 'succeeded');
  const [event] = await until(() => receiver.events(), (e) => e.length >= 1, 'the callback arrives');
  new Webhook(CALLBACK_SECRET).verify(receiver.received[0]!.body, receiver.received[0]!.headers);
  assert.equal(event!.type, 'job.succeeded');
  assert.equal(event!.data.id, job.id);
  assert.equal(receiver.received.length, 1, 'job.started is not sent to a callbackUrl');

  expectError(await app.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'dataset-prep', params: { source: 'mnist' }, callbackUrl: 'not a url' } }), 400, 'VALIDATION_FAILED');
});
