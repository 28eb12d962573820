// GET /metrics: the named series, with their labels, move when a job runs and a prediction is made;
// labels stay bounded (route templates, not URLs; aliases, not model ids).
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { startService, submit, waitForJob } from '../helpers.js';
import { gzipAll, mnistSlice, startIdxServer } from '../fixtures/idx-server.js';
import { labelSets, seriesValue } from '../prom.js';

const svc = await startService({ api: true, worker: true }, { OUTBOUND_ALLOW_PRIVATE: true });
const { app } = svc;
const server = await startIdxServer({ small: gzipAll(await mnistSlice(600, 100)) });
after(async () => {
  await server.close();
  await svc.close();
});

const scrape = async () => {
  const res = await app.inject('/metrics');
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /^text\/plain/);
  return res.body;
};

it('counts jobs, training, predictions and requests, with bounded labels', async () => {
  const before = await scrape();
  for (const name of ['process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
    assert.notEqual(seriesValue(before, name), undefined, `${name} is exported`);
  }
  const prep = await submit(app, 'dataset-prep', { source: { url: server.url('small') }, seed: 1 });
  assert.equal((await waitForJob(app, prep.id)).status, 'succeeded');
  const job = await submit(app, 'train', { datasetId: prep.id, architecture: 'mlp', epochs: 2, batchSize: 64, seed: 1 });
  assert.equal((await waitForJob(app, job.id)).status, 'succeeded');
  const digit = Array.from({ length: 784 }, (_, i) => (i % 7) / 7);
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: 'latest', inputs: [digit, digit] } });
    assert.equal(res.statusCode, 200, res.body);
  }
  const res = await app.inject({ method: 'POST', url: '/v1/predict', payload: { model: job.id, inputs: [digit] } });
  assert.equal(res.statusCode, 200, res.body);
  await app.inject('/v1/jobs/00000000-0000-4000-8000-000000000000');

  const text = await scrape();
  assert.equal(seriesValue(text, 'mnist_jobs_jobs_total', { type: 'dataset-prep', status: 'succeeded' }), 1);
  assert.equal(seriesValue(text, 'mnist_jobs_jobs_total', { type: 'train', status: 'succeeded' }), 1);
  assert.equal(seriesValue(text, 'mnist_jobs_job_duration_seconds_count', { type: 'train', status: 'succeeded' }), 1);
  assert.ok(seriesValue(text, 'mnist_jobs_job_duration_seconds_sum', { type: 'train', status: 'succeeded' })! > 0);
  assert.equal(seriesValue(text, 'mnist_jobs_job_wait_seconds_count', { type: 'train' }), 1);
  assert.equal(seriesValue(text, 'mnist_jobs_training_epochs_total', { type: 'train' }), 2);
  assert.ok(seriesValue(text, 'mnist_jobs_training_samples_total', { type: 'train' })! >= 2 * 500);
  // The gauge is what BullMQ holds (the run's other test files share the queue, so not always 0).
  const counts = await svc.queues.train.getJobCounts('waiting', 'active', 'delayed', 'failed');
  for (const state of ['waiting', 'active', 'delayed', 'failed'] as const) {
    assert.equal(seriesValue(text, 'mnist_jobs_queue_depth', { type: 'train', state }), counts[state], `train ${state}`);
  }
  assert.equal(seriesValue(text, 'mnist_jobs_predict_images_total', { model: 'latest' }), 6);
  assert.equal(seriesValue(text, 'mnist_jobs_predict_images_total', { model: 'id' }), 1, 'a model named by id is counted as `id`, not by its id');
  assert.ok(seriesValue(text, 'mnist_jobs_predict_batch_size_sum')! >= 7);
  assert.ok(seriesValue(text, 'mnist_jobs_predict_compute_seconds_count')! >= 4);
  assert.ok(seriesValue(text, 'mnist_jobs_predict_queue_seconds_count')! >= 4);
  // The first prediction loaded the model (unless the preload had), the later ones found it loaded.
  assert.equal(seriesValue(text, 'mnist_jobs_model_cache_hits_total')! + seriesValue(text, 'mnist_jobs_model_cache_misses_total')!, 4);
  assert.ok(seriesValue(text, 'mnist_jobs_model_cache_hits_total')! >= 3);

  assert.equal(seriesValue(text, 'mnist_jobs_http_request_duration_seconds_count', { method: 'POST', route: '/v1/predict', status_code: '200' }), 4);
  assert.equal(seriesValue(text, 'mnist_jobs_http_request_duration_seconds_count', { method: 'GET', route: '/v1/jobs/:id', status_code: '404' }), 1);
  const routes = new Set(labelSets(text, 'mnist_jobs_http_request_duration_seconds_count').map((l) => l.route));
  for (const r of routes) assert.ok(!/[0-9a-f]{8}-[0-9a-f]{4}/.test(r!), `route label ${r} holds an id`);
});

it('echoes a well-formed x-request-id and replaces a malformed one', async () => {
  const given = await app.inject({ url: '/health', headers: { 'x-request-id': 'client-abc.123' } });
  assert.equal(given.headers['x-request-id'], 'client-abc.123');
  const bad = await app.inject({ url: '/health', headers: { 'x-request-id': 'has spaces and\ttabs' } });
  assert.match(bad.headers['x-request-id'] as string, /^[0-9a-f-]{36}$/);
  const none = await app.inject({ url: '/v1/nope' });
  assert.equal(none.statusCode, 404);
  assert.match(none.headers['x-request-id'] as string, /^[0-9a-f-]{36}$/);
});

it('serves the queue UI at /admin/queues over every queue', async () => {
  const page = await app.inject('/admin/queues');
  assert.equal(page.statusCode, 200);
  assert.match(page.headers['content-type'] as string, /text\/html/);
  const api = await app.inject('/admin/queues/api/queues?activeQueue=jobs-train&page=1&jobsPerPage=10');
  assert.equal(api.statusCode, 200, api.body);
  const names = (api.json().queues as { name: string }[]).map((q) => q.name).sort();
  assert.deepEqual(names, ['jobs-dataset-prep', 'jobs-fine-tune', 'jobs-predict', 'jobs-sweep', 'jobs-train', 'webhooks']);
});
