// Full MNIST dataset preparation (read → split → augment → quality report → files) with 0 and with
// 1 augmentation copy, each in a fresh child process so that peak RSS belongs to that run alone.
// Usage: node --import tsx bench/dataset-prep.ts            (both runs)
//        node --import tsx bench/dataset-prep.ts --copies 1 (one run, in this process)
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDataset } from '../src/ml/data/files.js';
import { readIdxDataset } from '../src/ml/data/idx.js';
import { prepareDatasetAsync } from '../src/ml/data/prepare.js';
import { resolveSource } from '../src/worker/sources.js';

async function runOnce(copies: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-dataset-'));
  const t0 = performance.now();
  const source = await resolveSource('mnist', { tmpDir: dir, maxBytes: 1 << 30, timeoutMs: 60_000 });
  const raw = await readIdxDataset(source);
  const t1 = performance.now();
  const prepared = await prepareDatasetAsync(raw, {
    split: 'standard',
    normalize: 'standardize',
    seed: 1,
    augment: copies > 0 ? { copies, rotationDeg: 12, shiftPx: 2, scale: [0.9, 1.1], noiseStd: 0.05 } : undefined,
  });
  const t2 = performance.now();
  const written = await writeDataset(join(dir, 'out'), prepared, { source: source.description, name: `bench-${copies}` });
  const t3 = performance.now();
  await rm(dir, { recursive: true, force: true });
  const maxRssMiB = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
  console.log(
    JSON.stringify({
      copies,
      trainImages: prepared.splits.train.count,
      readSeconds: +((t1 - t0) / 1000).toFixed(2),
      prepareSeconds: +((t2 - t1) / 1000).toFixed(2),
      writeSeconds: +((t3 - t2) / 1000).toFixed(2),
      totalSeconds: +((t3 - t0) / 1000).toFixed(2),
      peakRssMiB: Math.round(maxRssMiB),
      writtenMiB: +(written.totalBytes / 2 ** 20).toFixed(1),
    }),
  );
}

const i = process.argv.indexOf('--copies');
if (i >= 0) {
  await runOnce(Number(process.argv[i + 1]));
} else {
  const self = fileURLToPath(import.meta.url);
  for (const copies of [0, 1]) {
    process.stdout.write(execFileSync(process.execPath, ['--import', 'tsx', self, '--copies', String(copies)], { encoding: 'utf8' }));
  }
}
