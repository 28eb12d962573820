import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/shared/config.js';

it('has defaults that work on this machine', () => {
  const c = loadConfig({});
  assert.equal(c.DATABASE_URL, 'postgresql://postgres@127.0.0.1:5432/mnist_jobs');
  assert.equal(c.REDIS_URL, 'redis://127.0.0.1:6379');
  assert.equal(c.PORT, 3000);
  assert.ok(c.DATA_DIR.endsWith('/data'));
});

it('converts and validates values, naming every bad one', () => {
  assert.equal(loadConfig({ PORT: '8080', WORKER_CONCURRENCY: '2' }).PORT, 8080);
  assert.throws(
    () => loadConfig({ PORT: 'eighty', REDIS_URL: 'localhost:6379', LOG_LEVEL: 'loud' }),
    (err: Error) => err instanceof ConfigError && /PORT/.test(err.message) && /REDIS_URL/.test(err.message) && /LOG_LEVEL/.test(err.message),
  );
});

it('defaults to the fs artifact store; s3 needs a bucket, and bad S3 settings are named', () => {
  const c = loadConfig({});
  assert.equal(c.ARTIFACT_STORE, 'fs');
  assert.equal(c.S3_FORCE_PATH_STYLE, false);
  assert.ok(c.ARTIFACT_CACHE_MAX_BYTES > 0);
  assert.throws(() => loadConfig({ ARTIFACT_STORE: 's3' }), (err: Error) => err instanceof ConfigError && /S3_BUCKET/.test(err.message));
  assert.throws(
    () => loadConfig({ ARTIFACT_STORE: 'gcs', S3_ENDPOINT: 'minio:9000', ARTIFACT_CACHE_MAX_BYTES: '-1' }),
    (err: Error) => /ARTIFACT_STORE/.test(err.message) && /S3_ENDPOINT/.test(err.message) && /ARTIFACT_CACHE_MAX_BYTES/.test(err.message),
  );
  const s3 = loadConfig({ ARTIFACT_STORE: 's3', S3_BUCKET: 'my-bucket', S3_FORCE_PATH_STYLE: 'true', S3_ENDPOINT: 'http://minio:9000' });
  assert.equal(s3.S3_FORCE_PATH_STYLE, true);
});
