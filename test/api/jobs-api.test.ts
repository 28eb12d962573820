// The jobs API without workers: validation, idempotency, listing, cancel of queued jobs, and the
// contract. Jobs stay `queued` here, which is exactly what these tests need to see.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import YAML from 'yaml';
import { expectError, startService, submit } from '../helpers.js';

const svc = await startService({ api: true, worker: false });
const { app } = svc;
const created: string[] = [];

after(async () => {
  // Leave nothing queued for the workers of later test files.
  for (const id of created) await app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
  await svc.close();
});

const post = (payload: unknown) => app.inject({ method: 'POST', url: '/v1/jobs', payload: payload as object });

describe('POST /v1/jobs', () => {
  it('queues a dataset-prep job with defaults filled in', async () => {
    const job = await submit(app, 'dataset-prep', { source: 'mnist' });
    created.push(job.id);
    assert.equal(job.status, 'queued');
    assert.equal(job.type, 'dataset-prep');
    assert.deepEqual(job.params, { source: 'mnist', split: 'standard', valFraction: 0.1, normalize: 'zero-one', seed: 42 });
    assert.deepEqual(job.progress, { percent: 0 });
    const res = await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}` });
    assert.equal(res.json().id, job.id);
  });

  it('returns the same job for a repeated idempotency key, and refuses it for other params', async () => {
    const key = `k-${Date.now()}`;
    const first = await submit(app, 'dataset-prep', { source: 'mnist', seed: 7 }, { idempotencyKey: key });
    created.push(first.id);
    // Same params in another key order, defaults spelled out: still the same job.
    const again = await post({ idempotencyKey: key, params: { seed: 7, normalize: 'zero-one', source: 'mnist' }, type: 'dataset-prep' });
    assert.equal(again.statusCode, 202);
    assert.equal(again.json().id, first.id);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    const other = await post({ type: 'dataset-prep', params: { source: 'mnist', seed: 8 }, idempotencyKey: key });
    expectError(other, 409, 'IDEMPOTENCY_KEY_REUSED');
    const racing = await Promise.all([1, 2, 3].map(() => post({ type: 'dataset-prep', params: { source: 'mnist', seed: 9 }, idempotencyKey: `${key}-race` })));
    assert.deepEqual(racing.map((r) => r.statusCode), [202, 202, 202]);
    assert.equal(new Set(racing.map((r) => r.json().id)).size, 1);
    created.push(racing[0]!.json().id);
  });

  it('answers bad input with a 4xx and a stable code', async () => {
    const malformed = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'application/json' }, payload: '{"type": "train",' });
    expectError(malformed, 400, 'MALFORMED_JSON');
    expectError(await post({ type: 'sharpen', params: {} }), 400, 'UNKNOWN_JOB_TYPE');
    expectError(await post({ type: 'dataset-prep', params: { source: 'mnist', split: { train: 0.5, val: 0.2, test: 0.2 } } }), 400, 'INVALID_SPLIT');
    expectError(await post({ type: 'dataset-prep', params: { source: 'mnist', split: { train: 0.9, val: -0.1, test: 0.2 } } }), 400, 'VALIDATION_FAILED');
    expectError(await post({ type: 'dataset-prep', params: { source: 'cifar-10' } }), 400, 'VALIDATION_FAILED');
    expectError(await post({ type: 'dataset-prep', params: { source: { url: 'ftp://example.org/x' } } }), 400, 'VALIDATION_FAILED');
    expectError(await post({ type: 'dataset-prep', params: { source: 'mnist', augment: { copies: 1, flip: true } } }), 400, 'AUGMENT_FLIP_UNSUPPORTED');
    expectError(await post({ type: 'dataset-prep', params: { source: 'mnist', colour: 'red' } }), 400, 'VALIDATION_FAILED');
    expectError(await post({ type: 'train', params: { datasetId: 'not-a-uuid' } }), 400, 'VALIDATION_FAILED');
    expectError(await post({ type: 'train', params: { datasetId: crypto.randomUUID(), epochs: 0 } }), 400, 'VALIDATION_FAILED');
    expectError(await post({ type: 'train', params: { datasetId: crypto.randomUUID() } }), 404, 'DATASET_NOT_FOUND');
    expectError(await post({ type: 'predict', params: { model: 'latest', dataset: { datasetId: crypto.randomUUID() } } }), 404, 'MODEL_NOT_FOUND');
    const text = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'text/plain' }, payload: 'hi' });
    expectError(text, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a `{url}` source on a host outside DOWNLOAD_ALLOWED_HOSTS, before queueing it', async () => {
    const strict = await startService({ api: true, worker: false }, { DOWNLOAD_ALLOWED_HOSTS: 'datasets.example.org, *.mirror.example' });
    try {
      const listed = async () => {
        const res = await strict.app.inject('/v1/jobs?type=dataset-prep&limit=100');
        assert.equal(res.statusCode, 200, res.body);
        return res.json().items.length;
      };
      const before = await listed();
      for (const url of ['http://127.0.0.1:9/mnist/', 'https://example.org/mnist/', 'https://mirror.example.evil/x/']) {
        const res = await strict.app.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'dataset-prep', params: { source: { url } } } });
        expectError(res, 400, 'URL_HOST_NOT_ALLOWED');
      }
      assert.equal(await listed(), before, 'no job was created');
    } finally {
      await strict.close();
    }
  });

  it('refuses to train on a dataset that is still being prepared', async () => {
    const prep = await submit(app, 'dataset-prep', { source: 'mnist', seed: 11 });
    created.push(prep.id);
    expectError(await post({ type: 'train', params: { datasetId: prep.id } }), 409, 'DATASET_NOT_READY');
  });
});

describe('GET /v1/jobs', () => {
  it('lists newest first, filters, and pages with a cursor', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) {
      const job = await submit(app, 'dataset-prep', { source: 'mnist', seed: 100 + i });
      ids.push(job.id);
      created.push(job.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { statusCode: number; body: string; json(): any } = await app.inject({ method: "GET", url: `/v1/jobs?type=dataset-prep&status=queued&limit=2${cursor ? `&cursor=${cursor}` : ''}` });
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json();
      assert.ok(page.items.length <= 2);
      for (const j of page.items) {
        assert.equal(j.type, 'dataset-prep');
        assert.equal(j.status, 'queued');
      }
      seen.push(...page.items.map((j: { id: string }) => j.id));
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(seen.slice(0, 5), [...ids].reverse(), 'newest first');
    assert.equal(new Set(seen).size, seen.length, 'no job twice across pages');
    expectError(await app.inject({ method: 'GET', url: '/v1/jobs?status=exploded' }), 400, 'VALIDATION_FAILED');
    expectError(await app.inject({ method: 'GET', url: '/v1/jobs?cursor=garbage' }), 400, 'INVALID_CURSOR');
    expectError(await app.inject({ method: 'GET', url: `/v1/jobs/${crypto.randomUUID()}` }), 404, 'JOB_NOT_FOUND');
  });
});

describe('POST /v1/jobs/:id/cancel', () => {
  it('cancels a queued job at once and removes it from the queue', async () => {
    const job = await submit(app, 'dataset-prep', { source: 'mnist', seed: 99 });
    const res = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.json().status, 'cancelled');
    assert.ok(res.json().finishedAt);
    assert.equal(await svc.queues['dataset-prep'].getJob(job.id), undefined);
    const again = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
    assert.equal(again.json().status, 'cancelled');
    expectError(await app.inject({ method: 'POST', url: `/v1/jobs/${crypto.randomUUID()}/cancel` }), 404, 'JOB_NOT_FOUND');
  });
});

describe('service endpoints', () => {
  it('reports health and readiness of Postgres and Redis', async () => {
    assert.deepEqual((await app.inject('/health')).json(), { status: 'ok' });
    const ready = await app.inject('/ready');
    assert.equal(ready.statusCode, 200, ready.body);
    assert.equal(ready.json().checks.postgres.ok, true);
    assert.equal(ready.json().checks.redis.ok, true);
    assert.ok(['native', 'wasm', 'cpu', 'tensorflow'].includes(ready.json().backend));
  });

  it('serves the contract committed in openapi.yaml, and its docs', async () => {
    const served = (await app.inject('/openapi.json')).json();
    const committed = YAML.parse(await readFile(new URL('../../openapi.yaml', import.meta.url), 'utf8'));
    assert.deepEqual(served, committed, 'openapi.yaml is stale: run npm run openapi');
    for (const path of ['/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/cancel', '/v1/jobs/{id}/metrics', '/v1/jobs/{id}/events', '/v1/datasets', '/v1/datasets/{id}', '/v1/models', '/v1/models/{id}', '/v1/predict', '/predict', '/health', '/ready']) {
      assert.ok(served.paths[path], `contract lacks ${path}`);
    }
    // A client generator needs one stable id per operation and the shape of every job's result.
    const operations = Object.values(served.paths as Record<string, Record<string, { operationId?: string; tags?: string[] }>>).flatMap((p) => Object.values(p));
    const ids = operations.map((o) => o.operationId);
    assert.ok(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id)), `operationIds: ${ids}`);
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    assert.ok(operations.every((o) => o.tags?.length), 'every operation has a tag');
    assert.ok(served.servers?.length, 'servers are declared');
    const job = served.components.schemas.Job;
    assert.equal(job.discriminator.propertyName, 'type');
    const resultOf = (type: string) => job.anyOf.find((b: any) => (b.properties.type.const ?? b.properties.type.enum[0]) === type).properties.result.anyOf[0];
    assert.ok(resultOf('train').properties.modelId && resultOf('train').properties.test.anyOf[0].properties.confusionMatrix);
    assert.ok(resultOf('dataset-prep').properties.datasetId && resultOf('dataset-prep').properties.counts);
    const optimizerOf = (type: string) => job.anyOf.find((b: any) => (b.properties.type.const ?? b.properties.type.enum[0]) === type).properties.params.properties.optimizer;
    assert.deepEqual(optimizerOf('fine-tune').anyOf, optimizerOf('train').anyOf); // the same shape and, measured, the same default rate
    assert.ok(served.paths['/v1/models/aliases/{alias}'].get, 'GET /v1/models/aliases/{alias}');
    const docs = await app.inject('/docs/');
    assert.equal(docs.statusCode, 200);
    assert.match(docs.body, /swagger/i);
  });

  it('answers unknown routes with a JSON 404', async () => {
    expectError(await app.inject('/v2/nothing'), 404, 'ROUTE_NOT_FOUND');
  });
});
