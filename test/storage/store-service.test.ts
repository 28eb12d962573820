// The service on an s3 store: it will not start on a bad bucket, and /ready reports the store.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { AppError } from '../../src/shared/errors.js';
import { startService } from '../helpers.js';
import { startS3rver, type S3Server } from '../fixtures/s3rver.js';

let s3: S3Server;
before(async () => {
  s3 = await startS3rver();
  for (const [k, v] of Object.entries(s3.env)) if (k.startsWith('AWS_')) process.env[k] = v;
});
after(() => s3.close().catch(() => {}));

const s3Config = () => ({ ARTIFACT_STORE: 's3' as const, S3_BUCKET: s3.bucket, S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: true });

it('does not start on a bucket that does not exist, and says so', async () => {
  await assert.rejects(
    startService({ api: true, storeWaitMs: 1000 }, { ...s3Config(), S3_BUCKET: 'not-there' }),
    (e: AppError) => e.code === 'STORE_UNAVAILABLE' && /bucket "not-there" does not exist/.test(e.message),
  );
});

it('/ready checks the store: 200 while the bucket answers, 503 with the reason once it does not', async () => {
  const service = await startService({ api: true }, s3Config());
  try {
    const ok = await service.app.inject('/ready');
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().checks.store.ok, true);
    await s3.close();
    const down = await service.app.inject('/ready');
    assert.equal(down.statusCode, 503, down.body);
    assert.equal(down.json().status, 'unavailable');
    assert.equal(down.json().checks.store.ok, false);
    assert.match(down.json().checks.store.error, /cannot reach the S3 endpoint|did not answer|timed out/);
  } finally {
    await service.close();
  }
});

it('serves artifact files from the fs store with an ETag, Cache-Control: immutable, and 304 on a match', async () => {
  const { gzipAll, mnistSlice, startIdxServer } = await import('../fixtures/idx-server.js');
  const { submit, waitForJob } = await import('../helpers.js');
  const idx = await startIdxServer({ small: gzipAll(await mnistSlice(500, 100)) });
  const service = await startService({ api: true, worker: true }, { OUTBOUND_ALLOW_PRIVATE: true });
  try {
    const prep = await submit(service.app, 'dataset-prep', { source: { url: idx.url('small') }, seed: 1 });
    assert.equal((await waitForJob(service.app, prep.id)).status, 'succeeded');
    const url = `/v1/datasets/${prep.id}/preview.png`;
    const first = await service.app.inject(url);
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers['content-type'], 'image/png');
    assert.match(String(first.headers['cache-control']), /max-age=31536000, immutable/);
    const etag = String(first.headers.etag);
    assert.match(etag, /^".+"$/);
    const again = await service.app.inject({ url, headers: { 'if-none-match': etag } });
    assert.equal(again.statusCode, 304);
    assert.equal(again.rawPayload.length, 0);
    assert.equal((await service.app.inject({ url, headers: { 'if-none-match': '"other"' } })).statusCode, 200);
  } finally {
    await service.close();
    await idx.close();
  }
});
