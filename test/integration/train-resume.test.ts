// A worker that dies mid-training does not lose the run: the job goes back to the queue when its
// lock expires, and another worker resumes it from the last checkpoint, not from epoch 0.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { after, it } from 'node:test';
import { startService, submit, waitForJob } from '../helpers.js';
import { gzipAll, mnistSlice, startIdxServer } from '../fixtures/idx-server.js';

const api = await startService({ api: true, worker: false });
const server = await startIdxServer({ small: gzipAll(await mnistSlice(3000, 300)) });
let rescuer: Awaited<ReturnType<typeof startService>> | undefined;
after(async () => {
  await rescuer?.close();
  await server.close();
  await api.close();
});

it('resumes a killed worker’s training from its last checkpoint with one metric row per epoch', async () => {
  const child = fork(new URL('../fixtures/worker-process.ts', import.meta.url), { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const exited = once(child, 'exit');
  await once(child, 'message');

  const prep = await submit(api.app, 'dataset-prep', { source: { url: server.url('small') }, seed: 1 });
  assert.equal((await waitForJob(api.app, prep.id)).status, 'succeeded');
  const epochs = 6;
  const job = await submit(api.app, 'train', { datasetId: prep.id, architecture: 'mlp', epochs, batchSize: 16, seed: 4 });

  // Kill the worker once the first epoch's metric row (and so its checkpoint) exists.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const items = (await api.app.inject(`/v1/jobs/${job.id}/metrics`)).json().items;
    if (items.length >= 1) break;
    assert.ok(Date.now() < deadline, 'first epoch never finished');
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  await exited;
  const killedAt = (await api.app.inject(`/v1/jobs/${job.id}`)).json();
  assert.equal(killedAt.status, 'running', 'the job must not have finished before the kill');

  rescuer = await startService({ api: false, worker: true, workerOptions: { lockDurationMs: 3000, stalledIntervalMs: 1000 } });
  const done = await waitForJob(api.app, job.id, { timeoutMs: 180_000 });
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  const result = done.result as any;
  assert.ok(result.resumedFromEpoch >= 1 && result.resumedFromEpoch < epochs, `resumed from ${result.resumedFromEpoch}`);
  assert.equal(done.attempts, 2);
  const metrics = (await api.app.inject(`/v1/jobs/${job.id}/metrics`)).json().items;
  assert.deepEqual(metrics.map((m: any) => m.epoch), [1, 2, 3, 4, 5, 6]);
  assert.ok(result.test.accuracy > 0.7, `accuracy ${result.test.accuracy}`);
});
