import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DatasetError } from '../../src/ml/data/errors.js';
import {
  decodeIdxImages,
  decodeIdxLabels,
  encodeIdxImages,
  encodeIdxLabels,
  readIdxDataset,
  readIdxImages,
} from '../../src/ml/data/idx.js';
import { standardGzFiles, syntheticDataset, syntheticSplit, writeFiles } from '../fixtures/synthetic-idx.js';

const code = (c: string) => (err: unknown) => err instanceof DatasetError && err.code === c;

describe('IDX', () => {
  const s = syntheticSplit({ count: 7, height: 5, width: 3 });
  const imagesFile = encodeIdxImages(s.images, 7, 5, 3);
  const labelsFile = encodeIdxLabels(s.labels);

  test('writes the standard header and round-trips raw and gzip', () => {
    assert.deepEqual([...imagesFile.subarray(0, 16)], [0, 0, 8, 3, 0, 0, 0, 7, 0, 0, 0, 5, 0, 0, 0, 3]);
    assert.deepEqual([...labelsFile.subarray(0, 8)], [0, 0, 8, 1, 0, 0, 0, 7]);
    for (const bytes of [imagesFile, gzipSync(imagesFile)]) {
      const d = decodeIdxImages(bytes);
      assert.equal(d.count, 7);
      assert.equal(d.height, 5);
      assert.equal(d.width, 3);
      assert.deepEqual(d.images, s.images);
    }
    const l = decodeIdxLabels(gzipSync(labelsFile));
    assert.equal(l.count, 7);
    assert.deepEqual(l.labels, s.labels);
  });

  test('bad magic: non-IDX bytes, and a labels file read as images', () => {
    const bad = Uint8Array.from(imagesFile);
    bad[0] = 0x12;
    assert.throws(() => decodeIdxImages(bad), code('IDX_BAD_MAGIC'));
    assert.throws(() => decodeIdxImages(labelsFile), code('IDX_BAD_MAGIC'));
    assert.throws(() => decodeIdxLabels(imagesFile), code('IDX_BAD_MAGIC'));
  });

  test('bad data type byte', () => {
    const bad = Uint8Array.from(imagesFile);
    bad[2] = 0x0d; // float32
    assert.throws(() => decodeIdxImages(bad), (err: unknown) => code('IDX_BAD_DTYPE')(err) && /float32/.test((err as Error).message));
  });

  test('length must match the dimensions', () => {
    assert.throws(() => decodeIdxImages(imagesFile.subarray(0, imagesFile.length - 1)), code('IDX_TRUNCATED'));
    assert.throws(() => decodeIdxImages(imagesFile.subarray(0, 10)), code('IDX_TRUNCATED'));
    assert.throws(() => decodeIdxLabels(labelsFile.subarray(0, 2)), code('IDX_TRUNCATED'));
    const longer = new Uint8Array(labelsFile.length + 3);
    longer.set(labelsFile);
    assert.throws(() => decodeIdxLabels(longer), code('IDX_TRAILING_BYTES'));
    assert.throws(() => encodeIdxImages(s.images, 8, 5, 3), code('IDX_SHAPE_MISMATCH'));
  });

  test('corrupt or truncated gzip', () => {
    const gz = gzipSync(imagesFile);
    assert.throws(() => decodeIdxImages(gz.subarray(0, gz.length - 10)), code('GZIP_CORRUPT'));
    const flipped = Buffer.from(gz);
    flipped[20] = flipped[20]! ^ 0xff;
    assert.throws(() => decodeIdxImages(flipped), code('GZIP_CORRUPT'));
  });

  describe('files', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'idx-test-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    test('reads a dataset of four gzip files', async () => {
      const ds = syntheticDataset(30, 12);
      await writeFiles(join(dir, 'ok'), standardGzFiles(ds));
      const read = await readIdxDataset({
        trainImages: join(dir, 'ok', 'train-images-idx3-ubyte.gz'),
        trainLabels: join(dir, 'ok', 'train-labels-idx1-ubyte.gz'),
        testImages: join(dir, 'ok', 't10k-images-idx3-ubyte.gz'),
        testLabels: join(dir, 'ok', 't10k-labels-idx1-ubyte.gz'),
      });
      assert.equal(read.train.count, 30);
      assert.equal(read.test.count, 12);
      assert.deepEqual(read.train.images, ds.train.images);
      assert.deepEqual(read.test.labels, ds.test.labels);
    });

    test('image and label counts must agree', async () => {
      const ds = syntheticDataset(30, 12);
      const files = standardGzFiles(ds);
      files['train-labels-idx1-ubyte.gz'] = gzipSync(encodeIdxLabels(ds.train.labels.subarray(0, 29)));
      await writeFiles(join(dir, 'mismatch'), files);
      const p = (n: string) => join(dir, 'mismatch', n);
      await assert.rejects(
        readIdxDataset({
          trainImages: p('train-images-idx3-ubyte.gz'),
          trainLabels: p('train-labels-idx1-ubyte.gz'),
          testImages: p('t10k-images-idx3-ubyte.gz'),
          testLabels: p('t10k-labels-idx1-ubyte.gz'),
        }),
        (err: unknown) => code('IDX_COUNT_MISMATCH')(err) && (err as DatasetError).details?.labels === 29,
      );
    });

    test('a missing file is SOURCE_NOT_FOUND', async () => {
      await assert.rejects(readIdxImages(join(dir, 'nope.gz')), code('SOURCE_NOT_FOUND'));
    });
  });
});
