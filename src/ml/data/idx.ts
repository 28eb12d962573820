// IDX reader/writer (the format MNIST ships in: http://yann.lecun.com/exdb/mnist/ layout).
// Header: two zero bytes, a data-type byte (0x08 = unsigned byte), a dimension count, then one
// big-endian uint32 per dimension; the data follows row-major. We only handle ubyte data: images
// are 3-d (count × height × width, magic 0x00000803) and labels 1-d (magic 0x00000801).
// Hand-rolled because the format is ~20 lines and npm's IDX readers are unmaintained, skip length
// checks, or copy the data into JS arrays; here decoded data is a zero-copy view of the file bytes.
import { readFile } from 'node:fs/promises';
import { gunzip, gunzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import { DatasetError } from './errors.js';

const gunzipAsync = promisify(gunzip);

export const IDX_UBYTE = 0x08;
export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;
/** Refuse to inflate more than this (a gzip bomb guard); MNIST train images are 47 MB. */
export const DEFAULT_MAX_INFLATED_BYTES = 1024 * 1024 * 1024;

const DTYPE_NAMES: Record<number, string> = {
  8: 'ubyte',
  9: 'sbyte',
  11: 'int16',
  12: 'int32',
  13: 'float32',
  14: 'float64',
};

export interface IdxImages {
  images: Uint8Array;
  count: number;
  height: number;
  width: number;
}

export interface IdxLabels {
  labels: Uint8Array;
  count: number;
}

/** Images and their labels of one source split, as read from IDX files. */
export interface RawSplit {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/** A source dataset in memory: the official train and test splits of one image shape. */
export interface RawDataset {
  train: RawSplit;
  test: RawSplit;
  height: number;
  width: number;
}

export interface SourceFiles {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function gzipError(err: unknown, label: string, maxBytes: number): DatasetError {
  const code = (err as { code?: string }).code;
  if (code === 'ERR_BUFFER_TOO_LARGE') {
    return new DatasetError('GZIP_CORRUPT', `${label}: inflates to more than ${maxBytes} bytes`, { file: label }, { cause: err });
  }
  return new DatasetError('GZIP_CORRUPT', `${label}: corrupt or truncated gzip data (${(err as Error).message})`, { file: label }, { cause: err });
}

/** Returns the bytes inflated when they start with the gzip magic 1f 8b, else unchanged. */
export function gunzipIfNeeded(bytes: Uint8Array, label = 'data', maxBytes = DEFAULT_MAX_INFLATED_BYTES): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (err) {
    throw gzipError(err, label, maxBytes);
  }
}

async function gunzipIfNeededAsync(bytes: Uint8Array, label: string, maxBytes: number): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  try {
    // Async so a 26 MB inflate runs on libuv's pool instead of blocking the worker's event loop.
    return await gunzipAsync(bytes, { maxOutputLength: maxBytes });
  } catch (err) {
    throw gzipError(err, label, maxBytes);
  }
}

/** Parses an IDX header and checks type, dimension count and total length; returns dims and data view. */
function decodeIdx(raw: Uint8Array, expectedDims: number, label: string): { dims: number[]; data: Uint8Array } {
  const bytes = gunzipIfNeeded(raw, label);
  const expectedMagic = expectedDims === 3 ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
  const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
  if (bytes.length < 4) {
    throw new DatasetError('IDX_TRUNCATED', `${label}: ${bytes.length} bytes, too short for an IDX header`, { file: label });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DatasetError('IDX_BAD_MAGIC', `${label}: magic number ${hex(magic)} is not IDX (expected ${hex(expectedMagic)})`, {
      file: label,
      magic: hex(magic),
    });
  }
  const dtype = bytes[2]!;
  if (dtype !== IDX_UBYTE) {
    const name = DTYPE_NAMES[dtype] ?? 'unknown';
    throw new DatasetError('IDX_BAD_DTYPE', `${label}: IDX data type 0x${dtype.toString(16)} (${name}); only unsigned byte (0x08) is supported`, {
      file: label,
      dtype,
    });
  }
  const ndims = bytes[3]!;
  if (ndims !== expectedDims) {
    const kind = ndims === 3 ? ' (an images file)' : ndims === 1 ? ' (a labels file)' : '';
    throw new DatasetError('IDX_BAD_MAGIC', `${label}: magic number ${hex(magic)}${kind}, expected ${hex(expectedMagic)} (${expectedDims}-d)`, {
      file: label,
      magic: hex(magic),
    });
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new DatasetError('IDX_TRUNCATED', `${label}: header cut short (${bytes.length} of ${headerBytes} bytes)`, { file: label });
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expectedData = dims.reduce((a, b) => a * b, 1);
  const actualData = bytes.length - headerBytes;
  if (actualData < expectedData) {
    throw new DatasetError('IDX_TRUNCATED', `${label}: dimensions [${dims.join(', ')}] need ${expectedData} data bytes, file has ${actualData}`, {
      file: label,
      dims,
      expectedBytes: expectedData,
      actualBytes: actualData,
    });
  }
  if (actualData > expectedData) {
    throw new DatasetError('IDX_TRAILING_BYTES', `${label}: ${actualData - expectedData} bytes after the data of dimensions [${dims.join(', ')}]`, {
      file: label,
      dims,
    });
  }
  // A plain Uint8Array view (not a Buffer, even when the bytes came from fs or zlib): one type for callers.
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, expectedData) };
}

/** Decodes an IDX images file (raw or gzip). `label` names the file in error messages. */
export function decodeIdxImages(bytes: Uint8Array, label = 'images'): IdxImages {
  const { dims, data } = decodeIdx(bytes, 3, label);
  const [count, height, width] = dims as [number, number, number];
  if (height === 0 || width === 0) {
    throw new DatasetError('IDX_BAD_DIMS', `${label}: image size ${height}×${width} is empty`, { file: label, dims });
  }
  return { images: data, count, height, width };
}

/** Decodes an IDX labels file (raw or gzip). */
export function decodeIdxLabels(bytes: Uint8Array, label = 'labels'): IdxLabels {
  const { dims, data } = decodeIdx(bytes, 1, label);
  return { labels: data, count: dims[0]! };
}

/** The IDX header for ubyte data of the given dimensions. */
export function idxHeader(dims: readonly number[]): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  header[2] = IDX_UBYTE;
  header[3] = dims.length;
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  return header;
}

function concat(header: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(header.length + data.length);
  out.set(header, 0);
  out.set(data, header.length);
  return out;
}

export function encodeIdxImages(images: Uint8Array, count: number, height: number, width: number): Uint8Array {
  if (images.length !== count * height * width) {
    throw new DatasetError('IDX_SHAPE_MISMATCH', `${images.length} pixels do not make ${count} images of ${height}×${width}`);
  }
  return concat(idxHeader([count, height, width]), images);
}

export function encodeIdxLabels(labels: Uint8Array): Uint8Array {
  return concat(idxHeader([labels.length]), labels);
}

async function readBytes(path: string, maxInflated: number): Promise<Uint8Array> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (err) {
    throw new DatasetError('SOURCE_NOT_FOUND', `cannot read ${path}: ${(err as Error).message}`, { file: path }, { cause: err });
  }
  return gunzipIfNeededAsync(raw, path, maxInflated);
}

export async function readIdxImages(path: string, maxInflated = DEFAULT_MAX_INFLATED_BYTES): Promise<IdxImages> {
  return decodeIdxImages(await readBytes(path, maxInflated), path);
}

export async function readIdxLabels(path: string, maxInflated = DEFAULT_MAX_INFLATED_BYTES): Promise<IdxLabels> {
  return decodeIdxLabels(await readBytes(path, maxInflated), path);
}

/** Pairs decoded images with labels, checking that their counts agree. */
export function pairIdx(images: IdxImages, labels: IdxLabels, label = 'split'): RawSplit & { height: number; width: number } {
  if (images.count !== labels.count) {
    throw new DatasetError('IDX_COUNT_MISMATCH', `${label}: ${images.count} images but ${labels.count} labels`, {
      split: label,
      images: images.count,
      labels: labels.count,
    });
  }
  return { images: images.images, labels: labels.labels, count: images.count, height: images.height, width: images.width };
}

/** Reads the four files of a source (raw or gzip IDX) and checks counts and image shapes agree. */
export async function readIdxDataset(files: SourceFiles, maxInflated = DEFAULT_MAX_INFLATED_BYTES): Promise<RawDataset> {
  const [trI, trL, teI, teL] = await Promise.all([
    readIdxImages(files.trainImages, maxInflated),
    readIdxLabels(files.trainLabels, maxInflated),
    readIdxImages(files.testImages, maxInflated),
    readIdxLabels(files.testLabels, maxInflated),
  ]);
  const train = pairIdx(trI, trL, 'train');
  const test = pairIdx(teI, teL, 'test');
  if (train.height !== test.height || train.width !== test.width) {
    throw new DatasetError('IDX_SHAPE_MISMATCH', `train images are ${train.height}×${train.width} but test images ${test.height}×${test.width}`);
  }
  return {
    train: { images: train.images, labels: train.labels, count: train.count },
    test: { images: test.images, labels: test.labels, count: test.count },
    height: train.height,
    width: train.width,
  };
}
