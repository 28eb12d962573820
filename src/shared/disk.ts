// Free space checks: a dataset-prep is refused up front (INSUFFICIENT_DISK) rather than failing
// half-way with ENOSPC and leaving a full disk for every other job.
import { mkdir, statfs } from 'node:fs/promises';
import { AppError } from './errors.js';

/** MNIST-style sets: 70 000 images of 28×28 uint8 plus one label byte each. */
const STANDARD_IMAGES = 70_000;
const BYTES_PER_IMAGE = 28 * 28 + 1;
const MARGIN = 32 * 1024 * 1024;

/**
 * What a dataset-prep writes at most, roughly: the prepared splits (augmented copies of the training
 * share included), the downloaded .gz files of a `{url}` source (bounded by DOWNLOAD_MAX_BYTES each)
 * and their unpacked copies in memory-backed temp files, and a margin for the manifest and preview.
 */
export function datasetPrepBytes(params: { source: unknown; augment?: { copies?: number } }, downloadMaxBytes: number): number {
  const copies = params.augment?.copies ?? 0;
  const prepared = STANDARD_IMAGES * BYTES_PER_IMAGE * (1 + (copies * 6) / 7);
  const downloads = typeof params.source === 'object' ? 4 * Math.min(downloadMaxBytes, 64 * 1024 * 1024) : 0;
  return Math.ceil(prepared + downloads + MARGIN);
}

/** Throws INSUFFICIENT_DISK when `dir`'s file system has less than `needBytes` free for this process. */
export async function requireFreeSpace(dir: string, needBytes: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const s = await statfs(dir);
  const free = s.bavail * s.bsize;
  if (free < needBytes) {
    const mb = (n: number) => Math.round(n / 1e6);
    throw new AppError('INSUFFICIENT_DISK', `The data directory has ${mb(free)} MB free, this job needs about ${mb(needBytes)} MB; free space or try later`, {
      freeBytes: free,
      neededBytes: needBytes,
    });
  }
}
