// A worker that dies mid-training does not lose the run: the job goes back to the queue when its
// lock expires, and another worker resumes it from the last checkpoint, not from epoch 0. A worker
// that shuts down hands its training back at once, and the next worker resumes it the same way.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { checkpointGone, startService, submit, resultOf, waitForJob } from '../helpers.js';
import { startMnistService } from '../fixtures/mnist-service.js';

// The fixture's IDX server is on loopback: every worker here (forked ones too, and those started later) may fetch from it.
process.env.OUTBOUND_ALLOW_PRIVATE = 'true';
const { svc: api, workers, prepareDataset } = await startMnistService({ api: true, worker: false }, { train: 3000 });

it('resumes a killed worker’s training from its last checkpoint with one metric row per epoch', async () => {
  const child = fork(new URL('../fixtures/worker-process.ts', import.meta.url), { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const exited = once(child, 'exit');
  await once(child, 'message');

  const datasetId = await prepareDataset();
  const epochs = 6;
  const job = await submit(api.app, 'train', { datasetId, architecture: 'mlp', epochs, batchSize: 16, seed: 4 });

  // Kill the worker once its first checkpoint is on disk (it is written just after the epoch's
  // metric row; its pointer, current.json, is written after its files, so it means a complete one).
  const stateFile = path.join(api.config.DATA_DIR, 'checkpoints', job.id, 'current.json');
  const deadline = Date.now() + 120_000;
  while (!existsSync(stateFile)) {
    assert.ok(Date.now() < deadline, 'no checkpoint was written');
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await exited;
  const killedAt = (await api.app.inject(`/v1/jobs/${job.id}`)).json();
  assert.equal(killedAt.status, 'running', 'the job must not have finished before the kill');

  workers.push(await startService({ api: false, worker: true, workerOptions: { lockDurationMs: 3000, stalledIntervalMs: 1000 } }));
  const done = await waitForJob(api.app, job.id, { timeoutMs: 180_000 });
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  const result = resultOf(done, 'train');
  assert.ok(result.resumedFromEpoch >= 1 && result.resumedFromEpoch < epochs, `resumed from ${result.resumedFromEpoch}`);
  assert.equal(done.attempts, 2);
  const metrics = (await api.app.inject(`/v1/jobs/${job.id}/metrics`)).json().items;
  assert.deepEqual(metrics.map((m: any) => m.epoch), [1, 2, 3, 4, 5, 6]);
  assert.ok(result.test!.accuracy > 0.7, `accuracy ${result.test!.accuracy}`);
  for (const w of workers.splice(0)) await w.close();
});

it('a worker shutting down hands its training back to the queue; the next one resumes it', async () => {
  const leaving = await startService({ api: false, worker: true });
  workers.push(leaving);
  const datasetId = await prepareDataset();
  const epochs = 5;
  const job = await submit(api.app, 'train', { datasetId, architecture: 'mlp', epochs, batchSize: 16, seed: 5 });
  await waitForJob(api.app, job.id, { until: (j) => (j.progress?.epoch ?? 0) >= 2 || !['queued', 'running'].includes(j.status) });

  // close() stops the training at its next batch instead of waiting for the remaining epochs.
  await leaving.close();
  workers.splice(workers.indexOf(leaving), 1);
  const handedBack = (await api.app.inject(`/v1/jobs/${job.id}`)).json();
  assert.equal(handedBack.status, 'running', 'neither finished nor failed: waiting for a worker');
  assert.equal(handedBack.progress.stage, 'requeued');
  assert.ok(handedBack.progress.epoch < epochs);
  assert.equal(await api.queues.train.getJobState(job.id), 'waiting');

  workers.push(await startService({ api: false, worker: true }));
  const done = await waitForJob(api.app, job.id, { timeoutMs: 180_000 });
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  const result = resultOf(done, 'train');
  assert.ok(result.resumedFromEpoch >= 1 && result.resumedFromEpoch < epochs, `resumed from ${result.resumedFromEpoch}`);
  const metrics = (await api.app.inject(`/v1/jobs/${job.id}/metrics`)).json().items;
  assert.deepEqual(metrics.map((m: any) => m.epoch), [1, 2, 3, 4, 5]);
  // The history tells the whole story, in order, with times.
  assert.deepEqual(
    done.history!.map((h) => [h.status, h.reason]),
    [['queued', undefined], ['running', undefined], ['requeued', 'the worker is shutting down'], ['running', 'attempt 2'], ['succeeded', undefined]],
  );
  const times = done.history!.map((h) => Date.parse(h.at));
  assert.deepEqual([...times].sort((a, b) => a - b), times);
  assert.ok(await checkpointGone(api.config, job.id), 'the checkpoint goes once the job has succeeded');
});
