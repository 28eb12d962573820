// Workers on many machines share only Postgres, Redis and the bucket: the API and each worker run
// with a DATA_DIR of their own, empty at start, and the artifacts travel through a real S3 server.
// One worker prepares a dataset, another trains on it; both are killed mid-training and a third, on an
// empty disk, resumes from the checkpoint in the bucket; the API, which never had the model on its
// disk, serves predictions with it and its files.
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { startService, submit, waitForJob } from '../helpers.js';
import { gzipAll, mnistSlice, startIdxServer, type IdxServer } from '../fixtures/idx-server.js';
import { startS3rver, type S3Server } from '../fixtures/s3rver.js';

let s3: S3Server;
let idx: IdxServer;
let api: Awaited<ReturnType<typeof startService>>;
let apiDir: string;
const dirs: string[] = [];
const children = new Set<ChildProcess>();

const emptyDir = async (name: string) => {
  const d = await mkdtemp(path.join(os.tmpdir(), `scaleout-${name}-`));
  dirs.push(d);
  return d;
};

/** A worker process on a disk of its own; resolves once it serves jobs. */
async function startWorker(name: string, types?: string): Promise<{ child: ChildProcess; dataDir: string; exited: Promise<unknown> }> {
  const dataDir = await emptyDir(name);
  const child = fork(new URL('../fixtures/store-worker.ts', import.meta.url), {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
    env: { ...process.env, ...s3.env, DATA_DIR: dataDir, ...(types ? { WORKER_TYPES: types } : {}) },
  });
  children.add(child);
  const exited = once(child, 'exit').finally(() => children.delete(child));
  await Promise.race([once(child, 'message'), exited.then(() => assert.fail(`worker ${name} exited at start`))]);
  return { child, dataDir, exited };
}

before(async () => {
  s3 = await startS3rver();
  Object.assign(process.env, s3.env); // the API's credentials, as the workers get theirs
  process.env.OUTBOUND_ALLOW_PRIVATE = 'true'; // the test's IDX server is on loopback
  idx = await startIdxServer({ small: gzipAll(await mnistSlice(3000, 300)) });
  apiDir = await emptyDir('api');
  api = await startService({ api: true, worker: false }, { ARTIFACT_STORE: 's3', S3_BUCKET: s3.bucket, S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: true, DATA_DIR: apiDir });
});
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await api?.close();
  await idx?.close();
  await s3?.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

it('prepares on one worker, trains on another, survives losing both, and serves from the bucket', async () => {
  // Worker A prepares datasets only; B takes the training.
  const a = await startWorker('a', 'dataset-prep');
  const prep = await submit(api.app, 'dataset-prep', { source: { url: idx.url('small') }, seed: 1 });
  assert.equal((await waitForJob(api.app, prep.id)).status, 'succeeded');
  const b = await startWorker('b', 'train');
  assert.deepEqual(await readdir(b.dataDir), [], 'B starts on an empty disk');

  const epochs = 6;
  const job = await submit(api.app, 'train', { datasetId: prep.id, architecture: 'mlp', epochs, batchSize: 16, seed: 4 });
  // Kill both once a checkpoint is in the bucket (its pointer is written after its files).
  const deadline = Date.now() + 120_000;
  while ((await api.artifacts.store.head(`checkpoints/${job.id}/current.json`)) === null) {
    assert.ok(Date.now() < deadline, 'no checkpoint reached the bucket');
    await new Promise((r) => setTimeout(r, 50));
  }
  a.child.kill('SIGKILL');
  b.child.kill('SIGKILL');
  await Promise.all([a.exited, b.exited]);
  assert.equal((await api.app.inject(`/v1/jobs/${job.id}`)).json().status, 'running', 'killed mid-training');
  assert.ok(existsSync(path.join(b.dataDir, 'cache')), 'B read the dataset through its cache');
  assert.ok(!existsSync(path.join(b.dataDir, 'datasets')), 'B never had the dataset as files of its own');

  // C: every job type, an empty disk.
  const c = await startWorker('c');
  const done = await waitForJob(api.app, job.id, { timeoutMs: 180_000 });
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  const result = done.result as { resumedFromEpoch: number; test: { accuracy: number } };
  assert.ok(result.resumedFromEpoch >= 1 && result.resumedFromEpoch < epochs, `resumed from ${result.resumedFromEpoch}`);
  const metrics = (await api.app.inject(`/v1/jobs/${job.id}/metrics`)).json().items;
  assert.deepEqual(metrics.map((m: { epoch: number }) => m.epoch), [1, 2, 3, 4, 5, 6], 'one metric row per epoch');
  assert.ok(result.test.accuracy > 0.7, `accuracy ${result.test.accuracy}`);
  // Deleted right after the terminal status is committed, so it may outlive that commit by a moment.
  const gone = Date.now() + 10_000;
  while ((await api.artifacts.store.list(`checkpoints/${job.id}/`)).length && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(await api.artifacts.store.list(`checkpoints/${job.id}/`), [], 'the checkpoint is gone once the run succeeded');

  // The API never had the model on disk: it predicts with it through its cache, and serves its files.
  assert.ok(!existsSync(path.join(apiDir, 'models')));
  const digits = await mnistSlice(0, 20);
  const images = digits['t10k-images-idx3-ubyte']!.subarray(16);
  const labels = digits['t10k-labels-idx1-ubyte']!.subarray(8);
  const inputs = Array.from({ length: 20 }, (_, i) => Array.from(images.subarray(i * 784, (i + 1) * 784), (v) => v / 255));
  const res = await api.app.inject({ method: 'POST', url: '/v1/predict', payload: { model: job.id, inputs } });
  assert.equal(res.statusCode, 200, res.body);
  const correct = res.json().predictions.filter((p: { class: number }, i: number) => p.class === labels[i]).length;
  assert.ok(correct >= 14, `${correct}/20 right`);
  assert.ok(!existsSync(path.join(apiDir, 'models')), 'loaded through the cache, not copied to models/');

  for (const [file, type] of [['model.json', 'application/json'], ['weights.bin', 'application/octet-stream'], ['training-curve.svg', 'image/svg+xml']] as const) {
    const r = await api.app.inject(`/v1/models/${job.id}/${file}`);
    assert.equal(r.statusCode, 200, `${file}: ${r.body}`);
    assert.match(String(r.headers['content-type']), new RegExp(type.replace('+', '\\+')));
    assert.match(String(r.headers['cache-control']), /immutable/);
    assert.match(String(r.headers.etag), /^"[0-9a-f]{64}"$/, 'the ETag is the content’s sha256');
    assert.equal(Number(r.headers['content-length']), r.rawPayload.length);
    const again = await api.app.inject({ url: `/v1/models/${job.id}/${file}`, headers: { 'if-none-match': String(r.headers.etag) } });
    assert.equal(again.statusCode, 304);
  }
  const preview = await api.app.inject(`/v1/datasets/${prep.id}/preview.png`);
  assert.equal(preview.statusCode, 200);
  assert.equal(preview.rawPayload.subarray(1, 4).toString(), 'PNG');
  c.child.kill('SIGTERM');
  await c.exited;
});
