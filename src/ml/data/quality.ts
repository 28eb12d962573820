// Data-quality checks of prepared splits: exact duplicates (within a split, and leakage across
// splits) and blank images. Duplicates are found by hashing each image's bytes.
import { hash } from 'node:crypto';
import type { SplitName } from '../types.js';

export const MAX_EXAMPLES = 5;

export interface WithinSplitDuplicates {
  /** Images identical to an earlier image of the same split. */
  duplicates: number;
  /** Distinct images that occur more than once. */
  groups: number;
  /** Up to MAX_EXAMPLES pairs [earlier index, later index] within the split. */
  examples: [number, number][];
}

export interface CrossSplitDuplicates {
  /** Images of the second split whose exact bytes also occur in the first. */
  images: number;
  /** Up to MAX_EXAMPLES pairs [index in the first split, index in the second]. */
  examples: [number, number][];
}

export interface DuplicateReport {
  /** What was hashed: augmented copies are left out, they derive from training images by design. */
  scope: 'original-images';
  within: Record<SplitName, WithinSplitDuplicates>;
  across: { 'train-val': CrossSplitDuplicates; 'train-test': CrossSplitDuplicates; 'val-test': CrossSplitDuplicates };
}

/** sha1 of each image's bytes (as a compact binary string key), first occurrence index per hash. */
export function hashImages(images: Uint8Array, count: number, imageSize: number): string[] {
  const keys = new Array<string>(count);
  for (let i = 0; i < count; i++) keys[i] = hash('sha1', images.subarray(i * imageSize, (i + 1) * imageSize), 'binary');
  return keys;
}

function within(keys: string[]): { first: Map<string, number>; report: WithinSplitDuplicates } {
  const first = new Map<string, number>();
  const seenTwice = new Set<string>();
  const report: WithinSplitDuplicates = { duplicates: 0, groups: 0, examples: [] };
  keys.forEach((k, i) => {
    const j = first.get(k);
    if (j === undefined) {
      first.set(k, i);
      return;
    }
    report.duplicates++;
    if (!seenTwice.has(k)) {
      seenTwice.add(k);
      report.groups++;
    }
    if (report.examples.length < MAX_EXAMPLES) report.examples.push([j, i]);
  });
  return { first, report };
}

function across(firstA: Map<string, number>, keysB: string[]): CrossSplitDuplicates {
  const out: CrossSplitDuplicates = { images: 0, examples: [] };
  keysB.forEach((k, i) => {
    const j = firstA.get(k);
    if (j === undefined) return;
    out.images++;
    if (out.examples.length < MAX_EXAMPLES) out.examples.push([j, i]);
  });
  return out;
}

export function findDuplicates(keys: Record<SplitName, string[]>): DuplicateReport {
  const train = within(keys.train);
  const val = within(keys.val);
  const test = within(keys.test);
  return {
    scope: 'original-images',
    within: { train: train.report, val: val.report, test: test.report },
    across: {
      'train-val': across(train.first, keys.val),
      'train-test': across(train.first, keys.test),
      'val-test': across(val.first, keys.test),
    },
  };
}

/** Number of images whose pixels are all zero. */
export function countBlank(images: Uint8Array, count: number, imageSize: number): number {
  let blank = 0;
  for (let i = 0; i < count; i++) {
    const end = (i + 1) * imageSize;
    let p = i * imageSize;
    while (p < end && images[p] === 0) p++;
    if (p === end) blank++;
  }
  return blank;
}
