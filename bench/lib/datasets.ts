// Full MNIST-style datasets for the benchmarks, prepared in memory exactly as a dataset-prep job does
// (split `standard`, zero-one), without the service around it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readIdxDataset } from '../../src/ml/data/idx.js';
import { prepareDataset } from '../../src/ml/data/prepare.js';
import { applyNormalization } from '../../src/ml/data/normalize.js';
import type { ImageSet, SplitName } from '../../src/ml/types.js';
import { resolveSource } from '../../src/worker/sources.js';

export type Splits = Record<SplitName, ImageSet>;

export async function loadPrepared(source: 'mnist' | 'fashion-mnist', seed = 1): Promise<Splits> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'mnist-bench-'));
  try {
    const files = await resolveSource(source, { tmpDir: tmp, maxBytes: 200 * 1024 * 1024, timeoutMs: 120_000 });
    const raw = await readIdxDataset(files);
    const prepared = prepareDataset(raw, { split: 'standard', valFraction: 0.1, normalize: 'zero-one', seed });
    const out = {} as Splits;
    for (const s of ['train', 'val', 'test'] as const) {
      const split = prepared.splits[s];
      out[s] = {
        images: applyNormalization(split.images, prepared.normalization),
        labels: split.labels,
        count: split.count,
        height: prepared.height,
        width: prepared.width,
      };
    }
    return out;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export function head(set: ImageSet, n: number): ImageSet {
  if (n >= set.count) return set;
  const px = set.height * set.width;
  return { ...set, count: n, images: set.images.subarray(0, n * px), labels: set.labels.subarray(0, n) };
}

/** Prints rows as an aligned text table. */
export function table(rows: Record<string, string | number>[]): string {
  if (!rows.length) return '';
  const cols = Object.keys(rows[0]!);
  // Numbers as the caller rounded them (a fixed format here showed 99.59 % as 99.6), at most 4 decimals.
  const cell = (v: string | number) => (typeof v === 'number' ? String(Number(v.toFixed(4))) : v);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c] ?? '').length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padStart(width[i]!)).join('  ');
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c] ?? ''))))].join('\n');
}
