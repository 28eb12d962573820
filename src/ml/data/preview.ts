// preview.png: one row per class, samples from the training split, so a person can eyeball labels
// and augmentation at a glance. With augmentation each original is followed by its first copy.
import sharp from 'sharp';
import type { PreparedDataset } from './prepare.js';

export interface PreviewOptions {
  /** Images per row (default 10). */
  perClass?: number;
  /** Integer upscaling of each pixel (default 2). */
  scale?: number;
}

const GAP = 2;
const GAP_GREY = 96;

/** Picks pooled train indices for the grid: rows[class] = train indices (−1 = no such sample). */
export function previewIndices(prepared: PreparedDataset, perClass: number): number[][] {
  const { train } = prepared.splits;
  const nOrig = prepared.report.trainOriginalCount;
  const withCopies = prepared.report.augmentedCount > 0;
  const rows = Array.from({ length: prepared.numClasses }, () => [] as number[]);
  for (let i = 0; i < nOrig; i++) {
    const row = rows[train.labels[i]!]!;
    if (row.length >= perClass) continue;
    row.push(i);
    if (withCopies && row.length < perClass) row.push(nOrig + i); // copy 1 of image i
    if (rows.every((r) => r.length >= perClass)) break;
  }
  return rows.map((r) => [...r, ...new Array<number>(perClass - r.length).fill(-1)]);
}

export async function renderPreview(prepared: PreparedDataset, opts: PreviewOptions = {}): Promise<Buffer> {
  const perClass = opts.perClass ?? 10;
  const scale = opts.scale ?? 2;
  const { height: h, width: w } = prepared;
  const rows = previewIndices(prepared, perClass);
  const cellW = w * scale;
  const cellH = h * scale;
  const W = GAP + perClass * (cellW + GAP);
  const H = GAP + rows.length * (cellH + GAP);
  const grey = new Uint8Array(W * H).fill(GAP_GREY);
  const images = prepared.splits.train.images;
  rows.forEach((row, r) => {
    row.forEach((idx, c) => {
      const x0 = GAP + c * (cellW + GAP);
      const y0 = GAP + r * (cellH + GAP);
      for (let y = 0; y < cellH; y++) {
        const srcRow = Math.floor(y / scale) * w;
        const out = (y0 + y) * W + x0;
        for (let x = 0; x < cellW; x++) grey[out + x] = idx < 0 ? 0 : images[idx * h * w + srcRow + Math.floor(x / scale)]!;
      }
    });
  });
  return sharp(grey, { raw: { width: W, height: H, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}
