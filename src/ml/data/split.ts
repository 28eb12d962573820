// Stratified, seeded splitting. Counts per class and split are fixed first (exact split totals, every
// class within one sample of its share), then each class's indices are shuffled and dealt out.
import seedrandom from 'seedrandom';
import { DatasetError } from './errors.js';

export type Rng = () => number;

/**
 * A seeded uniform [0,1) generator. Named streams (`split`, `augment`) are independent, so changing
 * the augmentation settings never changes which images land in which split. tychei is one of
 * seedrandom's fast generators (2–5× quicker than its default ARC4), which matters for noise.
 */
export function makeRng(seed: number | string, stream: string): seedrandom.PRNG {
  return seedrandom.tychei(`${seed}:${stream}`);
}

/** Fisher–Yates in place. */
export function shuffleInPlace(a: Int32Array, rng: Rng): Int32Array {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

/** Integers summing to `total` closest to total·ratios (largest remainder, ties to the lower index). */
export function largestRemainder(total: number, ratios: readonly number[]): number[] {
  const exact = ratios.map((r) => total * r);
  const out = exact.map((x) => Math.floor(x + 1e-9));
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => ({ i, frac: x - out[i]! })).sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) out[order[k]!.i]!++;
  return out;
}

/**
 * Counts per class (rows) and split (columns) such that every column totals exactly its largest-
 * remainder share of all samples, every row totals its class size, and every cell is the floor or
 * the ceiling of classCount·ratio. The +1s left after flooring are placed with Ryser's greedy
 * construction (each class takes the splits with the most +1s still owed), which always finds a 0/1
 * completion when one exists.
 */
export function allocateStratified(classCounts: readonly number[], ratios: readonly number[]): number[][] {
  const sum = ratios.reduce((a, b) => a + b, 0);
  const r = ratios.map((x) => x / sum);
  const total = classCounts.reduce((a, b) => a + b, 0);
  const targets = largestRemainder(total, r);
  const cells = classCounts.map((n) => r.map((x) => Math.floor(n * x + 1e-9)));
  const frac = classCounts.map((n, c) => r.map((x, s) => n * x - cells[c]![s]!));
  const owedBySplit = targets.map((t, s) => t - cells.reduce((a, row) => a + row[s]!, 0));
  const owedByClass = classCounts.map((n, c) => n - cells[c]!.reduce((a, b) => a + b, 0));
  const classOrder = classCounts.map((_, c) => c).sort((a, b) => owedByClass[b]! - owedByClass[a]! || a - b);
  for (const c of classOrder) {
    const splitOrder = r
      .map((_, s) => s)
      .sort((a, b) => owedBySplit[b]! - owedBySplit[a]! || frac[c]![b]! - frac[c]![a]! || a - b);
    for (let k = 0; k < owedByClass[c]!; k++) {
      const s = splitOrder[k]!;
      if (owedBySplit[s]! <= 0) throw new Error(`allocateStratified: no completion for class ${c} (internal error)`);
      cells[c]![s]!++;
      owedBySplit[s]!--;
    }
  }
  return cells;
}

/** Counts of each label value 0..numClasses−1. */
export function countClasses(labels: Uint8Array, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]!++;
  return counts;
}

/**
 * Deals indices 0..labels.length−1 into ratios.length splits, stratified by label, reproducibly from
 * `rng`. Each split's indices come back sorted (source order); trainers shuffle per epoch anyway.
 */
export function stratifiedSplit(labels: Uint8Array, numClasses: number, ratios: readonly number[], rng: Rng): Int32Array[] {
  const counts = countClasses(labels, numClasses);
  const cells = allocateStratified(counts, ratios);
  const byClass = counts.map((n) => new Int32Array(n));
  const fill = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    byClass[c]![fill[c]!++] = i;
  }
  const splitSizes = ratios.map((_, s) => cells.reduce((a, row) => a + row[s]!, 0));
  const out = splitSizes.map((n) => new Int32Array(n));
  const pos = new Array<number>(ratios.length).fill(0);
  for (let c = 0; c < numClasses; c++) {
    const idx = shuffleInPlace(byClass[c]!, rng);
    let from = 0;
    for (let s = 0; s < ratios.length; s++) {
      const n = cells[c]![s]!;
      out[s]!.set(idx.subarray(from, from + n), pos[s]!);
      pos[s]! += n;
      from += n;
    }
  }
  for (const a of out) a.sort();
  return out;
}

export function validateRatios(split: { train: number; val: number; test: number }): [number, number, number] {
  const values = [split.train, split.val, split.test];
  if (values.some((v) => typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
    throw new DatasetError('INVALID_SPLIT', `split ratios must be finite numbers ≥ 0, got ${JSON.stringify(split)}`);
  }
  if (!(split.train > 0)) throw new DatasetError('INVALID_SPLIT', 'split.train must be > 0');
  const sum = values.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > 1e-6) {
    throw new DatasetError('INVALID_SPLIT', `split ratios must sum to 1, they sum to ${sum}`, { sum });
  }
  return values as [number, number, number];
}
