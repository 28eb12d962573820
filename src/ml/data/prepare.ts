// Dataset preparation as a pure computation: source splits in, stratified seeded splits (uint8),
// optional training augmentation, recorded normalization and a quality report out. No I/O here;
// files.ts writes the result. The work is a generator of progress steps so that one body serves a
// synchronous API and an async one that yields to the event loop (queue lock renewals, cancel).
import type { Normalization, NormalizationKind, SplitName } from '../types.js';
import { SPLITS } from '../types.js';
import { type AugmentParams, drawAffine, fillGaussian, warpImage } from './augment.js';
import { DatasetError } from './errors.js';
import type { RawDataset, RawSplit } from './idx.js';
import { NORMALIZATIONS } from '../catalog.js';
import { type PixelStats, pixelHistogram, statsFromHistogram } from './normalize.js';
import { countBlank, type DuplicateReport, findDuplicates, hashImages } from './quality.js';
import { countClasses, makeRng, stratifiedSplit, validateRatios } from './split.js';

export type { AugmentParams } from './augment.js';
export type PrepareInput = RawDataset;

export type SplitSpec = 'standard' | { train: number; val: number; test: number };

export interface PrepareParams {
  /** `standard`: official test set kept whole, validation carved from train; or ratios of the pooled data. */
  split: SplitSpec;
  /** Share of the official train set used for validation with split `standard` (default 0.1); ignored otherwise. */
  valFraction?: number;
  normalize: NormalizationKind;
  /** Only `copies` is required; rotation/shift/noise default to 0 and scale to [1, 1]. */
  augment?: Partial<AugmentParams> & { copies: number };
  seed: number;
}

/** Parameters with defaults filled in: what the manifest records and what reproduces a dataset. */
export interface ResolvedPrepareParams {
  split: SplitSpec;
  valFraction: number | null;
  normalize: NormalizationKind;
  augment: AugmentParams | null;
  seed: number;
}

export interface PreparedSplit {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export interface QualityReport {
  counts: Record<SplitName, number>;
  classCounts: Record<SplitName, number[]>;
  /** Training images before augmentation; augmented copies follow them in the train split. */
  trainOriginalCount: number;
  augmentedCount: number;
  /** Pixel statistics on the [0,1] scale; normalization uses `trainFinal`. */
  pixelStats: { trainOriginal: PixelStats; trainFinal: PixelStats; val: PixelStats; test: PixelStats };
  blankImages: Record<SplitName, number>;
  duplicates: DuplicateReport;
}

export interface PreparedDataset {
  height: number;
  width: number;
  numClasses: number;
  params: ResolvedPrepareParams;
  splits: Record<SplitName, PreparedSplit>;
  normalization: Normalization;
  report: QualityReport;
}

export type PrepareStage = 'split' | 'augment' | 'quality' | 'done';
export interface PrepareProgress {
  stage: PrepareStage;
  /** Of the whole preparation, 0..1. */
  fraction: number;
}

export const MAX_AUGMENT_COPIES = 10;

function invalid(message: string, details?: Record<string, unknown>): never {
  throw new DatasetError('INVALID_PARAMS', message, details);
}

function finiteIn(v: unknown, lo: number, hi: number): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;
}

function rejectFlip(obj: unknown): void {
  if (obj === null || typeof obj !== 'object') return;
  const key = Object.keys(obj).find((k) => /flip/i.test(k));
  if (key !== undefined) {
    throw new DatasetError(
      'AUGMENT_FLIP_UNSUPPORTED',
      `augmentation option "${key}" is not supported: flipping a digit changes its class or makes it no digit ` +
        '(a mirrored 2, 3, 4, 5, 7 or 9 is not that digit, and a vertically flipped 6 reads as 9); use rotation, shift, scale and noise instead',
      { option: key },
    );
  }
}

/** Validates parameters against the image size and fills defaults. */
export function resolvePrepareParams(params: PrepareParams, height: number, width: number): ResolvedPrepareParams {
  if (params === null || typeof params !== 'object') invalid('params must be an object');
  rejectFlip(params);
  rejectFlip(params.augment);
  if (typeof params.seed !== 'number' || !Number.isFinite(params.seed)) invalid(`seed must be a finite number, got ${String(params.seed)}`);
  if (!NORMALIZATIONS.includes(params.normalize)) {
    invalid(`normalize must be one of ${NORMALIZATIONS.join(', ')}, got ${String(params.normalize)}`);
  }
  let split: SplitSpec;
  let valFraction: number | null = null;
  if (params.split === 'standard') {
    split = 'standard';
    valFraction = params.valFraction ?? 0.1;
    if (!finiteIn(valFraction, 0, 1) || valFraction >= 1) {
      throw new DatasetError('INVALID_SPLIT', `valFraction must be in [0, 1), got ${String(params.valFraction)}`);
    }
  } else if (params.split !== null && typeof params.split === 'object') {
    const [train, val, test] = validateRatios(params.split);
    // valFraction only shapes a `standard` split; ignored here because request schemas fill it by default.
    split = { train, val, test };
  } else {
    throw new DatasetError('INVALID_SPLIT', `split must be "standard" or {train, val, test} ratios, got ${JSON.stringify(params.split)}`);
  }
  let augment: AugmentParams | null = null;
  const a = params.augment;
  if (a !== undefined && a !== null) {
    if (typeof a !== 'object') throw new DatasetError('INVALID_AUGMENT', 'augment must be an object');
    const copies = a.copies;
    const rotationDeg = a.rotationDeg ?? 0;
    const shiftPx = a.shiftPx ?? 0;
    const scale = a.scale ?? [1, 1];
    const noiseStd = a.noiseStd ?? 0;
    const bad = (what: string) => {
      throw new DatasetError('INVALID_AUGMENT', `augment.${what}`, { augment: a });
    };
    if (!Number.isInteger(copies) || copies < 0 || copies > MAX_AUGMENT_COPIES) bad(`copies must be an integer in 0..${MAX_AUGMENT_COPIES}`);
    if (!finiteIn(rotationDeg, 0, 180)) bad('rotationDeg must be in [0, 180]');
    if (!finiteIn(shiftPx, 0, Math.min(height, width) / 2)) bad(`shiftPx must be in [0, ${Math.min(height, width) / 2}]`);
    if (!Array.isArray(scale) || scale.length !== 2 || !finiteIn(scale[0], 0.25, 4) || !finiteIn(scale[1], scale[0], 4)) {
      bad('scale must be [min, max] with 0.25 ≤ min ≤ max ≤ 4');
    }
    if (!finiteIn(noiseStd, 0, 1)) bad('noiseStd must be in [0, 1] (on the [0,1] pixel scale)');
    if (copies > 0) augment = { copies, rotationDeg, shiftPx, scale: [scale[0], scale[1]], noiseStd };
  }
  return { split, valFraction, normalize: params.normalize, augment, seed: params.seed };
}

function checkSplit(s: RawSplit, name: string, imageSize: number): void {
  if (s.labels.length !== s.count) {
    throw new DatasetError('IDX_COUNT_MISMATCH', `${name}: ${s.labels.length} labels for count ${s.count}`, { split: name });
  }
  if (s.images.length !== s.count * imageSize) {
    throw new DatasetError('IDX_SHAPE_MISMATCH', `${name}: ${s.images.length} pixels for ${s.count} images of ${imageSize}`, { split: name });
  }
}

function maxLabel(labels: Uint8Array): number {
  let m = -1;
  for (let i = 0; i < labels.length; i++) if (labels[i]! > m) m = labels[i]!;
  return m;
}

/** The preparation as a sequence of progress steps; its return value is the dataset. */
export function* prepareSteps(input: PrepareInput, params: PrepareParams): Generator<PrepareProgress, PreparedDataset, void> {
  const { height, width } = input;
  const S = height * width;
  checkSplit(input.train, 'train', S);
  checkSplit(input.test, 'test', S);
  const p = resolvePrepareParams(params, height, width);
  const numClasses = Math.max(maxLabel(input.train.labels), maxLabel(input.test.labels)) + 1;
  if (numClasses === 0) throw new DatasetError('EMPTY_DATASET', 'the source holds no images');

  // Pooled index space: 0..nTrain−1 are official train images, nTrain.. are official test images.
  const nTrain = input.train.count;
  const rng = makeRng(p.seed, 'split');
  let sel: Record<SplitName, Int32Array>;
  if (p.split === 'standard') {
    const vf = p.valFraction!;
    const [tr, va] = stratifiedSplit(input.train.labels, numClasses, [1 - vf, vf], rng) as [Int32Array, Int32Array];
    const te = new Int32Array(input.test.count).map((_, i) => nTrain + i);
    sel = { train: tr, val: va, test: te };
  } else {
    const pooled = new Uint8Array(nTrain + input.test.count);
    pooled.set(input.train.labels, 0);
    pooled.set(input.test.labels, nTrain);
    const r = p.split;
    const [tr, va, te] = stratifiedSplit(pooled, numClasses, [r.train, r.val, r.test], rng) as [Int32Array, Int32Array, Int32Array];
    sel = { train: tr, val: va, test: te };
  }
  if (sel.train.length === 0) throw new DatasetError('EMPTY_DATASET', 'the training split would be empty');

  const copies = p.augment?.copies ?? 0;
  const nOrig = sel.train.length;
  const total = sel.train.length + sel.val.length + sel.test.length;
  // Rough work units (measured), for a progress fraction that moves evenly: copying and hashing an
  // image cost ~1 unit each, warping one with noise ~20.
  const WARP = 20;
  const work = 2 * total + WARP * nOrig * copies;
  let done = 0;
  const STEP = 1024; // images between progress steps (≈30 ms of warping on a slow core)

  const splits = {} as Record<SplitName, PreparedSplit>;
  for (const name of SPLITS) {
    const idx = sel[name];
    const count = idx.length * (name === 'train' ? 1 + copies : 1);
    const images = new Uint8Array(count * S);
    const labels = new Uint8Array(count);
    for (let k = 0; k < idx.length; k++) {
      const i = idx[k]!;
      const src = i < nTrain ? input.train : input.test;
      const j = i < nTrain ? i : i - nTrain;
      images.set(src.images.subarray(j * S, (j + 1) * S), k * S);
      labels[k] = src.labels[j]!;
      if ((k + 1) % STEP === 0) yield { stage: 'split', fraction: (done + k) / work };
    }
    done += idx.length;
    splits[name] = { images, labels, count };
  }

  if (p.augment) {
    const aug = p.augment;
    const arng = makeRng(p.seed, 'augment');
    const sigma = aug.noiseStd * 255;
    const noise = sigma > 0 ? new Float32Array(S) : undefined;
    const { images, labels } = splits.train;
    for (let c = 1; c <= copies; c++) {
      for (let i = 0; i < nOrig; i++) {
        const o = c * nOrig + i;
        const t = drawAffine(aug, arng);
        if (noise) fillGaussian(noise, sigma, arng);
        warpImage(images.subarray(i * S, (i + 1) * S), images.subarray(o * S, (o + 1) * S), height, width, t, noise);
        labels[o] = labels[i]!;
        if ((i + 1) % STEP === 0) yield { stage: 'augment', fraction: (done + WARP * i) / work };
      }
      done += WARP * nOrig;
    }
  }

  const keys = {} as Record<SplitName, string[]>;
  for (const name of SPLITS) {
    const n = name === 'train' ? nOrig : splits[name].count;
    keys[name] = [];
    for (let from = 0; from < n; from += STEP) {
      const to = Math.min(n, from + STEP);
      keys[name].push(...hashImages(splits[name].images.subarray(from * S, to * S), to - from, S));
      yield { stage: 'quality', fraction: (done + to) / work };
    }
    done += n;
  }

  const train = splits.train;
  const origHist = pixelHistogram(train.images.subarray(0, nOrig * S));
  const finalHist = pixelHistogram(train.images.subarray(nOrig * S), Float64Array.from(origHist));
  const trainFinal = statsFromHistogram(finalHist);
  const report: QualityReport = {
    counts: { train: train.count, val: splits.val.count, test: splits.test.count },
    classCounts: {
      train: countClasses(train.labels, numClasses),
      val: countClasses(splits.val.labels, numClasses),
      test: countClasses(splits.test.labels, numClasses),
    },
    trainOriginalCount: nOrig,
    augmentedCount: nOrig * copies,
    pixelStats: {
      trainOriginal: statsFromHistogram(origHist),
      trainFinal,
      val: statsFromHistogram(pixelHistogram(splits.val.images)),
      test: statsFromHistogram(pixelHistogram(splits.test.images)),
    },
    blankImages: {
      train: countBlank(train.images, train.count, S),
      val: countBlank(splits.val.images, splits.val.count, S),
      test: countBlank(splits.test.images, splits.test.count, S),
    },
    duplicates: findDuplicates(keys),
  };
  return {
    height,
    width,
    numClasses,
    params: p,
    splits,
    normalization: { kind: p.normalize, mean: trainFinal.mean, std: trainFinal.std },
    report,
  };
}

/** Emits a progress callback only when the stage changes or the fraction moved by ≥1%. */
function throttled(onProgress?: (p: PrepareProgress) => void): (p: PrepareProgress) => void {
  let last: PrepareProgress | undefined;
  return (p) => {
    if (!onProgress) return;
    if (last && last.stage === p.stage && p.fraction - last.fraction < 0.01 && p.stage !== 'done') return;
    last = p;
    onProgress(p);
  };
}

/** Prepares a dataset synchronously (blocks for its whole duration: ~1 s on MNIST without augmentation). */
export function prepareDataset(input: PrepareInput, params: PrepareParams, onProgress?: (p: PrepareProgress) => void): PreparedDataset {
  const emit = throttled(onProgress);
  const steps = prepareSteps(input, params);
  for (;;) {
    const r = steps.next();
    if (r.done) {
      emit({ stage: 'done', fraction: 1 });
      return r.value;
    }
    emit(r.value);
  }
}

export interface PrepareAsyncOptions {
  onProgress?: (p: PrepareProgress) => void;
  /** Aborting stops the preparation at its next step with DatasetError CANCELLED. */
  signal?: AbortSignal;
  /** Longest stretch of work between two returns to the event loop (default 50 ms). */
  yieldEveryMs?: number;
}

/**
 * Same result as prepareDataset, but returns to the event loop every `yieldEveryMs` so a worker keeps
 * renewing its queue lock and can honour a cancel while a long augmentation runs.
 */
export async function prepareDatasetAsync(input: PrepareInput, params: PrepareParams, opts: PrepareAsyncOptions = {}): Promise<PreparedDataset> {
  const emit = throttled(opts.onProgress);
  const every = opts.yieldEveryMs ?? 50;
  const checkAbort = () => {
    if (opts.signal?.aborted) throw new DatasetError('CANCELLED', 'dataset preparation was cancelled');
  };
  checkAbort();
  const steps = prepareSteps(input, params);
  let since = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) {
      emit({ stage: 'done', fraction: 1 });
      return r.value;
    }
    emit(r.value);
    if (performance.now() - since >= every) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      since = performance.now();
    }
    checkAbort();
  }
}
