// The s3 store against a real S3-compatible HTTP server (s3rver): the contract, multipart uploads,
// key prefixes, and the messages a bad bucket, bad credentials or an unreachable endpoint give.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/shared/config.js';
import type { AppError } from '../../src/shared/errors.js';
import { createLogger } from '../../src/shared/logger.js';
import { getBuffer, openArtifacts } from '../../src/storage/index.js';
import { S3Store, type S3StoreOptions } from '../../src/storage/s3-store.js';
import { startS3rver, type S3Server } from '../fixtures/s3rver.js';
import { storeContract } from './store-contract.js';

let s3: S3Server;
let store: S3Store;
const opts = (o: Partial<S3StoreOptions> = {}): S3StoreOptions => ({ bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', ...o });

before(async () => {
  s3 = await startS3rver();
  for (const [k, v] of Object.entries(s3.env)) if (k.startsWith('AWS_')) process.env[k] = v;
  store = new S3Store(opts({ prefix: 'contract' }));
});
after(async () => {
  await store.close();
  await s3.close();
});

describe('s3 store', () => {
  storeContract(() => store);

  it('uploads a body larger than a part as a multipart upload, and reads it back whole', async () => {
    const big = new S3Store(opts({ prefix: 'multipart/', partSize: 5 * 1024 * 1024 }));
    const data = Buffer.alloc(12 * 1024 * 1024 + 123);
    for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) % 251;
    const info = await big.put('weights.bin', data);
    assert.equal(info.size, data.length);
    const back = await getBuffer(big, 'weights.bin');
    assert.ok(back.equals(data));
    await big.close();
  });

  it('keeps every key under S3_PREFIX, which never shows in the keys it returns', async () => {
    const a = new S3Store(opts({ prefix: 'tenant-a' }));
    const b = new S3Store(opts({ prefix: 'tenant-b/' }));
    await a.put('models/m1/model.json', '{}');
    assert.deepEqual((await a.list('models/')).map((o) => o.key), ['models/m1/model.json']);
    assert.deepEqual(await b.list('models/'), []);
    const root = new S3Store(opts());
    assert.ok((await root.list('tenant-a/')).some((o) => o.key === 'tenant-a/models/m1/model.json'));
    await Promise.all([a.close(), b.close(), root.close()]);
  });

  it('a bucket that does not exist fails the check, naming the bucket', async () => {
    const bad = new S3Store(opts({ bucket: 'no-such-bucket' }));
    await assert.rejects(bad.check(), (e: AppError) => e.code === 'STORE_UNAVAILABLE' && /bucket "no-such-bucket" does not exist/.test(e.message));
    await bad.close();
  });

  it('refused credentials fail the check, saying which settings to look at', async () => {
    const saved = process.env.AWS_ACCESS_KEY_ID;
    process.env.AWS_ACCESS_KEY_ID = 'NOBODY';
    try {
      const bad = new S3Store(opts());
      await assert.rejects(bad.check(), (e: AppError) => e.code === 'STORE_UNAVAILABLE' && /denied.*AWS_ACCESS_KEY_ID/.test(e.message));
      await bad.close();
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved;
    }
  });

  it('an unreachable endpoint stops the start within the wait, saying it cannot be reached', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const config = loadConfig({ ...s3.env, S3_ENDPOINT: `http://127.0.0.1:${port}`, DATA_DIR: '/tmp/unused' });
    const t0 = Date.now();
    await assert.rejects(openArtifacts(config, createLogger('silent'), 1500), (e: AppError) => e.code === 'STORE_UNAVAILABLE' && /cannot reach the S3 endpoint \(ECONNREFUSED\)/.test(e.message));
    assert.ok(Date.now() - t0 < 10_000);
  });

  it('openArtifacts opens a good bucket', async () => {
    const config = loadConfig({ ...s3.env, DATA_DIR: '/tmp/unused' });
    const { store: s } = await openArtifacts(config, createLogger('silent'));
    assert.equal(s.kind, 's3');
    await s.close();
  });
});
