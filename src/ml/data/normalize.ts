// Normalization is recorded with a dataset, not baked into its files: splits stay uint8 (4× smaller
// than float32) and every consumer turns pixels into model inputs the same way through this module.
import type { Normalization, } from '../types.js';
import { DatasetError } from './errors.js';

/** Pixel statistics on the [0,1] scale. */
export interface PixelStats {
  mean: number;
  std: number;
}

/** The 256 float values a pixel byte maps to; a table lookup beats per-pixel arithmetic. */
export function normalizationTable(norm: Normalization): Float32Array {
  const table = new Float32Array(256);
  for (let p = 0; p < 256; p++) {
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
      default:
        throw new DatasetError('INVALID_PARAMS', `unknown normalization ${(norm as Normalization).kind}`);
    }
  }
  return table;
}

/** zero-one: p/255; minus-one-one: p/127.5−1; standardize: (p/255−mean)/std. */
export function applyNormalization(pixels: Uint8Array, norm: Normalization): Float32Array {
  if (norm.kind === 'standardize' && !(norm.std > 0)) {
    throw new DatasetError('INVALID_PARAMS', `standardize needs std > 0, got ${norm.std}`);
  }
  const table = normalizationTable(norm);
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = table[pixels[i]!]!;
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
