// Model-input normalization for serving. Serving pixels are already [0,1] floats (see inputs.ts), so
// this is the float twin of src/ml/data/normalize.ts, which maps uint8 dataset pixels.
import type { Normalization } from '../ml/types.js';

/** Throws when the normalization could not have come from a valid training run. */
export function checkNormalization(norm: Normalization): void {
  if (norm.kind !== 'zero-one' && norm.kind !== 'minus-one-one' && norm.kind !== 'standardize') {
    throw new Error(`unknown normalization kind ${String((norm as { kind: unknown }).kind)}`);
  }
  if (norm.kind === 'standardize' && !(Number.isFinite(norm.mean) && norm.std > 0 && Number.isFinite(norm.std))) {
    throw new Error(`standardize needs a finite mean and std > 0, got mean ${norm.mean}, std ${norm.std}`);
  }
}

/**
 * zero-one: p; minus-one-one: 2p−1; standardize: (p−mean)/std. Writes into `out` (which may be
 * `pixels` itself) and returns it; the input is never modified unless it is also `out`.
 */
export function normalizePixels(
  pixels: Float32Array,
  norm: Normalization,
  out: Float32Array = new Float32Array(pixels.length),
): Float32Array {
  checkNormalization(norm);
  // One affine map p·a + b covers all three kinds.
  let a = 1;
  let b = 0;
  if (norm.kind === 'minus-one-one') {
    a = 2;
    b = -1;
  } else if (norm.kind === 'standardize') {
    a = 1 / norm.std;
    b = -norm.mean / norm.std;
  }
  if (a === 1 && b === 0) {
    if (out !== pixels) out.set(pixels);
    return out;
  }
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i] * a + b;
  return out;
}
