// Training-set augmentation: for each copy of each image, one random affine transform (rotation
// about the centre, isotropic scale, sub-pixel shift) sampled bilinearly, plus gaussian noise.
// Written as plain typed-array loops rather than TensorFlow ops: a per-image 2×3 affine warp is a
// few multiply-adds per pixel, needs no tensor allocation or backend, and runs at hundreds of
// thousands of 28×28 images per second on one core. No horizontal flip is offered: mirroring
// changes what a digit is (or makes it no digit at all), see AUGMENT_FLIP_UNSUPPORTED.
import type { Rng } from './split.js';

export interface AugmentParams {
  /** Extra augmented copies per training image (0 = none). */
  copies: number;
  /** Maximum absolute rotation, degrees; each copy draws uniformly from [−rotationDeg, rotationDeg]. */
  rotationDeg: number;
  /** Maximum absolute shift per axis, pixels (sub-pixel values are drawn too). */
  shiftPx: number;
  /** Range of the isotropic scale factor, drawn uniformly. */
  scale: [number, number];
  /** Standard deviation of additive gaussian noise on the [0,1] pixel scale (0.05 ≈ 13 grey levels). */
  noiseStd: number;
}

export interface AffineDraw {
  angleRad: number;
  scale: number;
  dx: number;
  dy: number;
}

export function drawAffine(p: AugmentParams, rng: Rng): AffineDraw {
  const angleRad = ((rng() * 2 - 1) * p.rotationDeg * Math.PI) / 180;
  const scale = p.scale[0] + rng() * (p.scale[1] - p.scale[0]);
  const dx = (rng() * 2 - 1) * p.shiftPx;
  const dy = (rng() * 2 - 1) * p.shiftPx;
  return { angleRad, scale, dx, dy };
}

/**
 * Warps one height×width image `src` into `dst` (same size). For every output pixel the inverse
 * transform gives the source position, read by bilinear interpolation with zeros outside. Adds
 * N(0, noiseSigma²) in grey levels when noiseSigma > 0 and rounds/clamps to 0..255.
 */
export function warpImage(
  src: Uint8Array,
  dst: Uint8Array,
  height: number,
  width: number,
  t: AffineDraw,
  noiseSigma: number,
  gaussian: () => number,
): void {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const cos = Math.cos(t.angleRad) / t.scale;
  const sin = Math.sin(t.angleRad) / t.scale;
  const maxX = width - 1;
  const maxY = height - 1;
  let o = 0;
  for (let y = 0; y < height; y++) {
    const Y = y - cy - t.dy;
    // Source coordinates of the row's first pixel; they advance by (cos, −sin) per output pixel.
    const X0 = -cx - t.dx;
    let sx = cx + cos * X0 + sin * Y;
    let sy = cy - sin * X0 + cos * Y;
    for (let x = 0; x < width; x++, o++, sx += cos, sy -= sin) {
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      let v = 0;
      if (x0 >= 0 && y0 >= 0 && x0 < maxX && y0 < maxY) {
        const fx = sx - x0;
        const fy = sy - y0;
        const i = y0 * width + x0;
        const top = src[i]! + (src[i + 1]! - src[i]!) * fx;
        const bottom = src[i + width]! + (src[i + width + 1]! - src[i + width]!) * fx;
        v = top + (bottom - top) * fy;
      } else if (x0 >= -1 && y0 >= -1 && x0 <= maxX && y0 <= maxY) {
        // Border: neighbours outside the image count as black.
        const fx = sx - x0;
        const fy = sy - y0;
        const a = pixelOrZero(src, width, height, x0, y0);
        const b = pixelOrZero(src, width, height, x0 + 1, y0);
        const c = pixelOrZero(src, width, height, x0, y0 + 1);
        const d = pixelOrZero(src, width, height, x0 + 1, y0 + 1);
        const top = a + (b - a) * fx;
        v = top + (c + (d - c) * fx - top) * fy;
      }
      if (noiseSigma > 0) v += noiseSigma * gaussian();
      dst[o] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
}

function pixelOrZero(src: Uint8Array, width: number, height: number, x: number, y: number): number {
  return x >= 0 && y >= 0 && x < width && y < height ? src[y * width + x]! : 0;
}

/**
 * Standard normal deviates by Marsaglia's polar method (no trigonometry, one log and sqrt per pair),
 * caching the second value of each pair. Noise draws dominate augmentation time, hence this choice.
 */
export function makeGaussian(rng: Rng): () => number {
  let spare = 0;
  let hasSpare = false;
  return () => {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    let u: number, v: number, s: number;
    do {
      u = rng() * 2 - 1;
      v = rng() * 2 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    spare = v * f;
    hasSpare = true;
    return u * f;
  };
}
