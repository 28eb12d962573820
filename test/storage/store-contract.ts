// What every artifact store does, run against each implementation (fs-store.test.ts, s3-store.test.ts).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { it } from 'node:test';
import type { AppError } from '../../src/shared/errors.js';
import { getBuffer, type ArtifactStore } from '../../src/storage/index.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export function storeContract(store: () => ArtifactStore) {
  it('puts buffers, strings and streams and gets them back byte for byte, with size and sha256', async () => {
    const s = store();
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    const a = await s.put('c/a.bin', bytes);
    assert.equal(a.size, bytes.length);
    assert.equal(a.sha256, s.kind === 's3' ? sha(bytes) : a.sha256);
    await s.put('c/b.json', JSON.stringify({ x: 1 }), { contentType: 'application/json' });
    const streamed = await s.put('c/sub/c.txt', Readable.from([Buffer.from('hello '), Buffer.from('world')]));
    assert.equal(streamed.size, 11);
    assert.deepEqual(await getBuffer(s, 'c/a.bin'), bytes);
    assert.equal((await getBuffer(s, 'c/b.json')).toString(), '{"x":1}');
    assert.equal((await getBuffer(s, 'c/sub/c.txt')).toString(), 'hello world');
    if (s.kind === 's3') {
      assert.equal((await s.head('c/sub/c.txt'))?.sha256, sha('hello world'), 'a streamed object carries its sha256 too');
    }
  });

  it('head tells size and a validator that changes with the content; missing keys are null / FILE_NOT_FOUND', async () => {
    const s = store();
    const one = await s.put('h/x', 'one');
    const head = await s.head('h/x');
    assert.equal(head?.size, 3);
    assert.equal(head?.etag, (await s.head('h/x'))?.etag, 'stable between reads');
    const two = await s.put('h/x', 'two!');
    assert.notEqual(two.etag, one.etag);
    assert.equal((await s.head('h/x'))?.size, 4);
    assert.equal(await s.head('h/missing'), null);
    await assert.rejects(s.get('h/missing'), (e: AppError) => e.code === 'FILE_NOT_FOUND');
    await assert.rejects(s.getToFile('h/missing', path.join(os.tmpdir(), 'never')), (e: AppError) => e.code === 'FILE_NOT_FOUND');
  });

  it('copies files in and out', async () => {
    const s = store();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'store-'));
    const src = path.join(dir, 'in.bin');
    const data = Buffer.alloc(300_000, 3);
    await writeFile(src, data);
    const put = await s.putFile('f/in.bin', src);
    assert.equal(put.sha256, sha(data));
    const out = path.join(dir, 'deep', 'out.bin');
    await s.getToFile('f/in.bin', out);
    assert.deepEqual(await readFile(out), data);
  });

  it('lists by prefix, sorted, and deletes one object or a whole prefix', async () => {
    const s = store();
    await Promise.all(['l/a/1', 'l/a/2', 'l/a/sub/3', 'l/ab/4', 'l/b/5'].map((k) => s.put(k, k)));
    assert.deepEqual((await s.list('l/a/')).map((o) => o.key), ['l/a/1', 'l/a/2', 'l/a/sub/3']);
    assert.deepEqual((await s.list('l/a')).map((o) => o.key), ['l/a/1', 'l/a/2', 'l/a/sub/3', 'l/ab/4']);
    assert.deepEqual(await s.list('l/none/'), []);
    assert.equal((await s.list('l/a/1'))[0]?.size, 5);
    await s.delete('l/b/5');
    await s.delete('l/b/5'); // a missing key is fine
    assert.equal(await s.head('l/b/5'), null);
    assert.equal(await s.deletePrefix('l/a/'), 3);
    assert.deepEqual((await s.list('l/')).map((o) => o.key), ['l/ab/4']);
  });

  it('a reader never sees half an object: while a slow stream is written, the old one stays whole', async () => {
    const s = store();
    await s.put('atomic/obj', 'old content');
    const body = new Readable({ read() {} });
    const push = (b: Buffer | null) => body.push(b);
    const writing = s.put('atomic/obj', body);
    push(Buffer.alloc(64 * 1024, 1));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await getBuffer(s, 'atomic/obj')).toString(), 'old content');
    push(Buffer.alloc(64 * 1024, 2));
    push(null);
    await writing;
    const now = await getBuffer(s, 'atomic/obj');
    assert.equal(now.length, 128 * 1024);
    assert.deepEqual((await s.list('atomic/')).map((o) => o.key), ['atomic/obj'], 'no temporary object is listed');
  });

  it('a failing source stream leaves no object behind', async () => {
    const s = store();
    const body = new Readable({
      read() {
        this.destroy(new Error('source broke'));
      },
    });
    await assert.rejects(s.put('broken/obj', body), /source broke/);
    assert.equal(await s.head('broken/obj'), null);
  });

  it('refuses keys that could escape the store', async () => {
    const s = store();
    for (const key of ['', '/abs', 'a/../b', 'a//b', './a', 'a\\b']) {
      await assert.rejects(s.put(key, 'x'), (e: AppError) => e.code === 'INVALID_KEY', key);
    }
  });

  it('check() passes on a usable store', async () => {
    await store().check();
  });
}
