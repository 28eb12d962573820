// Multi-file artifacts over both stores: a directory up and back, and generations (checkpoints)
// replaced as a whole, with a crash mid-save leaving the previous one readable.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ArtifactCache } from '../../src/storage/cache.js';
import { openGeneration, POINTER, putDir, saveGeneration } from '../../src/storage/dirs.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import type { ArtifactStore } from '../../src/storage/store.js';
import { startS3rver, type S3Server } from '../fixtures/s3rver.js';

let s3: S3Server;
let tmp: string;
before(async () => {
  s3 = await startS3rver();
  for (const [k, v] of Object.entries(s3.env)) if (k.startsWith('AWS_')) process.env[k] = v;
  tmp = await mkdtemp(path.join(os.tmpdir(), 'dirs-'));
});
after(async () => {
  await s3.close();
  await rm(tmp, { recursive: true, force: true });
});

async function localDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmp, 'src-'));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

for (const kind of ['fs', 's3'] as const) {
  describe(`${kind}: directories and generations`, () => {
    let store: ArtifactStore;
    let cache: ArtifactCache;
    before(async () => {
      const dataDir = await mkdtemp(path.join(tmp, `${kind}-`));
      store = kind === 'fs' ? new FsStore(dataDir) : new S3Store({ bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, prefix: 'dirs' });
      cache = new ArtifactCache(store, dataDir, 1 << 20);
    });

    it('putDir uploads a directory, its commit file last, and materialize brings it back', async () => {
      const dir = await localDir({ 'manifest.json': '{"m":1}', 'a.bin': 'AAA', 'sub/b.txt': 'B' });
      const infos = await putDir(store, dir, 'datasets/d1/', { last: 'manifest.json' });
      assert.equal(infos.at(-1)?.key, 'datasets/d1/manifest.json');
      const view = await cache.materialize('datasets/d1/');
      assert.equal(await readFile(path.join(view.dir, 'sub/b.txt'), 'utf8'), 'B');
      assert.equal(await readFile(path.join(view.dir, 'manifest.json'), 'utf8'), '{"m":1}');
      await view.release();
    });

    it('a generation replaces the previous one whole, and a crash mid-save leaves the previous one', async () => {
      assert.equal(await openGeneration(store, cache, 'checkpoints/j1/'), null);
      await saveGeneration(store, 'checkpoints/j1/', await localDir({ 'state.json': '{"epoch":1}', 'w.bin': 'one' }));
      await saveGeneration(store, 'checkpoints/j1/', await localDir({ 'state.json': '{"epoch":2}', 'w.bin': 'two' }));
      // A save that crashed after some files, before the pointer moved:
      await store.put('checkpoints/j1/zz-crashed/state.json', '{"epoch":3}');
      const view = await openGeneration(store, cache, 'checkpoints/j1/');
      assert.ok(view);
      assert.equal(await readFile(path.join(view.dir, 'state.json'), 'utf8'), '{"epoch":2}');
      assert.equal(await readFile(path.join(view.dir, 'w.bin'), 'utf8'), 'two');
      assert.deepEqual((await readdir(view.dir)).sort(), ['state.json', 'w.bin']);
      await view.release();
      // The next save cleans up both the old generation and the crashed one.
      await saveGeneration(store, 'checkpoints/j1/', await localDir({ 'state.json': '{"epoch":3}' }));
      const generations = new Set((await store.list('checkpoints/j1/')).map((o) => o.key.split('/')[2]));
      assert.equal(generations.size, 2, `pointer + one generation: ${[...generations]}`);
      assert.ok(generations.has(POINTER));
      assert.equal(await store.deletePrefix('checkpoints/j1/'), 2);
      assert.equal(await openGeneration(store, cache, 'checkpoints/j1/'), null);
    });
  });
}
