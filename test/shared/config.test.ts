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
