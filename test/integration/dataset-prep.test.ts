// dataset-prep end to end: HTTP → Postgres row → BullMQ → worker → files on disk → Dataset row.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { expectError, startService, submit, resultOf, waitForJob } from '../helpers.js';
import { gzipAll, mnistSlice, startIdxServer } from '../fixtures/idx-server.js';

// The IDX server is on loopback: lift the private-network rule explicitly.
const svc = await startService({ api: true, worker: true }, { OUTBOUND_ALLOW_PRIVATE: true });
const { app } = svc;
const slice = await mnistSlice(2000, 500);
const good = gzipAll(slice);
const truncated = { ...good, 'train-images-idx3-ubyte.gz': good['train-images-idx3-ubyte.gz']!.subarray(0, 5000) };
const badMagic = { ...slice, 't10k-labels-idx1-ubyte': Buffer.from(slice['t10k-labels-idx1-ubyte']!) };
badMagic['t10k-labels-idx1-ubyte']!.writeUInt32BE(0xdeadbeef, 0);
const server = await startIdxServer({ good, truncated, badmagic: gzipAll(badMagic) });
after(async () => {
  await server.close();
  await svc.close();
});

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

describe('dataset-prep of MNIST, split standard', () => {
  let first: any;

  it('succeeds with the documented counts and statistics', async () => {
    const job = await submit(app, 'dataset-prep', { source: 'mnist', split: 'standard', seed: 1, name: 'mnist-std' });
    const done = await waitForJob(app, job.id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    first = done.result;
    assert.equal(first.datasetId, job.id);
    assert.deepEqual(first.counts, { train: 54000, val: 6000, test: 10000 });
    assert.deepEqual(first.classCounts.test, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    assert.ok(Math.abs(first.pixelMean - 0.1307) < 0.002, `mean ${first.pixelMean}`);
    assert.ok(Math.abs(first.pixelStd - 0.3081) < 0.002, `std ${first.pixelStd}`);
    assert.equal(done.progress?.percent, 100);
    expectError(await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` }), 409, 'JOB_NOT_CANCELLABLE');

    const res = await app.inject(`/v1/datasets/${job.id}`);
    assert.equal(res.statusCode, 200, res.body);
    const dataset = res.json();
    assert.equal(dataset.name, 'mnist-std');
    assert.deepEqual(dataset.counts, first.counts);
    const dir = path.join(svc.config.DATA_DIR, 'datasets', job.id);
    for (const f of dataset.manifest.files) assert.equal(await sha256(path.join(dir, f.name)), f.sha256, f.name);
    const png = await app.inject(`/v1/datasets/${job.id}/preview.png`);
    assert.equal(png.headers['content-type'], 'image/png');
    assert.deepEqual(png.rawPayload.subarray(1, 4).toString(), 'PNG');
  });

  it('gives identical files for the same seed', async () => {
    const job = await submit(app, 'dataset-prep', { source: 'mnist', split: 'standard', seed: 1, name: 'mnist-std' });
    const done = await waitForJob(app, job.id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const again = resultOf(done, 'dataset-prep');
    assert.deepEqual(again.files, first.files);
    const manifests = await Promise.all(
      [first.datasetId, again.datasetId].map((id: string) => readFile(path.join(svc.config.DATA_DIR, 'datasets', id, 'manifest.json'))),
    );
    assert.ok(manifests[0]!.equals(manifests[1]!), 'manifest.json differs between runs');
    const list = (await app.inject('/v1/datasets?limit=1')).json();
    assert.equal(list.items[0].id, again.datasetId, 'newest first');
  });
});

describe('dataset-prep from a URL', () => {
  it('downloads, checks sha256 and splits by ratios', async () => {
    const sha = createHash('sha256').update(good['train-labels-idx1-ubyte.gz']!).digest('hex');
    const job = await submit(app, 'dataset-prep', {
      source: { url: server.url('good'), sha256: { trainLabels: sha } },
      split: { train: 0.8, val: 0.1, test: 0.1 },
      normalize: 'standardize',
      augment: { copies: 1, rotationDeg: 10, shiftPx: 2 },
      seed: 3,
    });
    const done = await waitForJob(app, job.id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const r = resultOf(done, 'dataset-prep');
    assert.equal(r.counts.train + r.counts.val + r.counts.test, 2500 + 2000, 'pooled 2500, plus one augmented copy of each train image');
    assert.equal(r.counts.val, 250);
    assert.equal(r.counts.test, 250);
  });

  it('fails a checksum mismatch, a truncated gzip and a wrong magic number with their codes', async () => {
    const cases: [unknown, string[]][] = [
      [{ url: server.url('good'), sha256: { testImages: '0'.repeat(64) } }, ['CHECKSUM_MISMATCH']],
      [{ url: server.url('truncated') }, ['GZIP_CORRUPT', 'IDX_TRUNCATED']],
      [{ url: server.url('badmagic') }, ['IDX_BAD_MAGIC']],
      [{ url: server.url('missing') }, ['DOWNLOAD_FAILED']],
    ];
    const jobs = await Promise.all(cases.map(([source]) => submit(app, 'dataset-prep', { source })));
    for (const [i, job] of jobs.entries()) {
      const done = await waitForJob(app, job.id);
      assert.equal(done.status, 'failed');
      assert.ok(cases[i]![1].includes(done.error!.code), `${JSON.stringify(cases[i]![0])}: got ${done.error!.code}`);
      assert.ok(done.error!.message.length > 0);
      expectError(await app.inject(`/v1/datasets/${job.id}`), 404, 'DATASET_NOT_FOUND');
    }
  });
});

describe('events and cancel', () => {
  it('streams progress and the final status as server-sent events', async () => {
    const job = await submit(app, 'dataset-prep', { source: { url: server.url('good') }, seed: 5 });
    const res = await app.inject(`/v1/jobs/${job.id}/events`);
    assert.equal(res.headers['content-type'], 'text/event-stream');
    const events = res.body.split('\n\n').filter(Boolean).map((block) => /^event: (.*)$/m.exec(block)?.[1]).filter(Boolean);
    assert.ok(events.includes('status'));
    assert.equal(events.at(-1), 'end');
    assert.match(res.body, /"status":"succeeded"/);
  });

  it('cancels a running preparation', async () => {
    const job = await submit(app, 'dataset-prep', { source: 'mnist', augment: { copies: 4, rotationDeg: 15 }, seed: 9 });
    await waitForJob(app, job.id, { until: (j) => j.status === 'running' || j.status === 'succeeded' });
    const res = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
    assert.equal(res.statusCode, 202, res.body);
    const done = await waitForJob(app, job.id);
    assert.equal(done.status, 'cancelled');
    expectError(await app.inject(`/v1/datasets/${job.id}`), 404, 'DATASET_NOT_FOUND');
  });
});
