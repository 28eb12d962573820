// Turns one prediction input into MNIST form: 784 raw pixel intensities in [0,1], ink bright on dark.
// Accepted forms: 784 numbers in [0,1]; a 28×28 array of integers 0..255; a base64 PNG/JPEG (or a
// `data:image/...;base64,` URL) of any size, which goes through the MNIST recipe (see imageToPixels).
// The recipe's pixel steps are src/serving/mnist-recipe.ts, shared with the dashboard; this module
// adds decoding, limits and the 20×20 fit with sharp.
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { centreByMass, FIT_BOX, findDigit, INK_THRESHOLD, MNIST_PIXELS, MNIST_SIDE } from './mnist-recipe.js';

export { MNIST_PIXELS, MNIST_SIDE } from './mnist-recipe.js';

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
  inkThreshold: INK_THRESHOLD,
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
      throw new InputError(Array.isArray(raw) ? 'INPUT_BAD_SHAPE' : 'INPUT_BAD_TYPE', `value ${i} is ${what}, expected a number`, index, { position: i });
    }
    if (!Number.isFinite(v)) throw new InputError('INPUT_NOT_FINITE', `value ${i} is ${v}`, index, { position: i });
    if (v < 0 || v > 1) {
      throw new InputError('INPUT_OUT_OF_RANGE', `value ${i} is ${v}, outside [0,1] (send 0..255 values as a 28×28 array)`, index, { position: i, value: v });
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
        throw new InputError(Array.isArray(row[x]) ? 'INPUT_BAD_SHAPE' : 'INPUT_BAD_TYPE', `value [${y}][${x}] is not a number`, index, { position });
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
    throw new InputError('IMAGE_TOO_LARGE', `image is ${width}×${height} pixels, the limit is ${o.maxImagePixels}`, o.index, {
      width,
      height,
      maxPixels: o.maxImagePixels,
    });
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
  const digit = findDigit(rgba.data, w, h, o.inkThreshold);
  if (!digit) throw new InputError('IMAGE_BLANK', 'image holds no visible digit', o.index);
  const { ink, box } = digit;

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
