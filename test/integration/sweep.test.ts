// sweep jobs end to end: trials run as child train jobs two at a time, ASHA stops the weak ones at
// their rungs, the leaderboard ranks them and the alias points at the best model; a grid runs exactly
// its points; a bad space is refused at submit; cancelling a sweep cancels its trials.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { expectError, submit, waitForJob } from '../helpers.js';
import { startMnistService } from '../fixtures/mnist-service.js';
import type { Job as ApiJob } from '../../src/jobs/contract.js';

const { svc, app, prepareDataset } = await startMnistService({ api: true, worker: true }, { config: { WORKER_CONCURRENCY: 2 } });

let datasetId = '';
before(async () => {
  datasetId = await prepareDataset();
});

const trialOf = (extra: object = {}) => ({ type: 'train', params: { datasetId, architecture: 'mlp', epochs: 4, subset: { train: 300 }, seed: 3, ...extra } });
const children = async (id: string): Promise<ApiJob[]> => {
  const res = await app.inject(`/v1/jobs?parentId=${id}&limit=100`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json().items;
};

/** The largest number of trials that ran at the same moment, from their start and end times. */
function maxOverlap(jobs: ApiJob[]): number {
  const events = jobs.flatMap((j) => [
    [Date.parse(j.startedAt!), 1],
    [Date.parse(j.finishedAt!), -1],
  ]) as [number, number][];
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of events) {
    cur += d;
    max = Math.max(max, cur);
  }
  return max;
}

describe('sweep', () => {
  it('a random sweep with ASHA runs 8 trials two at a time, stops some early, ranks them and promotes the alias', async () => {
    const sweep = await submit(app, 'sweep', {
      trial: trialOf(),
      // The issue's own space: a schedule type alone is a schedule of that type with its defaults.
      space: { 'optimizer.learningRate': { logUniform: [1e-4, 3e-2] }, batchSize: { choice: [16, 32] }, 'schedule.type': { choice: ['constant', 'cosine'] } },
      algorithm: 'random',
      maxTrials: 8,
      maxParallel: 2,
      objective: { metric: 'valAccuracy', goal: 'maximize' },
      earlyStopping: { type: 'asha', gracePeriod: 1, reductionFactor: 3 },
      seed: 1,
      promoteAlias: 'sweep-best',
    });
    const done = await waitForJob(app, sweep.id, { timeoutMs: 300_000 });
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const result = done.result as any;

    const trials = await children(sweep.id);
    assert.equal(trials.length, 8);
    assert.ok(trials.every((t) => t.parentId === sweep.id && t.type === 'train' && t.status === 'succeeded'));
    // The trials belong to whoever submitted the sweep (owner-only cancel applies to them too).
    const sweepJob = (await app.inject(`/v1/jobs/${sweep.id}`)).json();
    assert.ok(sweepJob.submittedBy, 'the sweep records its submitter');
    assert.ok(trials.every((t) => t.submittedBy === sweepJob.submittedBy), 'every trial has the sweep submitter');
    assert.ok(maxOverlap(trials) <= 2, `at most 2 at once, saw ${maxOverlap(trials)}`);

    // Stopped trials ended at a rung (1 or 3 epochs) without a model; the others ran all 4 epochs.
    const stopped = result.leaderboard.filter((t: any) => t.stoppedEarly);
    assert.ok(stopped.length >= 1, 'ASHA stopped no trial');
    for (const t of stopped) {
      assert.ok([1, 3].includes(t.epochsRun), `stopped after ${t.epochsRun} epochs`);
      assert.equal(t.modelId, null);
      const metrics = (await app.inject(`/v1/jobs/${t.trialId}/metrics`)).json().items;
      assert.equal(metrics.length, t.epochsRun);
    }
    for (const t of result.leaderboard.filter((t: any) => !t.stoppedEarly)) assert.equal(t.epochsRun, 4);
    assert.equal((done.progress as any).stopped, stopped.length);
    assert.equal((done.progress as any).done, 8);

    // Ranked by objective; best is the top trial with a model; the alias points at it.
    const objectives = result.leaderboard.map((t: any) => t.objective);
    assert.deepEqual(
      objectives,
      [...objectives].sort((a: number, b: number) => b - a),
    );
    assert.equal(result.leaderboard.length, 8);
    assert.ok(result.best.modelId);
    assert.equal(result.best.trialId, result.leaderboard.find((t: any) => t.modelId).trialId);
    const alias = (await app.inject('/v1/models/aliases/sweep-best')).json();
    assert.equal(alias.model.id, result.best.modelId);
    // A predict by the alias uses that model.
    const predict = await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'sweep-best', inputs: [new Array(784).fill(0)] } });
    assert.equal(predict.statusCode, 200, predict.body);
    assert.equal(predict.json().modelId, result.best.modelId);
    // Each trial's searched values are those in its job's params.
    for (const t of result.leaderboard) {
      const job = trials.find((j) => j.id === t.trialId)! as any;
      assert.equal(job.params.optimizer.learningRate, t.params['optimizer.learningRate']);
      assert.equal(job.params.batchSize, t.params.batchSize);
      assert.equal(job.params.schedule.type, t.params['schedule.type']);
    }

    const listed = (await app.inject(`/v1/jobs/${sweep.id}/trials`)).json();
    assert.deepEqual(listed.items, result.leaderboard);
  });

  it('a grid runs exactly its points', async () => {
    const sweep = await submit(app, 'sweep', {
      trial: trialOf({ epochs: 1 }),
      space: { batchSize: { grid: [16, 32, 64] }, 'optimizer.learningRate': { grid: [0.001, 0.01] } },
      algorithm: 'grid',
      maxParallel: 2,
    });
    const done = await waitForJob(app, sweep.id, { timeoutMs: 300_000 });
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const points = (await children(sweep.id)).map((j: any) => `${j.params.batchSize}/${j.params.optimizer.learningRate}`).sort();
    assert.deepEqual(points, ['16/0.001', '16/0.01', '32/0.001', '32/0.01', '64/0.001', '64/0.01']);
    assert.equal((done.result as any).leaderboard.length, 6);
  });

  it('refuses a space path that is not a parameter, or a value outside the schema, with a 400 naming it', async () => {
    const post = (space: object, trial: object = trialOf()) =>
      app.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'sweep', params: { trial, space } } });
    let err = expectError(await post({ 'optimizer.learnRate': { logUniform: [1e-4, 1e-1] } }), 400, 'INVALID_SEARCH_SPACE');
    assert.equal(err.details.path, 'optimizer.learnRate');
    assert.match(err.message, /optimizer\.learnRate/);
    err = expectError(await post({ batchSize: { choice: [32, 0] } }), 400, 'INVALID_SEARCH_SPACE');
    assert.equal(err.details.path, 'batchSize');
    assert.equal(err.details.value, 0);
    expectError(await post({ 'optimizer.learningRate': { uniform: [0.1, 0.01] } }), 400, 'INVALID_SEARCH_SPACE');
    expectError(await post({ epochs: { uniform: [1, 3] } }, trialOf()), 400, 'INVALID_SEARCH_SPACE'); // epochs must be integers
    expectError(
      await post({ batchSize: { choice: [32] } }, { type: 'train', params: { ...trialOf().params, datasetId: '00000000-0000-4000-8000-000000000000' } }),
      404,
      'DATASET_NOT_FOUND',
    );
    const grid = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { type: 'sweep', params: { trial: trialOf(), space: { 'optimizer.learningRate': { uniform: [0.001, 0.01] } }, algorithm: 'grid' } },
    });
    expectError(grid, 400, 'INVALID_SEARCH_SPACE');
  });

  it('runs fine-tune trials, and fails with TOO_MANY_FAILED_TRIALS once more trials failed than allowed', async () => {
    const base = await submit(app, 'train', { datasetId, architecture: 'mlp', epochs: 1, subset: { train: 300 }, seed: 1 });
    assert.equal((await waitForJob(app, base.id)).status, 'succeeded');
    const fineTune = (extra: object) => ({ type: 'fine-tune', params: { baseModelId: base.id, datasetId, epochs: 1, subset: { train: 300 }, ...extra } });
    const ok = await submit(app, 'sweep', { trial: fineTune({}), space: { l2sp: { grid: [0, 0.01] } }, algorithm: 'grid' });
    const done = await waitForJob(app, ok.id, { timeoutMs: 120_000 });
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const trials = await children(ok.id);
    assert.deepEqual(trials.map((t: any) => t.params.l2sp).sort(), [0, 0.01]);
    assert.ok(trials.every((t) => t.type === 'fine-tune' && (t.result as any).baseModelId === base.id));

    // A head of 2 or 3 classes for 10-class labels: each trial fails when training starts.
    const bad = await submit(app, 'sweep', {
      trial: fineTune({}),
      space: { numClasses: { choice: [2, 3] } },
      maxTrials: 4,
      maxParallel: 1,
      maxFailedTrials: 1,
    });
    const failed = await waitForJob(app, bad.id, { timeoutMs: 120_000 });
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'TOO_MANY_FAILED_TRIALS');
    assert.equal(((failed.error!.details as any).failed as unknown[]).length, 2);
    assert.equal((await children(bad.id)).length, 2, 'no trial is started after the limit');
  });

  it('a trial whose stop flag the sweep sets stops at the end of its epoch and succeeds', async () => {
    const sweep = await submit(app, 'sweep', { trial: trialOf({ epochs: 200 }), space: { batchSize: { choice: [16] } }, maxTrials: 1 });
    let trial: ApiJob | undefined;
    const deadline = Date.now() + 60_000;
    while (!trial || (trial.progress?.epoch ?? 0) < 2) {
      assert.ok(Date.now() < deadline, 'the trial never got going');
      await new Promise((r) => setTimeout(r, 50));
      trial = (await children(sweep.id))[0];
    }
    // What the sweep does for a trial that went past a rung ASHA stops it at.
    await svc.db.job.update({ where: { id: trial.id }, data: { stopRequested: true } });
    const stopped = await waitForJob(app, trial.id);
    assert.equal(stopped.status, 'succeeded', JSON.stringify(stopped.error));
    const r = stopped.result as any;
    assert.equal(r.stoppedEarly, true);
    assert.equal(r.modelId, null);
    const metrics = (await app.inject(`/v1/jobs/${trial.id}/metrics`)).json().items;
    assert.ok(r.epochsRun >= 1 && r.epochsRun < 200 && metrics.length === r.epochsRun, `epochs ${r.epochsRun}, rows ${metrics.length}`);
    const done = await waitForJob(app, sweep.id);
    assert.equal(done.status, 'succeeded');
    assert.equal((done.result as any).leaderboard[0].stoppedEarly, true);
    assert.equal((done.result as any).best, null, 'no trial has a model');
  });

  it('cancelling a sweep cancels its running trials and starts no more', async () => {
    const sweep = await submit(app, 'sweep', {
      trial: trialOf({ epochs: 200 }),
      space: { batchSize: { choice: [16, 32] } },
      maxTrials: 6,
      maxParallel: 2,
    });
    const deadline = Date.now() + 60_000;
    while ((await children(sweep.id)).filter((j) => j.status === 'running').length < 2) {
      assert.ok(Date.now() < deadline, 'two trials never ran');
      await new Promise((r) => setTimeout(r, 100));
    }
    const res = await app.inject({ method: 'POST', url: `/v1/jobs/${sweep.id}/cancel` });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal((await waitForJob(app, sweep.id)).status, 'cancelled');
    for (const t of await children(sweep.id)) assert.equal((await waitForJob(app, t.id)).status, 'cancelled');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await children(sweep.id)).length, 2);
  });
});
