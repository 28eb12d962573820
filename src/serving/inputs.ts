// Turns one prediction input into MNIST form: 784 raw pixel intensities in [0,1], ink bright on dark.
// Accepted forms: 784 numbers in [0,1]; a 28×28 array of integers 0..255; a base64 PNG/JPEG (or a
// `data:image/...;base64,` URL) of any size, which goes through the MNIST recipe (see imageToPixels).
import sharp, { type Metadata, type OutputInfo } from 'sharp';

export const MNIST_SIDE = 28;
export const MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE;
/** MNIST digits were fitted into a 20×20 box before being centred by mass in the 28×28 field. */
const FIT_BOX = 20;
/** Mean centre of mass of the MNIST test digits, in pixel-index coordinates (measured: 14.00, 13.99). */
const CENTRE = 14;

export type InputErrorCode =
  | 'INPUT_BAD_TYPE'
  | 'INPUT_BAD_LENGTH'
  | 'INPUT_BAD_SHAPE'
  | 'INPUT_NOT_FINITE'
  | 'INPUT_OUT_OF_RANGE'
  | 'IMAGE_UNDECODABLE'
  | 'IMAGE_TOO_LARGE'
  | 'IMAGE_BLANK';

/** A client error in one input; `index` is the input's position in the request's `inputs`. */
export class InputError extends Error {
  readonly code: InputErrorCode;
  readonly index: number;
  readonly details?: Record<string, unknown>;
  constructor(code: InputErrorCode, message: string, index: number, details?: Record<string, unknown>) {
    super(`inputs[${index}]: ${message}`);
    this.name = 'InputError';
    this.code = code;
    this.index = index;
    this.details = details;
  }
}

export interface InputOptions {
  /** Position of this input in the request, reported in errors. Default 0. */
  index?: number;
  /** Largest decoded image in bytes. Default 2 MiB. */
  maxImageBytes?: number;
  /** Largest image in pixels (width × height), checked from the header before decoding. Default 4 Mpx. */
  maxImagePixels?: number;
  /** Ink level (0..1, after contrast stretch) a pixel needs to count towards the digit's bounding box. */
  inkThreshold?: number;
  /** Images are first shrunk to fit this square so large photos cost bounded work. Default 1024. */
  workingSize?: number;
}

const DEFAULTS = {
  maxImageBytes: 2 * 1024 * 1024,
  maxImagePixels: 4_000_000,
  inkThreshold: 0.1,
  workingSize: 1024,
};
type Resolved = typeof DEFAULTS & { index: number };

function resolve(opts: InputOptions): Resolved {
  return {
    index: opts.index ?? 0,
    maxImageBytes: opts.maxImageBytes ?? DEFAULTS.maxImageBytes,
    maxImagePixels: opts.maxImagePixels ?? DEFAULTS.maxImagePixels,
    inkThreshold: opts.inkThreshold ?? DEFAULTS.inkThreshold,
    workingSize: opts.workingSize ?? DEFAULTS.workingSize,
  };
}

/** Converts one input to 784 [0,1] intensities (ink bright on dark) or throws an InputError. */
export async function toMnistPixels(input: unknown, opts: InputOptions = {}): Promise<Float32Array> {
  const o = resolve(opts);
  if (typeof input === 'string') return imageToPixels(input, o);
  return arrayToPixels(input, o.index);
}

/**
 * Converts a request's inputs into one n×784 batch. Images are decoded concurrently (sharp runs on
 * libuv's thread pool); when several inputs are bad, the error of the lowest index is thrown.
 */
export async function inputsToBatch(inputs: readonly unknown[], opts: InputOptions = {}): Promise<Float32Array> {
  const batch = new Float32Array(inputs.length * MNIST_PIXELS);
  const pending: Promise<void>[] = [];
  let firstError: InputError | undefined;
  const fail = (e: unknown, i: number) => {
    if (!(e instanceof InputError)) throw e;
    if (!firstError || i < firstError.index) firstError = e;
  };
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i];
    if (typeof input === 'string') {
      pending.push(
        imageToPixels(input, resolve({ ...opts, index: i })).then(
          (px) => batch.set(px, i * MNIST_PIXELS),
          (e) => fail(e, i),
        ),
      );
    } else {
      // Arrays convert synchronously and straight into the batch: no promise per input.
      try {
        arrayToPixels(input, i, batch.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS));
      } catch (e) {
        fail(e, i);
      }
    }
  }
  await Promise.all(pending);
  if (firstError) throw firstError;
  return batch;
}

// ---------------------------------------------------------------------------------------------
// Numeric arrays

/** Reads a number that may have arrived as a numeric string; undefined when it is no number at all. */
function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const t = v.trim();
    if (t === '') return undefined;
    const n = Number(t);
    if (Number.isNaN(n) && t !== 'NaN') return undefined;
    return n;
  }
  return undefined;
}

function arrayToPixels(input: unknown, index: number, out = new Float32Array(MNIST_PIXELS)): Float32Array {
  const isTyped = ArrayBuffer.isView(input) && !(input instanceof DataView);
  if (!Array.isArray(input) && !isTyped) {
    throw new InputError(
      'INPUT_BAD_TYPE',
      `expected 784 numbers, a 28×28 array or a base64 PNG/JPEG string, got ${input === null ? 'null' : typeof input}`,
      index,
    );
  }
  const arr = input as ArrayLike<unknown>;
  if (arr.length > 0 && Array.isArray(arr[0])) return gridToPixels(arr as unknown[], index, out);
  if (arr.length !== MNIST_PIXELS) {
    throw new InputError('INPUT_BAD_LENGTH', `expected 784 values, got ${arr.length}`, index, {
      expected: MNIST_PIXELS,
      actual: arr.length,
    });
  }
  for (let i = 0; i < MNIST_PIXELS; i++) {
    const raw = arr[i];
    const v = toNumber(raw);
    if (v === undefined) {
      const what = Array.isArray(raw) ? 'a nested array' : raw === null ? 'null' : typeof raw;
      throw new InputError(
        Array.isArray(raw) ? 'INPUT_BAD_SHAPE' : 'INPUT_BAD_TYPE',
        `value ${i} is ${what}, expected a number`,
        index,
        { position: i },
      );
    }
    if (!Number.isFinite(v)) throw new InputError('INPUT_NOT_FINITE', `value ${i} is ${v}`, index, { position: i });
    if (v < 0 || v > 1) {
      throw new InputError(
        'INPUT_OUT_OF_RANGE',
        `value ${i} is ${v}, outside [0,1] (send 0..255 values as a 28×28 array)`,
        index,
        { position: i, value: v },
      );
    }
    out[i] = v;
  }
  return out;
}

function gridToPixels(rows: unknown[], index: number, out: Float32Array): Float32Array {
  if (rows.length !== MNIST_SIDE) {
    throw new InputError('INPUT_BAD_SHAPE', `expected 28 rows, got ${rows.length}`, index, {
      expected: [MNIST_SIDE, MNIST_SIDE],
    });
  }
  for (let y = 0; y < MNIST_SIDE; y++) {
    const row = rows[y];
    if (!Array.isArray(row) || row.length !== MNIST_SIDE) {
      throw new InputError(
        'INPUT_BAD_SHAPE',
        `row ${y} must be an array of 28 values, got ${Array.isArray(row) ? `${row.length} values` : typeof row}`,
        index,
        { row: y },
      );
    }
    for (let x = 0; x < MNIST_SIDE; x++) {
      const v = toNumber(row[x]);
      const position = [y, x];
      if (v === undefined) {
        throw new InputError(
          Array.isArray(row[x]) ? 'INPUT_BAD_SHAPE' : 'INPUT_BAD_TYPE',
          `value [${y}][${x}] is not a number`,
          index,
          { position },
        );
      }
      if (!Number.isFinite(v)) throw new InputError('INPUT_NOT_FINITE', `value [${y}][${x}] is ${v}`, index, { position });
      if (!Number.isInteger(v) || v < 0 || v > 255) {
        throw new InputError('INPUT_OUT_OF_RANGE', `value [${y}][${x}] is ${v}, expected an integer 0..255`, index, {
          position,
          value: v,
        });
      }
      out[y * MNIST_SIDE + x] = v / 255;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Images

const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*),/i;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function decodeBase64(s: string, o: Resolved): Buffer {
  let body = s;
  const m = DATA_URL.exec(s);
  if (m) {
    if (!/;base64$/i.test(m[2]) || !/^image\//i.test(m[1])) {
      throw new InputError('IMAGE_UNDECODABLE', `data URL must be base64 image data, got "${m[0]}"`, o.index);
    }
    body = s.slice(m[0].length);
  }
  body = body.replace(/\s+/g, '');
  // Check the size before decoding so oversized payloads cost no allocation.
  const bytes = Math.floor((body.length * 3) / 4);
  if (bytes > o.maxImageBytes + 2) {
    throw new InputError('IMAGE_TOO_LARGE', `image is ${bytes} bytes, the limit is ${o.maxImageBytes}`, o.index, {
      bytes,
      maxBytes: o.maxImageBytes,
    });
  }
  if (body.length === 0 || !BASE64.test(body)) {
    throw new InputError('IMAGE_UNDECODABLE', 'string input is not valid base64', o.index);
  }
  const buf = Buffer.from(body, 'base64');
  if (buf.length > o.maxImageBytes) {
    throw new InputError('IMAGE_TOO_LARGE', `image is ${buf.length} bytes, the limit is ${o.maxImageBytes}`, o.index, {
      bytes: buf.length,
      maxBytes: o.maxImageBytes,
    });
  }
  return buf;
}

const isPng = (b: Buffer) => b.length > 8 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a;
const isJpeg = (b: Buffer) => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

/**
 * The MNIST recipe: decode → grayscale (alpha flattened onto the background that contrasts with the
 * ink) → invert when the digit is dark on light → stretch contrast → crop to the ink's bounding box →
 * fit into 20×20 keeping the aspect ratio (sharp's lanczos3, which antialiases when shrinking) → paste
 * into 28×28 with the centre of mass at (14,14).
 */
async function imageToPixels(s: string, o: Resolved): Promise<Float32Array> {
  const buf = decodeBase64(s, o);
  if (!isPng(buf) && !isJpeg(buf)) throw new InputError('IMAGE_UNDECODABLE', 'image is not a PNG or JPEG', o.index);

  let meta: Metadata;
  try {
    meta = await sharp(buf).metadata();
  } catch (e) {
    throw undecodable(e, o.index);
  }
  const { width = 0, height = 0 } = meta;
  if (width <= 0 || height <= 0) throw new InputError('IMAGE_UNDECODABLE', 'image has no size', o.index);
  if (width * height > o.maxImagePixels) {
    throw new InputError(
      'IMAGE_TOO_LARGE',
      `image is ${width}×${height} pixels, the limit is ${o.maxImagePixels}`,
      o.index,
      { width, height, maxPixels: o.maxImagePixels },
    );
  }

  let rgba: { data: Buffer; info: OutputInfo };
  try {
    rgba = await sharp(buf, { limitInputPixels: o.maxImagePixels, autoOrient: true })
      .resize({ width: o.workingSize, height: o.workingSize, fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw undecodable(e, o.index);
  }
  const w = rgba.info.width;
  const h = rgba.info.height;
  const ink = extractInk(flattenToGray(rgba.data, w, h), w, h);
  const box = ink && inkBox(ink, w, h, Math.max(1, Math.round(o.inkThreshold * 255)));
  if (!ink || !box) throw new InputError('IMAGE_BLANK', 'image holds no visible digit', o.index);

  const fitted = await sharp(ink, { raw: { width: w, height: h, channels: 1 } })
    .extract(box)
    .resize({ width: FIT_BOX, height: FIT_BOX, fit: 'inside', kernel: 'lanczos3' })
    .toColourspace('b-w') // raw one-channel input would otherwise come out as 3-channel sRGB
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const px = centreByMass(fitted.data, fitted.info.width, fitted.info.height, fitted.info.channels);
  if (!px) throw new InputError('IMAGE_BLANK', 'image holds no visible digit', o.index);
  return px;
}

function undecodable(e: unknown, index: number): InputError {
  const msg = e instanceof Error ? e.message : String(e);
  if (/pixel limit/i.test(msg)) return new InputError('IMAGE_TOO_LARGE', msg, index);
  return new InputError('IMAGE_UNDECODABLE', `image could not be decoded: ${msg}`, index);
}

/**
 * RGBA → luma (Rec. 601, as PIL's 'L' mode) with alpha flattened. Hand-rolled because sharp drops the
 * alpha channel when converting to one-channel grey, and the flatten background must be chosen from
 * the opaque pixels: dark strokes on a transparent canvas go onto white, light strokes onto black.
 */
function flattenToGray(rgba: Buffer, w: number, h: number): Uint8Array {
  const n = w * h;
  const gray = new Uint8Array(n);
  let sumA = 0;
  let sumGA = 0;
  let translucent = false;
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const g = 0.299 * rgba[j] + 0.587 * rgba[j + 1] + 0.114 * rgba[j + 2];
    const a = rgba[j + 3];
    gray[i] = g + 0.5;
    sumA += a;
    sumGA += g * a;
    if (a !== 255) translucent = true;
  }
  if (!translucent) return gray;
  const bg = sumA > 0 && sumGA / sumA < 128 ? 255 : 0;
  for (let i = 0, j = 3; i < n; i++, j += 4) {
    const a = rgba[j] / 255;
    gray[i] = gray[i] * a + bg * (1 - a) + 0.5;
  }
  return gray;
}

/** Value at fraction q of a 256-bin histogram holding `count` samples. */
function percentile(hist: Uint32Array, count: number, q: number): number {
  const target = Math.max(1, Math.ceil(q * count));
  let acc = 0;
  for (let v = 0; v < 256; v++) {
    acc += hist[v];
    if (acc >= target) return v;
  }
  return 255;
}

/** Below this grey-level spread between background and strongest ink the image is treated as blank. */
const MIN_CONTRAST = 24;

/**
 * Grey → ink (0 = background, 255 = strongest ink). The background level is the median of a border
 * ring; the image is inverted when that level is nearer the brightest than the darkest pixel. The
 * border's spread (90th percentile distance from the background) is taken as noise and removed, then
 * the rest is stretched to full range. Clean inputs (exact background) pass through unchanged.
 */
function extractInk(gray: Uint8Array, w: number, h: number): Uint8Array | undefined {
  const hist = new Uint32Array(256);
  for (let i = 0; i < gray.length; i++) hist[gray[i]]++;
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
        borderHist[gray[y * w + x]]++;
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
    const d = (invert ? bg - gray[i] : gray[i] - bg) - noise;
    ink[i] = d <= 0 ? 0 : Math.min(255, d * scale + 0.5);
  }
  return ink;
}

/** Bounding box of pixels at or above `threshold`, as a sharp extract region. */
function inkBox(ink: Uint8Array, w: number, h: number, threshold: number) {
  let x0 = w;
  let x1 = -1;
  let y0 = h;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      if (ink[row + x] >= threshold) {
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
 * Places the fitted digit (≤ 20×20) into 28×28 so its centre of mass lands at (14,14), stretched so
 * its brightest pixel is 1 (every MNIST digit peaks at 254–255). The shift is clamped so no ink falls
 * off the field.
 */
function centreByMass(patch: Uint8Array, pw: number, ph: number, channels: number): Float32Array | undefined {
  let mass = 0;
  let mx = 0;
  let my = 0;
  let peak = 0;
  for (let y = 0; y < ph; y++) {
    for (let x = 0; x < pw; x++) {
      const v = patch[(y * pw + x) * channels];
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
      out[(oy + y) * MNIST_SIDE + ox + x] = patch[(y * pw + x) * channels] / peak;
    }
  }
  return out;
}
