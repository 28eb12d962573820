// The local artifact cache over a real S3 server: a second read downloads nothing, the bound holds
// with the least recently used evicted, views survive eviction, and corruption is caught.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { AppError } from '../../src/shared/errors.js';
import { ArtifactCache } from '../../src/storage/cache.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { startS3rver, type S3Server } from '../fixtures/s3rver.js';

let s3: S3Server;
let store: S3Store;
let dataDir: string;
const KB = 1024;

before(async () => {
  s3 = await startS3rver();
  for (const [k, v] of Object.entries(s3.env)) if (k.startsWith('AWS_')) process.env[k] = v;
  store = new S3Store({ bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, prefix: 'cache-test' });
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'cache-'));
});
after(async () => {
  await store.close();
  await s3.close();
  await rm(dataDir, { recursive: true, force: true });
});

const fresh = async (maxBytes: number) => new ArtifactCache(store, await mkdtemp(path.join(dataDir, 'p-')), maxBytes);

describe('artifact cache', () => {
  it('materializes a prefix as a directory; the second time downloads nothing', async () => {
    await store.put('datasets/d1/train.bin', Buffer.alloc(40 * KB, 1));
    await store.put('datasets/d1/manifest.json', '{"ok":true}');
    await store.put('datasets/d1/sub/x.txt', 'x');
    const cache = await fresh(10 * 1024 * KB);
    const v1 = await cache.materialize('datasets/d1/');
    assert.deepEqual((await readdir(v1.dir)).sort(), ['manifest.json', 'sub', 'train.bin']);
    assert.equal(await readFile(path.join(v1.dir, 'manifest.json'), 'utf8'), '{"ok":true}');
    assert.equal(await readFile(path.join(v1.dir, 'sub/x.txt'), 'utf8'), 'x');
    assert.equal(cache.stats.misses, 3);
    const downloaded = cache.stats.downloadedBytes;
    assert.equal(downloaded, 40 * KB + 11 + 1);
    await v1.release();
    await assert.rejects(stat(v1.dir));
    const v2 = await cache.materialize('datasets/d1/');
    assert.equal(cache.stats.hits, 3);
    assert.equal(cache.stats.downloadedBytes, downloaded, 'nothing downloaded the second time');
    assert.equal((await readFile(path.join(v2.dir, 'train.bin'))).length, 40 * KB);
    await v2.release();
  });

  it('keeps identical content once, whatever its keys', async () => {
    await store.put('a/one', 'same bytes');
    await store.put('b/two', 'same bytes');
    const cache = await fresh(1024 * KB);
    await cache.fetchTo('a/one', path.join(dataDir, 'o1'));
    await cache.fetchTo('b/two', path.join(dataDir, 'o2'));
    assert.equal(cache.stats.misses, 1);
    assert.equal(cache.stats.entries, 1);
  });

  it('stays within its bound, evicting the least recently used; a view outlives the eviction of its files', async () => {
    const cache = await fresh(100 * KB);
    for (const n of [1, 2, 3]) await store.put(`lru/${n}`, Buffer.alloc(40 * KB, n));
    const keep = path.join(dataDir, 'view-of-1');
    await cache.fetchTo('lru/1', keep);
    await cache.fetchTo('lru/2', path.join(dataDir, 'v2'));
    await cache.fetchTo('lru/1', path.join(dataDir, 'v1b')); // 1 is now more recent than 2
    await cache.fetchTo('lru/3', path.join(dataDir, 'v3')); // over the bound: 2 goes
    assert.equal(cache.stats.evictions, 1);
    assert.ok(cache.stats.bytes <= 100 * KB);
    const misses = cache.stats.misses;
    await cache.fetchTo('lru/1', path.join(dataDir, 'v1c'));
    assert.equal(cache.stats.misses, misses, '1 was kept');
    await cache.fetchTo('lru/2', path.join(dataDir, 'v2b'));
    assert.equal(cache.stats.misses, misses + 1, '2 was evicted');
    // Everything evicted by a zero-byte cache: the linked copy is still whole.
    const tiny = await fresh(0);
    const dest = path.join(dataDir, 'tiny');
    await tiny.fetchTo('lru/3', dest);
    assert.equal(tiny.stats.bytes, 0);
    assert.equal((await readFile(dest)).length, 40 * KB);
    assert.equal((await readFile(keep))[0], 1);
  });

  it('a new process finds what an earlier one cached, and its LRU order', async () => {
    const dir = await mkdtemp(path.join(dataDir, 'restart-'));
    await store.put('restart/x', Buffer.alloc(10 * KB, 9));
    const first = new ArtifactCache(store, dir, 1024 * KB);
    await first.fetchTo('restart/x', path.join(dir, 'out1'));
    const second = new ArtifactCache(store, dir, 1024 * KB);
    await second.fetchTo('restart/x', path.join(dir, 'out2'));
    assert.equal(second.stats.misses, 0);
    assert.equal(second.stats.hits, 1);
    assert.equal(second.stats.bytes, 10 * KB);
  });

  it('one download however many readers ask at once', async () => {
    await store.put('burst/x', Buffer.alloc(200 * KB, 5));
    const cache = await fresh(1024 * KB);
    await Promise.all(Array.from({ length: 5 }, (_, i) => cache.fetchTo('burst/x', path.join(dataDir, `burst-${i}`))));
    assert.equal(cache.stats.misses, 1);
    assert.equal(cache.stats.downloadedBytes, 200 * KB);
  });

  it('an object whose bytes do not match its recorded sha256 is refused, not cached', async () => {
    // Written by hand with a wrong hash, as a corrupted or tampered object would look.
    await store.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'cache-test/bad/x', Body: 'actual', Metadata: { sha256: 'f'.repeat(64) } }));
    const cache = await fresh(1024 * KB);
    await assert.rejects(cache.fetchTo('bad/x', path.join(dataDir, 'bad')), (e: AppError) => e.code === 'STORE_UNAVAILABLE' && /corrupted/.test(e.message));
    assert.equal(cache.stats.entries, 0);
  });

  it('a missing object or prefix is FILE_NOT_FOUND', async () => {
    const cache = await fresh(1024 * KB);
    await assert.rejects(cache.fetchTo('nothing/here', path.join(dataDir, 'n')), (e: AppError) => e.code === 'FILE_NOT_FOUND');
    await assert.rejects(cache.materialize('nothing/'), (e: AppError) => e.code === 'FILE_NOT_FOUND');
  });

  it('with the fs store, a view is the store directory itself: nothing is copied', async () => {
    const root = await mkdtemp(path.join(dataDir, 'fs-'));
    const fs = new FsStore(root);
    await fs.put('models/m/model.json', '{}');
    const cache = new ArtifactCache(fs, root, 1024);
    const view = await cache.materialize('models/m/');
    assert.equal(view.dir, path.join(root, 'models/m'));
    await view.release();
    assert.equal(await readFile(path.join(root, 'models/m/model.json'), 'utf8'), '{}');
  });
});
