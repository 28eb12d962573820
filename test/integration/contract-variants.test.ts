// Every documented variant of every union in the job contract, submitted through HTTP and run: each
// source form, each split form, each optimizer, each learning-rate schedule, each freeze form. Each
// must be accepted and applied (the metrics, result and stored params show it), not merely validated.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expectError, resultOf, startService, submit, waitForJob } from '../helpers.js';
import { gzipAll, mnistSlice, startIdxServer } from '../fixtures/idx-server.js';
import type { ParamsOf } from '../../src/jobs/contract.js';

const svc = await startService({ api: true, worker: true }, { OUTBOUND_ALLOW_PRIVATE: true });
const { app } = svc;
const server = await startIdxServer({ slice: gzipAll(await mnistSlice(1200, 300)) });
after(async () => {
  await server.close();
  await svc.close();
});

const run = async <T extends 'dataset-prep' | 'train' | 'fine-tune'>(type: T, params: object) => {
  const job = await submit(app, type, params);
  return resultOf(await waitForJob(app, job.id, { timeoutMs: 180_000 }), type);
};
const learningRates = async (jobId: string) =>
  ((await app.inject(`/v1/jobs/${jobId}/metrics`)).json().items as { learningRate: number }[]).map((m) => m.learningRate);
const close = (actual: number[], expected: number[]) =>
  assert.ok(actual.length === expected.length && actual.every((v, i) => Math.abs(v - expected[i]!) < 1e-9), `${actual} vs ${expected}`);

let mnist: string;

describe('dataset sources and splits', () => {
  it('`mnist` with split `standard`', async () => {
    const r = await run('dataset-prep', { source: 'mnist', split: 'standard', valFraction: 0.1 });
    assert.deepEqual(r.counts, { train: 54000, val: 6000, test: 10000 });
    mnist = r.datasetId;
  });

  it('`fashion-mnist` with split ratios', async () => {
    const r = await run('dataset-prep', { source: 'fashion-mnist', split: { train: 0.8, val: 0.1, test: 0.1 } });
    assert.deepEqual(r.counts, { train: 56000, val: 7000, test: 7000 });
  });

  it('`{url}` of an IDX folder', async () => {
    const r = await run('dataset-prep', { source: { url: server.url('slice') }, split: 'standard', valFraction: 0.25 });
    assert.deepEqual(r.counts, { train: 900, val: 300, test: 300 });
  });
});

describe('optimizers and schedules', () => {
  const train = (extra: Partial<ParamsOf<'train'>>) =>
    submit(app, 'train', { datasetId: mnist, architecture: 'mlp', epochs: 3, batchSize: 64, subset: { train: 640, val: 64, test: 64 }, ...extra });

  it('each optimizer trains, with its defaults filled in', async () => {
    for (const optimizer of [{ type: 'sgd', learningRate: 0.1 }, { type: 'momentum', learningRate: 0.05 }, { type: 'adam' }] as const) {
      const job = await train({ optimizer: optimizer as ParamsOf<'train'>['optimizer'], epochs: 1 });
      const done = await waitForJob(app, job.id, { timeoutMs: 120_000 });
      assert.ok(resultOf(done, 'train').test.accuracy > 0.3, `${optimizer.type}: ${JSON.stringify(done.result)}`);
      const stored = done.params as ParamsOf<'train'>;
      assert.equal(stored.optimizer.type, optimizer.type);
      if (optimizer.type === 'momentum') assert.deepEqual(stored.optimizer, { type: 'momentum', learningRate: 0.05, momentum: 0.9 });
      if (optimizer.type === 'adam') assert.deepEqual(stored.optimizer, { type: 'adam', learningRate: 0.002 });
    }
  });

  it('`constant` keeps the rate, `step` decays it, `cosine` anneals it', async () => {
    const optimizer = { type: 'adam' as const, learningRate: 0.004 };
    const jobs = {
      constant: await train({ optimizer, schedule: { type: 'constant' } }),
      step: await train({ optimizer, schedule: { type: 'step', stepSize: 2, gamma: 0.5 } }),
      cosine: await train({ optimizer, schedule: { type: 'cosine', minLearningRate: 0.001 } }),
    };
    for (const job of Object.values(jobs)) assert.equal((await waitForJob(app, job.id, { timeoutMs: 120_000 })).status, 'succeeded');
    close(await learningRates(jobs.constant.id), [0.004, 0.004, 0.004]);
    close(await learningRates(jobs.step.id), [0.004, 0.004, 0.002]);
    const cos = await learningRates(jobs.cosine.id);
    assert.ok(cos[0] === 0.004 && cos[1]! < cos[0]! && cos[2]! < cos[1]! && cos[2]! > 0.001, `${cos}`);
  });

  it('a schedule or optimizer of an unknown type is a 400 naming the tag', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'train', params: { datasetId: mnist, schedule: { type: 'linear' } } } });
    const error = expectError(res, 400, 'VALIDATION_FAILED');
    assert.match(error.message, /params\/schedule\/type must be one of constant, step, cosine/);
    expectError(await app.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'train', params: { datasetId: mnist, schedule: { type: 'step', gamma: 2 } } } }), 400, 'VALIDATION_FAILED');
    expectError(await app.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'train', params: { datasetId: mnist, optimizer: { type: 'sgd', momentum: 0.9 } } } }), 400, 'VALIDATION_FAILED');
  });
});

describe('fine-tune freeze forms', () => {
  let base: string;
  before(async () => {
    base = (await run('train', { datasetId: mnist, architecture: 'mlp', epochs: 1, subset: { train: 640, val: 64, test: 64 } })).modelId;
  });

  it('an integer, `all-but-head` and `none` freeze what they say', async () => {
    const common = { baseModelId: base, datasetId: mnist, epochs: 1, subset: { train: 320, val: 64, test: 64 }, optimizer: { type: 'sgd', learningRate: 0.05 } };
    const frozen = async (freeze: ParamsOf<'fine-tune'>['freeze']) => (await run('fine-tune', { ...common, freeze })).frozenLayers;
    const allButHead = await frozen('all-but-head');
    assert.ok(allButHead.length >= 1, `${allButHead}`);
    assert.deepEqual(await frozen(1), allButHead.slice(0, 1));
    assert.deepEqual(await frozen('none'), []);
  });
});
