// Normalization is recorded with a dataset, not baked into its files: splits stay uint8 (4× smaller
// than float32) and every consumer turns pixels into model inputs the same way through this module,
// whether it holds dataset bytes (0–255) or serving pixels already on the [0,1] scale. Plain
// arithmetic, no TensorFlow: the serving inference thread loads it too.
import { NORMALIZATIONS } from '../catalog.js';
import type { Normalization } from '../types.js';
import { DatasetError } from './errors.js';

/** Pixel statistics on the [0,1] scale. */
export interface PixelStats {
  mean: number;
  std: number;
}

/** Throws (INVALID_PARAMS) when the normalization could not have come from a valid training run. */
export function checkNormalization(norm: Normalization): void {
  if (!(NORMALIZATIONS as readonly string[]).includes(norm.kind)) {
    throw new DatasetError('INVALID_PARAMS', `unknown normalization ${String((norm as { kind: unknown }).kind)}`);
  }
  if (norm.kind === 'standardize' && !(Number.isFinite(norm.mean) && norm.std > 0 && Number.isFinite(norm.std))) {
    throw new DatasetError('INVALID_PARAMS', `standardize needs a finite mean and std > 0, got mean ${norm.mean}, std ${norm.std}`);
  }
}

/**
 * The map from a [0,1] pixel p to a model input as p·scale + offset: zero-one p; minus-one-one
 * 2p−1; standardize (p−mean)/std. One affine map covers the three kinds.
 */
export function normalizationAffine(norm: Normalization): { scale: number; offset: number } {
  checkNormalization(norm);
  switch (norm.kind) {
    case 'zero-one':
      return { scale: 1, offset: 0 };
    case 'minus-one-one':
      return { scale: 2, offset: -1 };
    case 'standardize':
      return { scale: 1 / norm.std, offset: -norm.mean / norm.std };
  }
}

/** The 256 float values a pixel byte maps to; a table lookup beats per-pixel arithmetic. */
export function normalizationTable(norm: Normalization): Float32Array {
  checkNormalization(norm);
  const table = new Float32Array(256);
  for (let p = 0; p < 256; p++) {
    // Written per kind (not through normalizationAffine) so that zero-one is exactly p/255.
    switch (norm.kind) {
      case 'zero-one':
        table[p] = p / 255;
        break;
      case 'minus-one-one':
        table[p] = p / 127.5 - 1;
        break;
      case 'standardize':
        table[p] = (p / 255 - norm.mean) / norm.std;
        break;
    }
  }
  return table;
}

/** Dataset bytes to model inputs: zero-one p/255; minus-one-one p/127.5−1; standardize (p/255−mean)/std. */
export function applyNormalization(pixels: Uint8Array, norm: Normalization): Float32Array {
  const table = normalizationTable(norm);
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = table[pixels[i]!]!;
  return out;
}

/**
 * [0,1] float pixels (as serving decodes them) to model inputs, by the same kinds as
 * applyNormalization. Writes into `out` (which may be `pixels` itself) and returns it; the input
 * is never modified unless it is also `out`.
 */
export function normalizePixels(
  pixels: Float32Array,
  norm: Normalization,
  out: Float32Array = new Float32Array(pixels.length),
): Float32Array {
  const { scale, offset } = normalizationAffine(norm);
  if (scale === 1 && offset === 0) {
    if (out !== pixels) out.set(pixels);
    return out;
  }
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i]! * scale + offset;
  return out;
}

/** Counts how often each byte value occurs; exact integer statistics come from this histogram. */
export function pixelHistogram(pixels: Uint8Array, into: Float64Array = new Float64Array(256)): Float64Array {
  // Four interleaved counters avoid the store-to-load stall on runs of equal pixels (mostly zeros).
  const h0 = new Uint32Array(256), h1 = new Uint32Array(256), h2 = new Uint32Array(256), h3 = new Uint32Array(256);
  const n = pixels.length;
  const CHUNK = 1 << 30; // keep Uint32 counters from overflowing on huge inputs
  for (let start = 0; start < n; start += CHUNK) {
    const end = Math.min(n, start + CHUNK);
    let i = start;
    for (; i + 4 <= end; i += 4) {
      h0[pixels[i]!]!++;
      h1[pixels[i + 1]!]!++;
      h2[pixels[i + 2]!]!++;
      h3[pixels[i + 3]!]!++;
    }
    for (; i < end; i++) h0[pixels[i]!]!++;
    for (let v = 0; v < 256; v++) {
      into[v] = into[v]! + h0[v]! + h1[v]! + h2[v]! + h3[v]!;
      h0[v] = h1[v] = h2[v] = h3[v] = 0;
    }
  }
  return into;
}

/** Mean and (population) standard deviation on the [0,1] scale from a byte histogram. */
export function statsFromHistogram(hist: Float64Array): PixelStats {
  let n = 0, s = 0, s2 = 0;
  for (let v = 0; v < 256; v++) {
    const c = hist[v]!;
    n += c;
    s += c * v;
    s2 += c * v * v;
  }
  if (n === 0) return { mean: 0, std: 0 };
  const mean = s / n;
  const variance = Math.max(0, s2 / n - mean * mean);
  return { mean: mean / 255, std: Math.sqrt(variance) / 255 };
}

export function pixelStats(pixels: Uint8Array): PixelStats {
  return statsFromHistogram(pixelHistogram(pixels));
}
