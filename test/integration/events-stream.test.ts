// GET /v1/jobs/:id/events over real HTTP: events are pushed while the job runs, each with an id; a
// client that hangs up and reconnects with Last-Event-ID gets exactly what it missed, then the end.
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { startService, submit, waitForJob } from '../helpers.js';
import { gzipAll, mnistSlice, startIdxServer } from '../fixtures/idx-server.js';
import { readSse, type SseEvent } from '../sse.js';

const svc = await startService({ api: true, worker: true }, { OUTBOUND_ALLOW_PRIVATE: true });
const { app } = svc;
const server = await startIdxServer({ small: gzipAll(await mnistSlice(1200, 100)) });
const base = await app.listen({ port: 0, host: '127.0.0.1' });
after(async () => {
  await server.close();
  await svc.close();
});

it('pushes a training’s events and resumes from Last-Event-ID', async () => {
  const prep = await submit(app, 'dataset-prep', { source: { url: server.url('small') }, seed: 1 });
  assert.equal((await waitForJob(app, prep.id)).status, 'succeeded');
  const epochs = 8; // long enough that the client hangs up mid-run on a quiet machine too
  const job = await submit(app, 'train', { datasetId: prep.id, architecture: 'mlp', epochs, batchSize: 32, seed: 2 });

  // First connection: hang up after the first epoch's metric.
  const first: SseEvent[] = [];
  const a = await readSse(`${base}/v1/jobs/${job.id}/events`, { 'x-request-id': 'sse-test-1' }, (e) => {
    first.push(e);
    return e.event === 'metric';
  });
  assert.equal(a.status, 200);
  assert.equal(a.headers.get('content-type'), 'text/event-stream');
  assert.equal(a.headers.get('x-request-id'), 'sse-test-1');
  assert.equal(a.hungUp, true, JSON.stringify(first.map((e) => [e.id, e.event])));
  assert.equal(first[0]!.event, 'status');
  assert.ok(first.every((e) => /^\d+-\d+$/.test(e.id!)), 'every event has an id');
  const resumeAt = first.at(-1)!;
  assert.equal(resumeAt.data.epoch, 1);
  const statusSeen = (await app.inject(`/v1/jobs/${job.id}`)).json().status;
  assert.equal(statusSeen, 'running', 'the job was still running when the client hung up');

  // Reconnect: the events after that id, none twice, up to the end.
  const second: SseEvent[] = [];
  const b = await readSse(`${base}/v1/jobs/${job.id}/events`, { 'last-event-id': resumeAt.id! }, (e) => {
    second.push(e);
    return undefined;
  });
  assert.equal(b.hungUp, false, 'the server ends the stream after the final status');
  assert.equal(second.at(-1)!.event, 'end');
  assert.deepEqual(second.at(-1)!.data, { status: 'succeeded' });
  assert.equal(second.at(-2)!.event, 'status');
  assert.equal(second.at(-2)!.data.status, 'succeeded');
  assert.ok(second.some((e) => e.event === 'progress'));
  const ids = [...first, ...second].map((e) => e.id!);
  for (let i = 1; i < second.length; i++) {
    const [pm, ps] = second[i - 1]!.id!.split('-').map(Number);
    const [cm, cs] = second[i]!.id!.split('-').map(Number);
    assert.ok(cm! > pm! || (cm === pm && cs! > ps!), `ids increase: ${ids.join(' ')}`);
  }
  const epochsSeen = [...first, ...second].filter((e) => e.event === 'metric').map((e) => e.data.epoch);
  assert.deepEqual(epochsSeen, Array.from({ length: epochs }, (_, i) => i + 1), 'each epoch once across the two connections');

  // A client that connects after the end gets the job as it is and the end at once.
  const late: SseEvent[] = [];
  await readSse(`${base}/v1/jobs/${job.id}/events`, {}, (e) => {
    late.push(e);
    return undefined;
  });
  assert.deepEqual(late.map((e) => e.event), ['status', ...Array.from({ length: epochs }, () => 'metric'), 'progress', 'end']);
});
