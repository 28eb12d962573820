// On-disk layout of a prepared dataset (one directory):
//   {train,val,test}-images.idx3-ubyte, {train,val,test}-labels.idx1-ubyte  uncompressed IDX, uint8;
//     every split is written, an empty one with count 0, so readers never special-case absence
//   preview.png     a grid of training samples per class
//   manifest.json   written last (atomically) so its presence means the dataset is complete; it
//                   holds no timestamps or paths, so the same inputs and seed give identical bytes
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageSet, Normalization, SplitName } from '../types.js';
import { SPLITS } from '../types.js';
import { DatasetError } from './errors.js';
import { decodeIdxImages, decodeIdxLabels, idxHeader } from './idx.js';
import { applyNormalization } from './normalize.js';
import type { PreparedDataset, QualityReport, ResolvedPrepareParams } from './prepare.js';
import { renderPreview } from './preview.js';

export const DATASET_FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
export const PREVIEW_FILE = 'preview.png';

export function splitFileNames(split: SplitName): { images: string; labels: string } {
  return { images: `${split}-images.idx3-ubyte`, labels: `${split}-labels.idx1-ubyte` };
}

export interface DatasetFileEntry {
  name: string;
  bytes: number;
  sha256: string;
}

export interface DatasetManifest {
  formatVersion: number;
  name: string | null;
  /** How the source was obtained (see worker/sources.ts); JSON, no local paths. */
  source: unknown;
  /** The effective preparation parameters (defaults filled in): enough to reproduce the dataset. */
  params: ResolvedPrepareParams;
  /** The parameters as requested, when the caller passes them. */
  requestParams: unknown;
  shape: { height: number; width: number; channels: 1 };
  dtypes: { images: 'uint8'; labels: 'uint8' };
  numClasses: number;
  counts: Record<SplitName, number>;
  classCounts: Record<SplitName, number[]>;
  normalization: Normalization;
  statistics: QualityReport;
  splits: Record<SplitName, { images: string; labels: string; count: number }>;
  preview: string;
  /** Every other file of the directory with its size and sha256, sorted by name. */
  files: DatasetFileEntry[];
}

export interface DatasetMeta {
  source: unknown;
  name?: string | null;
  params?: unknown;
}

export interface WrittenDataset {
  manifest: DatasetManifest;
  /** Every file written, manifest included, with absolute path. */
  files: (DatasetFileEntry & { path: string })[];
  totalBytes: number;
}

async function writeParts(path: string, parts: Uint8Array[]): Promise<DatasetFileEntry> {
  const h = createHash('sha256');
  let bytes = 0;
  for (const p of parts) {
    h.update(p);
    bytes += p.length;
  }
  const fh = await open(path, 'w');
  try {
    await fh.writev(parts);
  } finally {
    await fh.close();
  }
  return { name: path.slice(path.lastIndexOf('/') + 1), bytes, sha256: h.digest('hex') };
}

/** Writes the splits, preview and manifest of `prepared` into `dir` (created if missing). */
export async function writeDataset(dir: string, prepared: PreparedDataset, meta: DatasetMeta): Promise<WrittenDataset> {
  await mkdir(dir, { recursive: true });
  const { height, width } = prepared;
  const entries: DatasetFileEntry[] = [];
  const splits = {} as DatasetManifest['splits'];
  for (const split of SPLITS) {
    const s = prepared.splits[split];
    const names = splitFileNames(split);
    entries.push(await writeParts(join(dir, names.images), [idxHeader([s.count, height, width]), s.images]));
    entries.push(await writeParts(join(dir, names.labels), [idxHeader([s.count]), s.labels]));
    splits[split] = { ...names, count: s.count };
  }
  entries.push(await writeParts(join(dir, PREVIEW_FILE), [await renderPreview(prepared)]));
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const r = prepared.report;
  const manifest: DatasetManifest = {
    formatVersion: DATASET_FORMAT_VERSION,
    name: meta.name ?? null,
    source: meta.source ?? null,
    params: prepared.params,
    requestParams: meta.params ?? null,
    shape: { height, width, channels: 1 },
    dtypes: { images: 'uint8', labels: 'uint8' },
    numClasses: prepared.numClasses,
    counts: r.counts,
    classCounts: r.classCounts,
    normalization: prepared.normalization,
    statistics: r,
    splits,
    preview: PREVIEW_FILE,
    files: entries,
  };
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  const tmp = join(dir, `${MANIFEST_FILE}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, join(dir, MANIFEST_FILE));
  const manifestEntry: DatasetFileEntry = {
    name: MANIFEST_FILE,
    bytes: Buffer.byteLength(text),
    sha256: createHash('sha256').update(text).digest('hex'),
  };
  const files = [...entries, manifestEntry].map((e) => ({ ...e, path: join(dir, e.name) }));
  return { manifest, files, totalBytes: files.reduce((a, f) => a + f.bytes, 0) };
}

export async function readManifest(dir: string): Promise<DatasetManifest> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new DatasetError('MANIFEST_INVALID', `no dataset manifest at ${path}`, { dir }, { cause: err });
  }
  let m: DatasetManifest;
  try {
    m = JSON.parse(text) as DatasetManifest;
  } catch (err) {
    throw new DatasetError('MANIFEST_INVALID', `${path} is not valid JSON`, { dir }, { cause: err });
  }
  if (m === null || typeof m !== 'object' || m.formatVersion !== DATASET_FORMAT_VERSION || !m.splits || !Array.isArray(m.files)) {
    throw new DatasetError('MANIFEST_INVALID', `${path}: unsupported manifest (formatVersion ${String((m as DatasetManifest)?.formatVersion)})`, { dir });
  }
  return m;
}

export interface LoadOptions {
  /** Check each file's sha256 against the manifest (costs a hash pass over the split). */
  verify?: boolean;
  /** Use an already read manifest instead of reading it again. */
  manifest?: DatasetManifest;
}

/** The uint8 pixels and labels of one split, as stored. */
export async function loadSplitBytes(
  dir: string,
  split: SplitName,
  opts: LoadOptions = {},
): Promise<{ images: Uint8Array; labels: Uint8Array; count: number; height: number; width: number }> {
  const manifest = opts.manifest ?? (await readManifest(dir));
  const names = manifest.splits[split];
  if (!names) throw new DatasetError('MANIFEST_INVALID', `manifest has no split ${split}`, { dir, split });
  const read = async (name: string) => {
    const bytes = await readFile(join(dir, name));
    if (opts.verify) {
      const entry = manifest.files.find((f) => f.name === name);
      const actual = createHash('sha256').update(bytes).digest('hex');
      if (!entry || entry.sha256 !== actual) {
        throw new DatasetError('CHECKSUM_MISMATCH', `${name}: sha256 ${actual} does not match the manifest (${entry?.sha256 ?? 'no entry'})`, {
          file: name,
          expected: entry?.sha256 ?? null,
          actual,
        });
      }
    }
    return bytes;
  };
  const [imgBytes, lblBytes] = await Promise.all([read(names.images), read(names.labels)]);
  const images = decodeIdxImages(imgBytes, names.images);
  const labels = decodeIdxLabels(lblBytes, names.labels);
  if (images.count !== labels.count || images.count !== names.count) {
    throw new DatasetError('IDX_COUNT_MISMATCH', `${split}: ${images.count} images, ${labels.count} labels, manifest says ${names.count}`, { split });
  }
  if (images.height !== manifest.shape.height || images.width !== manifest.shape.width) {
    throw new DatasetError('IDX_SHAPE_MISMATCH', `${split}: images are ${images.height}×${images.width}, manifest says ${manifest.shape.height}×${manifest.shape.width}`);
  }
  return { images: images.images, labels: labels.labels, count: images.count, height: images.height, width: images.width };
}

/** One split as model input: pixels normalized with `norm` (default: the manifest's normalization). */
export async function loadSplit(dir: string, split: SplitName, norm?: Normalization, opts: LoadOptions = {}): Promise<ImageSet> {
  const manifest = opts.manifest ?? (await readManifest(dir));
  const raw = await loadSplitBytes(dir, split, { ...opts, manifest });
  return {
    images: applyNormalization(raw.images, norm ?? manifest.normalization),
    labels: raw.labels,
    count: raw.count,
    height: raw.height,
    width: raw.width,
  };
}
