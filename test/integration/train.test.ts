// train jobs end to end on a small MNIST slice: every architecture, metrics per epoch, the saved
// model, its registry entry, early stopping, cancel, and clear errors.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { checkpointGone, expectError, submit, resultOf, waitForJob } from '../helpers.js';
import { startMnistService } from '../fixtures/mnist-service.js';
import { ARCHITECTURES } from '../../src/ml/catalog.js';

const { svc, app, prepareDataset } = await startMnistService({ api: true, worker: true });

let datasetId = '';
before(async () => {
  datasetId = await prepareDataset();
});

describe('train', () => {
  for (const architecture of ARCHITECTURES) {
    it(`trains ${architecture}, records each epoch and registers the model`, async () => {
      const job = await submit(app, 'train', { datasetId, architecture, epochs: 2, batchSize: 32, seed: 3, subset: { train: 600 } });
      const done = await waitForJob(app, job.id, { timeoutMs: 300_000 });
      assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
      const result = resultOf(done, 'train');
      assert.equal(result.modelId, job.id);
      assert.equal(result.epochsRun, 2);
      assert.ok(['native', 'wasm', 'cpu', 'tensorflow'].includes(result.backend));
      assert.ok(result.trainSamplesPerSec > 0);

      const metrics = (await app.inject(`/v1/jobs/${job.id}/metrics`)).json().items;
      assert.deepEqual(metrics.map((m: any) => m.epoch), [1, 2]);
      for (const m of metrics) {
        assert.ok(Number.isFinite(m.loss) && Number.isFinite(m.valLoss) && m.valAccuracy >= 0 && m.valAccuracy <= 1);
      }

      const test = result.test!; // null only for a sweep trial stopped early
      assert.equal(test.count, 300);
      assert.equal(test.confusionMatrix.length, 10);
      assert.equal(test.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0), 300);
      assert.equal(test.perClass.length, 10);
      assert.equal(test.perClass.reduce((a: number, c: any) => a + c.support, 0), 300);
      const diag = test.confusionMatrix.reduce((a: number, row: number[], i: number) => a + row[i]!, 0);
      assert.equal(diag / 300, test.accuracy);
      if (architecture === 'mlp' || architecture === 'keras-cnn') assert.ok(test.accuracy > 0.5, `${architecture} learned nothing: ${test.accuracy}`);

      const model = (await app.inject(`/v1/models/${job.id}`)).json();
      assert.equal(model.architecture, architecture);
      assert.equal(model.datasetId, datasetId);
      assert.deepEqual(model.inputShape, [28, 28, 1]);
      assert.equal(model.lineage.jobId, job.id);
      assert.ok(model.sizeBytes > 0);
      const dir = path.join(svc.config.DATA_DIR, 'models', job.id);
      const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
      assert.equal(json.format, 'layers-model');
      assert.match(await readFile(path.join(dir, 'training-curve.svg'), 'utf8'), /<svg/);
    });
  }

  it('stops early when validation loss stops improving', async () => {
    // A rate this high makes validation loss jump about, so patience 1 ends the run well before 30 epochs.
    const job = await submit(app, 'train', {
      datasetId, architecture: 'mlp', epochs: 30, batchSize: 64, seed: 1, subset: { train: 300 },
      optimizer: { type: 'sgd', learningRate: 5 }, earlyStopping: { patience: 1, restoreBest: true },
    });
    const done = await waitForJob(app, job.id, { timeoutMs: 120_000 });
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const r = resultOf(done, 'train');
    assert.equal(r.stoppedEarly, true);
    assert.ok(r.epochsRun < 30);
    const metrics = (await app.inject(`/v1/jobs/${job.id}/metrics`)).json().items;
    assert.equal(metrics.length, r.epochsRun);
  });

  it('cancels a running training at a batch boundary and keeps its metrics', async () => {
    const job = await submit(app, 'train', { datasetId, architecture: 'mlp', epochs: 200, batchSize: 16, seed: 2 });
    await waitForJob(app, job.id, { until: (j) => (j.progress?.epoch ?? 0) >= 2 || j.status !== 'running' && j.status !== 'queued' });
    const res = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
    assert.equal(res.statusCode, 202);
    const done = await waitForJob(app, job.id, { timeoutMs: 30_000 });
    assert.equal(done.status, 'cancelled');
    const metrics = (await app.inject(`/v1/jobs/${job.id}/metrics`)).json().items;
    assert.ok(metrics.length >= 1 && metrics.length < 200);
    expectError(await app.inject(`/v1/models/${job.id}`), 404, 'MODEL_NOT_FOUND');
    assert.ok(await checkpointGone(svc.config, job.id), 'a cancelled run keeps no checkpoint');
  });
});
