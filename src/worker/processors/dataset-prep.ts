// dataset-prep: fetch a source's four IDX files, split / augment / check them, write the dataset
// to datasets/<jobId>/ in the artifact store (manifest.json last) and record it. The dataset id is
// the job id.
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { readIdxDataset } from '../../ml/data/idx.js';
import { prepareDatasetAsync } from '../../ml/data/prepare.js';
import { MANIFEST_FILE, writeDataset } from '../../ml/data/files.js';
import { putDir } from '../../storage/dirs.js';
import { datasetPrefix } from '../../storage/keys.js';
import type { DatasetPrepResult } from '../../jobs/contract.js';
import type { Processor } from '../../jobs/registry.js';
import { withRetry } from '../../jobs/retry.js';
import { resolveSource } from '../sources.js';
import { parseAllowedHosts } from '../../shared/url-policy.js';
import { datasetPrepBytes, requireFreeSpace } from '../../shared/disk.js';

export const datasetPrep: Processor<'dataset-prep'> = async (ctx) => {
  const { id, params, config, db, signal, artifacts } = ctx;
  const t0 = performance.now();
  const tmpDir = path.join(config.DATA_DIR, 'tmp', id);
  const stagingDir = path.join(config.DATA_DIR, 'tmp', `dataset-${id}`);
  const prefix = datasetPrefix(id);
  // A rerun after a crash starts clean: nothing half-written is kept.
  await Promise.all([tmpDir, stagingDir].map((d) => rm(d, { recursive: true, force: true })));
  // Checked at submit, and again here: other jobs may have filled the disk since.
  await requireFreeSpace(config.DATA_DIR, datasetPrepBytes(params, config.DOWNLOAD_MAX_BYTES));
  await mkdir(tmpDir, { recursive: true });
  try {
    ctx.progress({ percent: 0, stage: 'fetch' });
    const files = await resolveSource(params.source, {
      tmpDir,
      maxBytes: config.DOWNLOAD_MAX_BYTES,
      timeoutMs: config.DOWNLOAD_TIMEOUT_MS,
      allowedHosts: parseAllowedHosts(config.DOWNLOAD_ALLOWED_HOSTS),
      allowPrivate: config.OUTBOUND_ALLOW_PRIVATE,
      signal,
      onProgress: (p) => {
        const fileShare = p.totalBytes ? Math.min(1, p.receivedBytes / p.totalBytes) : 0;
        ctx.progress({ percent: (20 * (p.fileIndex + fileShare)) / p.fileCount, stage: 'fetch' });
      },
    });
    ctx.progress({ percent: 20, stage: 'parse' });
    const raw = await readIdxDataset(files);
    const prepared = await prepareDatasetAsync(
      raw,
      { split: params.split, valFraction: params.valFraction, normalize: params.normalize, augment: params.augment, seed: params.seed },
      { signal, onProgress: (p) => ctx.progress({ percent: 25 + 60 * p.fraction, stage: p.stage }) },
    );
    ctx.progress({ percent: 85, stage: 'write' });
    const written = await writeDataset(stagingDir, prepared, { source: files.description, name: params.name ?? null, params });
    // What an earlier, crashed attempt left goes first; the manifest goes last (it marks completeness).
    await artifacts.store.deletePrefix(prefix);
    await putDir(artifacts.store, stagingDir, prefix, { last: MANIFEST_FILE, move: true });

    const { manifest } = written;
    const stats = {
      classCounts: manifest.classCounts,
      pixelStats: manifest.statistics.pixelStats,
      duplicates: manifest.statistics.duplicates,
      blankImages: manifest.statistics.blankImages,
      augmentedCount: manifest.statistics.augmentedCount,
    };
    const row = {
      jobId: id,
      name: params.name ?? null,
      source: files.description as object,
      params: params as object,
      manifest: manifest as object,
      counts: manifest.counts,
      stats: stats as object,
      numClasses: manifest.numClasses,
      height: manifest.shape.height,
      width: manifest.shape.width,
      path: artifacts.store.url(prefix),
      sizeBytes: BigInt(written.totalBytes),
    };
    // Waits out a short Postgres outage in place: handed back to the queue, the prep would run again from the start.
    await withRetry('dataset row', () => db.dataset.upsert({ where: { id }, create: { id, ...row }, update: row }), { logger: ctx.log, signal });
    const result: DatasetPrepResult = {
      datasetId: id,
      counts: manifest.counts,
      classCounts: manifest.classCounts,
      pixelMean: manifest.normalization.mean,
      pixelStd: manifest.normalization.std,
      duplicates: manifest.statistics.duplicates,
      blank: manifest.statistics.blankImages,
      files: manifest.files,
      seconds: Math.round((performance.now() - t0) / 10) / 100,
    };
    return result;
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
    await rm(stagingDir, { recursive: true, force: true });
  }
};
