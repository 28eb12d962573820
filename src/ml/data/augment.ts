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
 * `noise` (height×width values in grey levels, see fillGaussian) when given; rounds/clamps to 0..255.
 */
export function warpImage(
  src: Uint8Array,
  dst: Uint8Array,
  height: number,
  width: number,
  t: AffineDraw,
  noise?: Float32Array,
): void {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const cos = Math.cos(t.angleRad) / t.scale;
  const sin = Math.sin(t.angleRad) / t.scale;
  const maxX = width - 1;
  const maxY = height - 1;
  // Bounding box of the non-zero source pixels: output pixels whose 2×2 source neighbourhood lies
  // outside it are black without any reads (on MNIST about half of them, the digit is ~20×20 of 28×28).
  let bx0 = width, bx1 = -1, by0 = height, by1 = -1;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      if (src[i] !== 0) {
        if (x < bx0) bx0 = x;
        if (x > bx1) bx1 = x;
        if (y < by0) by0 = y;
        by1 = y;
      }
    }
  }
  const loX = bx0 - 1, hiX = bx1, loY = by0 - 1, hiY = by1;
  let o = 0;
  for (let y = 0; y < height; y++) {
    const Y = y - cy - t.dy;
    // Source coordinates of the row's first pixel; they advance by (cos, −sin) per output pixel.
    const X0 = -cx - t.dx;
    let sx = cx + cos * X0 + sin * Y;
    let sy = cy - sin * X0 + cos * Y;
    for (let x = 0; x < width; x++, o++, sx += cos, sy -= sin) {
      const x0 = Math.floor(sx) | 0; // int32 indices keep the arithmetic below in integer registers
      const y0 = Math.floor(sy) | 0;
      let v = 0;
      if (x0 < loX || x0 > hiX || y0 < loY || y0 > hiY) {
        // all four neighbours are zero
      } else if (x0 >= 0 && y0 >= 0 && x0 < maxX && y0 < maxY) {
        const fx = sx - x0;
        const fy = sy - y0;
        const i = y0 * width + x0;
        const top = src[i]! + (src[i + 1]! - src[i]!) * fx;
        const bottom = src[i + width]! + (src[i + width + 1]! - src[i + width]!) * fx;
        v = top + (bottom - top) * fy;
      } else {
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
      if (noise) v += noise[o]!;
      dst[o] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
    }
  }
}

function pixelOrZero(src: Uint8Array, width: number, height: number, x: number, y: number): number {
  return x >= 0 && y >= 0 && x < width && y < height ? src[y * width + x]! : 0;
}

const TABLE_BITS = 16;
let normalTable: Float32Array | undefined;

/**
 * Fills `out` with N(0, sigma²) deviates by table lookup: the standard normal quantiles at the
 * 65536 midpoints (k + ½)/65536, two 16-bit indices per 32-bit draw. Noise is one draw per pixel
 * and dominated augmentation time with Box–Muller; this is several times quicker, and the table's
 * resolution (≤0.003σ near the centre, tails cut at ±4.3σ) is far finer than the rounding of the
 * result to whole grey levels.
 */
export function fillGaussian(out: Float32Array, sigma: number, rng: { int32(): number }): Float32Array {
  normalTable ??= buildNormalTable();
  const table = normalTable;
  const mask = (1 << TABLE_BITS) - 1;
  let i = 0;
  for (; i + 1 < out.length; i += 2) {
    const r = rng.int32();
    out[i] = sigma * table[r & mask]!;
    out[i + 1] = sigma * table[(r >>> TABLE_BITS) & mask]!;
  }
  if (i < out.length) out[i] = sigma * table[rng.int32() & mask]!;
  return out;
}

function buildNormalTable(): Float32Array {
  const n = 1 << TABLE_BITS;
  const t = new Float32Array(n);
  for (let k = 0; k < n; k++) t[k] = normalQuantile((k + 0.5) / n);
  return t;
}

/**
 * Inverse of the standard normal CDF, P. J. Acklam's rational approximation (relative error
 * < 1.2e-9). Hand-written: it is only used to fill the table above, and JS has no erfinv.
 */
export function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

// ---- on the fly, in the training loop --------------------------------------------------------
// A fresh random transform of every training image at every step (rather than fixed copies made
// once at dataset preparation): the model never sees the same distorted image twice. Works on the
// normalized float batch the loop builds, per batch, from an RNG seeded with (seed, epoch, batch) so a
// run (and a resumed run) is reproducible from its seed. Labels are untouched: the transforms are
// small rotations, shifts, scalings and elastic distortions, never flips.

export interface ElasticParams {
  /** Displacement scale, pixels (Simard et al. 2003 use 34 for 28×28 with sigma 4: strong). */
  alpha: number;
  /** Standard deviation of the gaussian smoothing the random displacement field, pixels. */
  sigma: number;
}

export interface OnlineAugment {
  rotationDeg: number;
  shiftPx: number;
  scale: [number, number];
  /** Elastic distortion on top of the affine transform; omitted or null: none. */
  elastic?: ElasticParams | null;
  /** Mirror left–right with probability ½: for mirror-symmetric classes (clothes), never for digits. */
  flip?: boolean;
}

/** Separable gaussian blur of a height×width field in place (zero padding). */
function blur(field: Float32Array, height: number, width: number, kernel: Float32Array, tmp: Float32Array): void {
  const r = (kernel.length - 1) >> 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) {
        const xx = x + k;
        if (xx >= 0 && xx < width) s += kernel[k + r]! * field[y * width + xx]!;
      }
      tmp[y * width + x] = s;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) {
        const yy = y + k;
        if (yy >= 0 && yy < height) s += kernel[k + r]! * tmp[yy * width + x]!;
      }
      field[y * width + x] = s;
    }
  }
}

function gaussianKernel(sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  return k;
}

/**
 * Augments `n` height×width float images of `batch` in place. Each image gets its own draw of the
 * affine transform (and displacement field); pixels mapped from outside the image take the image's
 * minimum (its background, whatever the normalization).
 */
export function augmentBatch(batch: Float32Array, n: number, height: number, width: number, p: OnlineAugment, rng: Rng): void {
  const px = height * width;
  const src = new Float32Array(px);
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const elastic = p.elastic && p.elastic.alpha > 0 ? p.elastic : null;
  const kernel = elastic ? gaussianKernel(elastic.sigma) : null;
  const dxField = new Float32Array(elastic ? px : 0);
  const dyField = new Float32Array(elastic ? px : 0);
  const tmp = new Float32Array(elastic ? px : 0);
  const affine: AugmentParams = { copies: 1, rotationDeg: p.rotationDeg, shiftPx: p.shiftPx, scale: p.scale, noiseStd: 0 };
  for (let i = 0; i < n; i++) {
    const img = batch.subarray(i * px, (i + 1) * px);
    src.set(img);
    let fill = Infinity;
    for (let j = 0; j < px; j++) if (src[j]! < fill) fill = src[j]!;
    const t = drawAffine(affine, rng);
    // Drawn only when enabled, so runs without flips keep their random stream.
    const mirror = p.flip === true && rng() < 0.5;
    if (elastic) {
      for (let j = 0; j < px; j++) {
        dxField[j] = rng() * 2 - 1;
        dyField[j] = rng() * 2 - 1;
      }
      blur(dxField, height, width, kernel!, tmp);
      blur(dyField, height, width, kernel!, tmp);
    }
    const cos = Math.cos(t.angleRad) / t.scale;
    const sin = Math.sin(t.angleRad) / t.scale;
    const at = (x: number, y: number) => (x >= 0 && y >= 0 && x < width && y < height ? src[y * width + x]! : fill);
    for (let y = 0, o = 0; y < height; y++) {
      for (let x = 0; x < width; x++, o++) {
        // Inverse map: output pixel → source position (as warpImage above), plus the elastic shift.
        const X = (mirror ? width - 1 - x : x) - cx - t.dx;
        const Y = y - cy - t.dy;
        let sx = cx + cos * X + sin * Y;
        let sy = cy - sin * X + cos * Y;
        if (elastic) {
          sx += elastic.alpha * dxField[o]!;
          sy += elastic.alpha * dyField[o]!;
        }
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const fx = sx - x0;
        const fy = sy - y0;
        const top = at(x0, y0) + (at(x0 + 1, y0) - at(x0, y0)) * fx;
        const bottom = at(x0, y0 + 1) + (at(x0 + 1, y0 + 1) - at(x0, y0 + 1)) * fx;
        img[o] = top + (bottom - top) * fy;
      }
    }
  }
}
