import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { DatasetError } from '../../src/ml/data/errors.js';
import { loadSplit, loadSplitBytes, readManifest, writeDataset } from '../../src/ml/data/files.js';
import { applyNormalization } from '../../src/ml/data/normalize.js';
import { type PrepareParams, prepareDataset } from '../../src/ml/data/prepare.js';
import { syntheticDataset } from '../fixtures/synthetic-idx.js';

const code = (c: string) => (err: unknown) => err instanceof DatasetError && err.code === c;

describe('dataset files', () => {
  let root: string;
  const ds = syntheticDataset(300, 60, { height: 8, width: 6 });
  const params: PrepareParams = { split: { train: 0.8, val: 0.2, test: 0 }, normalize: 'standardize', seed: 3, augment: { copies: 1, rotationDeg: 10, noiseStd: 0.02 } };
  const meta = { source: { kind: 'synthetic' }, name: 'tiny', params };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'dataset-files-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('writes splits, preview and manifest; the manifest is byte-identical across runs', async () => {
    const a = await writeDataset(join(root, 'a'), prepareDataset(ds, params), meta);
    const b = await writeDataset(join(root, 'b'), prepareDataset(ds, params), meta);
    const [ma, mb] = await Promise.all([readFile(join(root, 'a', 'manifest.json')), readFile(join(root, 'b', 'manifest.json'))]);
    assert.ok(ma.equals(mb));
    const names = a.files.map((f) => f.name).sort();
    assert.deepEqual(names, [
      'manifest.json',
      'preview.png',
      'test-images.idx3-ubyte',
      'test-labels.idx1-ubyte',
      'train-images.idx3-ubyte',
      'train-labels.idx1-ubyte',
      'val-images.idx3-ubyte',
      'val-labels.idx1-ubyte',
    ]);
    for (const f of a.files) {
      const bytes = await readFile(f.path);
      assert.equal(bytes.length, f.bytes, f.name);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), f.sha256, f.name);
    }
    assert.equal(a.totalBytes, a.files.reduce((s, f) => s + f.bytes, 0));
    const m = a.manifest;
    assert.deepEqual(m.counts, { train: 2 * 288, val: 72, test: 0 });
    assert.deepEqual(m.shape, { height: 8, width: 6, channels: 1 });
    assert.equal(m.numClasses, 10);
    assert.equal(m.name, 'tiny');
    assert.deepEqual(m.params.augment, { copies: 1, rotationDeg: 10, shiftPx: 0, scale: [1, 1], noiseStd: 0.02 });
    assert.deepEqual(m, JSON.parse(ma.toString()));
    assert.deepEqual(b.manifest, m);
    const c = await writeDataset(join(root, 'c'), prepareDataset(ds, { ...params, seed: 4 }), meta);
    assert.notDeepEqual(c.manifest.files, m.files);
  });

  test('loadSplit returns normalized pixels; an empty split loads with count 0', async () => {
    const prepared = prepareDataset(ds, params);
    const dir = join(root, 'load');
    await writeDataset(dir, prepared, meta);
    const val = await loadSplit(dir, 'val', undefined, { verify: true });
    assert.equal(val.count, 72);
    assert.equal(val.height, 8);
    assert.equal(val.width, 6);
    assert.deepEqual(val.labels, prepared.splits.val.labels);
    assert.deepEqual(val.images, applyNormalization(prepared.splits.val.images, prepared.normalization));
    const zeroOne = await loadSplit(dir, 'train', { kind: 'zero-one', mean: 0, std: 1 });
    assert.deepEqual(zeroOne.images, applyNormalization(prepared.splits.train.images, { kind: 'zero-one', mean: 0, std: 1 }));
    const test = await loadSplitBytes(dir, 'test');
    assert.equal(test.count, 0);
    assert.equal(test.images.length, 0);
  });

  test('verification catches a modified file', async () => {
    const dir = join(root, 'tamper');
    await writeDataset(dir, prepareDataset(ds, params), meta);
    const p = join(dir, 'val-labels.idx1-ubyte');
    const bytes = await readFile(p);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1]! + 1) % 10;
    await writeFile(p, bytes);
    await assert.rejects(loadSplit(dir, 'val', undefined, { verify: true }), code('CHECKSUM_MISMATCH'));
    assert.equal((await loadSplit(dir, 'val')).count, 72); // unverified load still reads it
  });

  test('preview.png is a grid of one row per class', async () => {
    const dir = join(root, 'preview');
    await writeDataset(dir, prepareDataset(ds, { ...params, augment: undefined }), meta);
    const png = await sharp(await readFile(join(dir, 'preview.png'))).metadata();
    assert.equal(png.channels, 1);
    // 10 columns and 10 rows of 2× upscaled 6×8 images with 2-pixel gaps
    assert.equal(png.width, 2 + 10 * (12 + 2));
    assert.equal(png.height, 2 + 10 * (16 + 2));
    assert.ok((await stat(join(dir, 'preview.png'))).size > 100);
  });

  test('readManifest rejects a missing or foreign manifest', async () => {
    await assert.rejects(readManifest(join(root, 'nothing-here')), code('MANIFEST_INVALID'));
    const dir = join(root, 'foreign');
    await writeDataset(dir, prepareDataset(ds, params), meta);
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ formatVersion: 99 }));
    await assert.rejects(readManifest(dir), code('MANIFEST_INVALID'));
  });
});
