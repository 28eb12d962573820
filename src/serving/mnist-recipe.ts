// The MNIST recipe on raw pixels, once for the server (src/serving/inputs.ts, around sharp) and the
// browser (web/src/mnist.ts, around a canvas): grayscale with alpha flattened → invert when dark on
// light → stretch contrast → crop to the ink's bounding box → (the caller fits the crop into 20×20)
// → paste into 28×28 centred by mass, brightest pixel 1. Only the resampling differs between the two.
// Pure TypeScript on typed arrays: no imports at all (no Node, no sharp, no TensorFlow), because the
// web build compiles this very file (test/serving/mnist-recipe.test.ts keeps it so).

export const MNIST_SIDE = 28;
export const MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE;
/** MNIST digits were fitted into a 20×20 box before being centred by mass in the 28×28 field. */
export const FIT_BOX = 20;
/** Mean centre of mass of the MNIST test digits, in pixel-index coordinates (measured: 14.00, 13.99). */
const CENTRE = 14;
/** Below this grey-level spread between background and strongest ink the image is treated as blank. */
const MIN_CONTRAST = 24;
/** Default ink level (0..1, after contrast stretch) a pixel needs to count towards the digit's bounding box. */
export const INK_THRESHOLD = 0.1;

/** Read-only bytes: a Node Buffer, a Uint8Array or a canvas's Uint8ClampedArray. */
type Bytes = ArrayLike<number>;

/** A region of the image, as sharp's extract takes it. */
export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * RGBA (w×h×4) → the digit as ink (0 = background, 255 = strongest) and the bounding box of the pixels
 * at or above `inkThreshold`; undefined when the image holds no visible digit.
 */
export function findDigit(rgba: Bytes, w: number, h: number, inkThreshold = INK_THRESHOLD): { ink: Uint8Array; box: Box } | undefined {
  const ink = extractInk(flattenToGray(rgba, w, h), w, h);
  const box = ink && inkBox(ink, w, h, Math.max(1, Math.round(inkThreshold * 255)));
  return ink && box ? { ink, box } : undefined;
}

/**
 * The size of `box` fitted into 20×20 keeping its aspect ratio: what sharp's `fit: 'inside'` makes
 * (it divides by the shrink factor, which rounds 7.5 down where a multiplication would round it up).
 */
export function fitSize(box: { width: number; height: number }): { width: number; height: number } {
  const shrink = Math.max(box.width, box.height) / FIT_BOX;
  const side = (v: number) => Math.max(1, Math.min(FIT_BOX, Math.round(v / shrink)));
  return { width: side(box.width), height: side(box.height) };
}

/**
 * RGBA → luma (Rec. 601, as PIL's 'L' mode) with alpha flattened. Hand-rolled because sharp drops the
 * alpha channel when converting to one-channel grey, and the flatten background must be chosen from
 * the opaque pixels: dark strokes on a transparent canvas go onto white, light strokes onto black.
 */
export function flattenToGray(rgba: Bytes, w: number, h: number): Uint8Array {
  const n = w * h;
  const gray = new Uint8Array(n);
  let sumA = 0;
  let sumGA = 0;
  let translucent = false;
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const g = 0.299 * rgba[j]! + 0.587 * rgba[j + 1]! + 0.114 * rgba[j + 2]!;
    const a = rgba[j + 3]!;
    gray[i] = g + 0.5;
    sumA += a;
    sumGA += g * a;
    if (a !== 255) translucent = true;
  }
  if (!translucent) return gray;
  const bg = sumA > 0 && sumGA / sumA < 128 ? 255 : 0;
  for (let i = 0, j = 3; i < n; i++, j += 4) {
    const a = rgba[j]! / 255;
    gray[i] = gray[i]! * a + bg * (1 - a) + 0.5;
  }
  return gray;
}

/** Value at fraction q of a 256-bin histogram holding `count` samples. */
function percentile(hist: Uint32Array, count: number, q: number): number {
  const target = Math.max(1, Math.ceil(q * count));
  let acc = 0;
  for (let v = 0; v < 256; v++) {
    acc += hist[v]!;
    if (acc >= target) return v;
  }
  return 255;
}

/**
 * Grey → ink (0 = background, 255 = strongest ink). The background level is the median of a border
 * ring; the image is inverted when that level is nearer the brightest than the darkest pixel. The
 * border's spread (90th percentile distance from the background) is taken as noise and removed, then
 * the rest is stretched to full range. Clean inputs (exact background) pass through unchanged.
 */
export function extractInk(gray: Uint8Array, w: number, h: number): Uint8Array | undefined {
  const hist = new Uint32Array(256);
  for (let i = 0; i < gray.length; i++) hist[gray[i]!]!++;
  let lo = 0;
  while (hist[lo] === 0) lo++;
  let hi = 255;
  while (hist[hi] === 0) hi--;

  const ring = Math.max(1, Math.floor(Math.min(w, h) / MNIST_SIDE));
  const borderHist = new Uint32Array(256);
  let borderCount = 0;
  for (let y = 0; y < h; y++) {
    const edgeRow = y < ring || y >= h - ring;
    for (let x = 0; x < w; x++) {
      if (edgeRow || x < ring || x >= w - ring) {
        borderHist[gray[y * w + x]!]!++;
        borderCount++;
      }
    }
  }
  const bg = percentile(borderHist, borderCount, 0.5);
  const invert = bg - lo > hi - bg;
  const contrast = invert ? bg - lo : hi - bg;
  if (contrast < MIN_CONTRAST) return undefined;

  // Noise: how far the border strays from the background towards the ink side.
  const noiseQ = invert ? percentile(borderHist, borderCount, 0.1) : percentile(borderHist, borderCount, 0.9);
  const noise = Math.min(Math.abs(noiseQ - bg), Math.floor(contrast * 0.3));
  const scale = 255 / (contrast - noise);
  const ink = new Uint8Array(gray.length);
  for (let i = 0; i < gray.length; i++) {
    const d = (invert ? bg - gray[i]! : gray[i]! - bg) - noise;
    ink[i] = d <= 0 ? 0 : Math.min(255, d * scale + 0.5);
  }
  return ink;
}

/** Bounding box of pixels at or above `threshold` (0..255). */
export function inkBox(ink: Uint8Array, w: number, h: number, threshold: number): Box | undefined {
  let x0 = w;
  let x1 = -1;
  let y0 = h;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      if (ink[row + x]! >= threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  if (x1 < 0) return undefined;
  return { left: x0, top: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/**
 * Places the fitted digit (≤ 20×20, `channels` bytes a pixel, the first one read) into 28×28 so its
 * centre of mass lands at (14,14), stretched so its brightest pixel is 1 (every MNIST digit peaks at
 * 254–255). The shift is clamped so no ink falls off the field. Undefined when the patch is all zero.
 */
export function centreByMass(patch: Bytes, pw: number, ph: number, channels: number): Float32Array | undefined {
  let mass = 0;
  let mx = 0;
  let my = 0;
  let peak = 0;
  for (let y = 0; y < ph; y++) {
    for (let x = 0; x < pw; x++) {
      const v = patch[(y * pw + x) * channels]!;
      mass += v;
      mx += v * x;
      my += v * y;
      if (v > peak) peak = v;
    }
  }
  if (mass === 0) return undefined;
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  const ox = clamp(Math.round(CENTRE - mx / mass), MNIST_SIDE - pw);
  const oy = clamp(Math.round(CENTRE - my / mass), MNIST_SIDE - ph);
  const out = new Float32Array(MNIST_PIXELS);
  for (let y = 0; y < ph; y++) {
    for (let x = 0; x < pw; x++) {
      out[(oy + y) * MNIST_SIDE + ox + x] = patch[(y * pw + x) * channels]! / peak;
    }
  }
  return out;
}
