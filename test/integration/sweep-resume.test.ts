// A sweep lives in Postgres, not in a process: when the worker running it (and its trials) is killed,
// the next worker picks the sweep up from its rows and it completes with exactly its trials.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { it } from 'node:test';
import { startService, submit, waitForJob } from '../helpers.js';
import { startMnistService } from '../fixtures/mnist-service.js';
import type { Job as ApiJob } from '../../src/jobs/contract.js';

// The fixture's IDX server is on loopback: every worker here (forked ones too, and those started later) may fetch from it.
process.env.OUTBOUND_ALLOW_PRIVATE = 'true';
const { svc: api, workers, prepareDataset } = await startMnistService({ api: true, worker: false });

it('a worker killed mid-sweep leaves a sweep that the next worker completes', async () => {
  const child = fork(new URL('../fixtures/worker-process.ts', import.meta.url), {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
    env: { ...process.env, WORKER_CONCURRENCY: '2' },
  });
  const exited = once(child, 'exit');
  await once(child, 'message');

  const datasetId = await prepareDataset();
  const sweep = await submit(api.app, 'sweep', {
    trial: { type: 'train', params: { datasetId, architecture: 'mlp', epochs: 4, subset: { train: 300 }, seed: 3 } },
    space: { 'optimizer.learningRate': { logUniform: [1e-3, 3e-2] }, batchSize: { choice: [16, 32] } },
    algorithm: 'tpe',
    maxTrials: 6,
    maxParallel: 2,
    earlyStopping: { type: 'asha', gracePeriod: 1, reductionFactor: 3 },
    seed: 5,
  });
  const trials = async (): Promise<ApiJob[]> => (await api.app.inject(`/v1/jobs?parentId=${sweep.id}&limit=100`)).json().items;

  // Kill the worker once one trial is finished and others are under way.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const t = await trials();
    if (t.some((j) => j.status === 'succeeded') && t.some((j) => j.status === 'running')) break;
    assert.ok(Date.now() < deadline, 'the sweep made no progress');
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  await exited;
  const before = await trials();
  assert.equal((await waitForJob(api.app, sweep.id, { timeoutMs: 1000, until: () => true })).status, 'running');

  workers.push(await startService({ api: false, worker: true, workerOptions: { lockDurationMs: 3000, stalledIntervalMs: 1000 } }, { WORKER_CONCURRENCY: 2 }));
  const done = await waitForJob(api.app, sweep.id, { timeoutMs: 240_000 });
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.ok(done.attempts >= 2, `attempts ${done.attempts}`);
  const after = await trials();
  assert.equal(after.length, 6, 'exactly maxTrials trials, none doubled');
  assert.equal(new Set(after.map((j) => j.idempotencyKey)).size, 6);
  assert.ok(
    after.every((j) => j.status === 'succeeded'),
    JSON.stringify(after.map((j) => [j.status, j.error])),
  );
  // The trials that existed before the kill are the same jobs, carried on, not started again.
  for (const b of before) assert.ok(after.some((a) => a.id === b.id));
  assert.equal((done.result as any).leaderboard.length, 6);
  assert.ok((done.result as any).best.modelId);
});
