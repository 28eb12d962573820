// The fs store: the contract, plus the layout (key = path under DATA_DIR) that single machines keep.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AppError } from '../../src/shared/errors.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { storeContract } from './store-contract.js';

let root: string;
let store: FsStore;
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'fs-store-'));
  store = new FsStore(root);
});
after(() => rm(root, { recursive: true, force: true }));

describe('fs store', () => {
  storeContract(() => store);

  it('keeps object a/b as the file DATA_DIR/a/b, and leaves no temporary file', async () => {
    await store.put('datasets/d1/manifest.json', '{}');
    assert.equal(await readFile(path.join(root, 'datasets/d1/manifest.json'), 'utf8'), '{}');
    assert.equal(store.localPath('datasets/d1/manifest.json'), path.join(root, 'datasets/d1/manifest.json'));
    assert.deepEqual(await readdir(path.join(root, 'tmp', 'store')), []);
  });

  it('check() names the directory when it cannot be written', { skip: process.getuid?.() === 0 ? 'root may write anywhere' : false }, async () => {
    const ro = await mkdtemp(path.join(os.tmpdir(), 'fs-ro-'));
    await chmod(ro, 0o500);
    await assert.rejects(new FsStore(ro).check(), (e: AppError) => e.code === 'STORE_UNAVAILABLE' && e.message.includes(ro));
  });

  it('check() fails with STORE_UNAVAILABLE when DATA_DIR is a file', async () => {
    const file = path.join(root, 'a-file');
    await store.put('a-file', 'x');
    await assert.rejects(new FsStore(file).check(), (e: AppError) => e.code === 'STORE_UNAVAILABLE' && e.message.includes(file));
  });
});
