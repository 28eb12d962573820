import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { drawAffine, fillGaussian, normalQuantile, warpImage } from '../../src/ml/data/augment.js';
import { makeRng } from '../../src/ml/data/split.js';
import { DatasetError } from '../../src/ml/data/errors.js';
import { applyNormalization, pixelStats } from '../../src/ml/data/normalize.js';
import { type PrepareParams, type PrepareProgress, prepareDataset, prepareDatasetAsync } from '../../src/ml/data/prepare.js';
import { syntheticDataset } from '../fixtures/synthetic-idx.js';

const code = (c: string) => (err: unknown) => err instanceof DatasetError && err.code === c;
const sha = (a: Uint8Array) => createHash('sha1').update(a).digest('hex');
const countsOf = (labels: Uint8Array, K: number) => {
  const c = new Array<number>(K).fill(0);
  for (const l of labels) c[l]!++;
  return c;
};

const ds = syntheticDataset(600, 130, { height: 8, width: 8 });
const base: PrepareParams = { split: 'standard', normalize: 'zero-one', seed: 7 };

describe('prepareDataset: splits', () => {
  test('standard: val carved from train stratified, official test kept whole and in order', () => {
    const p = prepareDataset(ds, { ...base, valFraction: 0.2 });
    assert.equal(p.splits.train.count, 480);
    assert.equal(p.splits.val.count, 120);
    assert.deepEqual(p.splits.test.images, ds.test.images);
    assert.deepEqual(p.splits.test.labels, ds.test.labels);
    const trainCounts = countsOf(ds.train.labels, 10);
    const valCounts = countsOf(p.splits.val.labels, 10);
    for (const [c, v] of valCounts.entries()) assert.ok(Math.abs(v - trainCounts[c]! * 0.2) <= 1 + 1e-9, `class ${c}: ${v} of ${trainCounts[c]}`);
    assert.deepEqual(p.report.classCounts.val, valCounts);
    // train ∪ val is exactly the official train set
    const source = new Set<string>();
    for (let i = 0; i < 600; i++) source.add(sha(ds.train.images.subarray(i * 64, (i + 1) * 64)) + ds.train.labels[i]);
    for (const s of [p.splits.train, p.splits.val]) {
      for (let i = 0; i < s.count; i++) assert.ok(source.delete(sha(s.images.subarray(i * 64, (i + 1) * 64)) + s.labels[i]));
    }
    assert.equal(source.size, 0);
  });

  test('ratio split pools train+test, stratified, exact totals', () => {
    const p = prepareDataset(ds, { ...base, split: { train: 0.6, val: 0.25, test: 0.15 } });
    assert.deepEqual(p.report.counts, { train: 438, val: 183, test: 109 }); // 730 × ratios, largest remainder
    const pooled = countsOf(ds.train.labels, 10).map((n, c) => n + countsOf(ds.test.labels, 10)[c]!);
    for (const [name, r] of [['train', 0.6], ['val', 0.25], ['test', 0.15]] as const) {
      for (const [c, v] of p.report.classCounts[name].entries()) assert.ok(Math.abs(v - pooled[c]! * r) <= 1 + 1e-9, `${name} class ${c}`);
    }
  });

  test('same seed gives identical splits, another seed another validation set', () => {
    const a = prepareDataset(ds, base);
    const b = prepareDataset(ds, base);
    const c = prepareDataset(ds, { ...base, seed: 8 });
    for (const s of ['train', 'val', 'test'] as const) {
      assert.deepEqual(a.splits[s].images, b.splits[s].images);
      assert.deepEqual(a.splits[s].labels, b.splits[s].labels);
    }
    assert.notDeepEqual(a.splits.val.images, c.splits.val.images);
  });

  test('invalid split parameters are rejected', () => {
    const bad: unknown[] = [
      { train: 0.5, val: 0.3, test: 0.3 },
      { train: 0, val: 0.5, test: 0.5 },
      { train: 1.2, val: -0.2, test: 0 },
      { train: Number.NaN, val: 0.5, test: 0.5 },
      'random',
    ];
    for (const split of bad) assert.throws(() => prepareDataset(ds, { ...base, split: split as PrepareParams['split'] }), code('INVALID_SPLIT'));
    assert.throws(() => prepareDataset(ds, { ...base, valFraction: 1 }), code('INVALID_SPLIT'));
    // valFraction belongs to `standard`; a ratio split ignores it (schemas fill it by default)
    const ratio = prepareDataset(ds, { ...base, split: { train: 0.8, val: 0.2, test: 0 }, valFraction: 0.1 });
    assert.equal(ratio.splits.val.count, 146);
    assert.equal(ratio.params.valFraction, null);
    assert.throws(() => prepareDataset(ds, { ...base, normalize: 'max' as never }), code('INVALID_PARAMS'));
  });

  test('inputs whose counts disagree are rejected', () => {
    const broken = { ...ds, train: { ...ds.train, labels: ds.train.labels.subarray(1) } };
    assert.throws(() => prepareDataset(broken, base), code('IDX_COUNT_MISMATCH'));
  });
});

describe('prepareDataset: augmentation', () => {
  const augment = { copies: 2, rotationDeg: 15, shiftPx: 1.5, scale: [0.9, 1.1] as [number, number], noiseStd: 0.05 };

  test('adds N copies of each training image only, deterministically', () => {
    const plain = prepareDataset(ds, base);
    const a = prepareDataset(ds, { ...base, augment });
    const b = prepareDataset(ds, { ...base, augment });
    const n = plain.splits.train.count;
    assert.equal(a.splits.train.count, 3 * n);
    assert.equal(a.report.trainOriginalCount, n);
    assert.equal(a.report.augmentedCount, 2 * n);
    assert.deepEqual(a.splits.train.images.subarray(0, n * 64), plain.splits.train.images);
    assert.deepEqual(a.splits.train.labels, Uint8Array.from([...plain.splits.train.labels, ...plain.splits.train.labels, ...plain.splits.train.labels]));
    assert.deepEqual(a.splits.val.images, plain.splits.val.images);
    assert.deepEqual(a.splits.test.images, plain.splits.test.images);
    assert.deepEqual(a.splits.train.images, b.splits.train.images);
    const c = prepareDataset(ds, { ...base, augment, seed: 99 });
    assert.notDeepEqual(c.splits.train.images.subarray(c.report.trainOriginalCount * 64), a.splits.train.images.subarray(n * 64));
    // normalization is taken from the final (augmented) training split
    assert.deepEqual(a.normalization.mean, a.report.pixelStats.trainFinal.mean);
    assert.notEqual(a.report.pixelStats.trainFinal.mean, a.report.pixelStats.trainOriginal.mean);
  });

  test('identity settings reproduce the originals exactly (no sampling drift)', () => {
    const p = prepareDataset(ds, { ...base, augment: { copies: 1 } });
    const n = p.report.trainOriginalCount;
    assert.deepEqual(p.splits.train.images.subarray(n * 64), p.splits.train.images.subarray(0, n * 64));
  });

  test('warp: a 90° rotation and a 1-pixel shift move pixels where expected', () => {
    const src = Uint8Array.from({ length: 5 * 5 }, (_, i) => i * 10);
    const dst = new Uint8Array(25);
    warpImage(src, dst, 5, 5, { angleRad: Math.PI / 2, scale: 1, dx: 0, dy: 0 });
    // Forward map with y pointing down: p' = R(θ)(p − c) + c, so dst(x, y) = src(y, 4 − x).
    for (let y = 0; y < 5; y++) for (let x = 0; x < 5; x++) assert.equal(dst[y * 5 + x], src[(4 - x) * 5 + y], `(${x},${y})`);
    warpImage(src, dst, 5, 5, { angleRad: 0, scale: 1, dx: 1, dy: 0 });
    for (let y = 0; y < 5; y++) {
      assert.equal(dst[y * 5], 0);
      for (let x = 1; x < 5; x++) assert.equal(dst[y * 5 + x], src[y * 5 + x - 1]);
    }
    // a half-pixel shift averages neighbours (bilinear)
    warpImage(src, dst, 5, 5, { angleRad: 0, scale: 1, dx: 0.5, dy: 0 });
    assert.equal(dst[2], Math.round((src[1]! + src[2]!) / 2));
    assert.ok(drawAffine({ copies: 1, rotationDeg: 0, shiftPx: 0, scale: [1, 1], noiseStd: 0 }, Math.random).scale === 1);
  });

  test('gaussian noise: correct quantiles and moments', () => {
    assert.ok(Math.abs(normalQuantile(0.975) - 1.959963985) < 1e-8);
    assert.ok(Math.abs(normalQuantile(0.001) + 3.090232306) < 1e-8);
    assert.equal(normalQuantile(0.5), 0);
    const z = fillGaussian(new Float32Array(200_001), 12.75, makeRng(1, 'noise'));
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    const std = Math.sqrt(z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length);
    assert.ok(Math.abs(mean) < 0.1, String(mean));
    assert.ok(Math.abs(std - 12.75) < 0.1, String(std));
    const within1 = z.filter((v) => Math.abs(v) < 12.75).length / z.length;
    assert.ok(Math.abs(within1 - 0.6827) < 0.005, String(within1));
  });

  test('flips are refused with an explanation', () => {
    for (const params of [
      { ...base, augment: { copies: 1, flip: true } },
      { ...base, augment: { copies: 1, horizontalFlip: false } },
      { ...base, flip: true },
    ]) {
      assert.throws(
        () => prepareDataset(ds, params as PrepareParams),
        (err: unknown) => code('AUGMENT_FLIP_UNSUPPORTED')(err) && /class/.test((err as Error).message),
      );
    }
  });

  test('invalid augmentation settings are rejected', () => {
    for (const augment of [{ copies: 1.5 }, { copies: -1 }, { copies: 11 }, { copies: 1, rotationDeg: 200 }, { copies: 1, shiftPx: 5 }, { copies: 1, scale: [1.2, 1.1] }, { copies: 1, noiseStd: -0.1 }]) {
      assert.throws(() => prepareDataset(ds, { ...base, augment: augment as PrepareParams['augment'] }), code('INVALID_AUGMENT'), JSON.stringify(augment));
    }
  });
});

describe('prepareDataset: quality report and normalization', () => {
  test('finds duplicates within and across splits, and blank images', () => {
    const d = syntheticDataset(100, 20, { height: 8, width: 8, seed: 'dup' });
    const S = 64;
    d.train.images.copyWithin(10 * S, 3 * S, 4 * S); // train #10 = train #3
    d.train.labels[10] = d.train.labels[3]!;
    d.test.images.set(d.train.images.subarray(5 * S, 6 * S), 7 * S); // test #7 = train #5
    d.test.images.fill(0, 2 * S, 3 * S); // a blank test image
    const p = prepareDataset(d, { split: 'standard', valFraction: 0, normalize: 'zero-one', seed: 1 });
    const r = p.report;
    assert.equal(p.splits.val.count, 0);
    assert.equal(r.duplicates.within.train.duplicates, 1);
    assert.equal(r.duplicates.within.train.groups, 1);
    assert.deepEqual(r.duplicates.within.train.examples, [[3, 10]]);
    assert.equal(r.duplicates.across['train-test'].images, 1);
    assert.deepEqual(r.duplicates.across['train-test'].examples, [[5, 7]]);
    assert.equal(r.duplicates.across['train-val'].images, 0);
    assert.deepEqual(r.blankImages, { train: 0, val: 0, test: 1 });
  });

  test('pixel statistics and the recorded normalization match a direct computation', () => {
    const p = prepareDataset(ds, { ...base, normalize: 'standardize' });
    const px = p.splits.train.images;
    let s = 0;
    for (const v of px) s += v / 255;
    const mean = s / px.length;
    let s2 = 0;
    for (const v of px) s2 += (v / 255 - mean) ** 2;
    const std = Math.sqrt(s2 / px.length);
    assert.ok(Math.abs(p.normalization.mean - mean) < 1e-12);
    assert.ok(Math.abs(p.normalization.std - std) < 1e-12);
    assert.equal(p.normalization.kind, 'standardize');
    assert.deepEqual(pixelStats(px), p.report.pixelStats.trainOriginal);
  });

  test('applyNormalization: the three kinds', () => {
    const px = Uint8Array.from([0, 51, 255]);
    assert.deepEqual([...applyNormalization(px, { kind: 'zero-one', mean: 0, std: 1 })], [0, Math.fround(0.2), 1]);
    assert.deepEqual([...applyNormalization(px, { kind: 'minus-one-one', mean: 0, std: 1 })], [-1, Math.fround(51 / 127.5 - 1), 1]);
    const z = applyNormalization(px, { kind: 'standardize', mean: 0.2, std: 0.5 });
    assert.deepEqual([...z], [Math.fround(-0.4), 0, Math.fround(1.6)]);
    assert.throws(() => applyNormalization(px, { kind: 'standardize', mean: 0, std: 0 }), code('INVALID_PARAMS'));
  });
});

describe('prepareDatasetAsync', () => {
  test('same result as the synchronous version, with monotone progress ending at 1', async () => {
    const params = { ...base, augment: { copies: 1, rotationDeg: 10 } };
    const seen: PrepareProgress[] = [];
    const a = await prepareDatasetAsync(ds, params, { onProgress: (p) => seen.push(p), yieldEveryMs: 0 });
    const b = prepareDataset(ds, params);
    assert.deepEqual(a.splits.train.images, b.splits.train.images);
    assert.deepEqual(a.report, b.report);
    assert.ok(seen.length >= 2);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.fraction >= seen[i - 1]!.fraction);
    assert.deepEqual(seen.at(-1), { stage: 'done', fraction: 1 });
  });

  test('an aborted signal cancels', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(prepareDatasetAsync(ds, base, { signal: ac.signal }), code('CANCELLED'));
  });
});
