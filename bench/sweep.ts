// npm run bench:sweep [-- --arch keras-cnn --trials 12 --epochs 9 --train 3000 --val 1000 --parallel 2 --seed 1]
// One random sweep over learning rate and batch size, run twice through the service (`all` mode,
// WORKER_CONCURRENCY = --parallel): with ASHA early stopping, and with every trial run to the end.
// Both draw the same trials (same seed); reported: wall time of each, trial-epochs run, and the test
// accuracy (full MNIST test split) of the best trial each found. Target: ASHA in ≤ 50 % of the time,
// best within 0.2 points.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createScratchEnv } from '../scripts/scratch-env.js';
import { scratchServiceEnv, startServiceProcess, stopAllServiceProcesses, tail, type ServiceProcess } from './lib/service-process.js';
import { submitJob, waitForJob } from './lib/api-client.js';
import { table } from './lib/datasets.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const arch = arg('arch', 'keras-cnn');
const trials = Number(arg('trials', '12'));
const epochs = Number(arg('epochs', '9'));
const trainN = Number(arg('train', '3000'));
const valN = Number(arg('val', '1000'));
const parallel = Number(arg('parallel', '2'));
const seed = Number(arg('seed', '1'));
const log = (msg: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

const env = await createScratchEnv('bench', process.env.BENCH_DATABASE_URL);
const logFile = path.join(env.dataDir, 'service.log');
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void (async () => {
      await stopAllServiceProcesses(5000).catch(() => {});
      await env.cleanup().catch((err) => console.error(err));
      process.exit(130);
    })();
  });
}

let child: ServiceProcess | undefined;
let failed = false;
try {
  await mkdir(env.dataDir, { recursive: true });
  child = await startServiceProcess(
    'all',
    scratchServiceEnv(env, { WORKER_CONCURRENCY: String(parallel) }),
    { logFile },
  );
  const prep = await submitJob(child.url, 'dataset-prep', { source: 'mnist' });
  await waitForJob(child.url, prep.id);
  log(`MNIST prepared; ${arch}, ${trials} trials of ${epochs} epochs on the first ${trainN} training / ${valN} validation images, ${parallel} at a time`);

  const sweep = (earlyStopping: object | undefined) => ({
    trial: { type: 'train', params: { datasetId: prep.id, architecture: arch, epochs, subset: { train: trainN, val: valN }, seed: 1 } },
    space: { 'optimizer.learningRate': { logUniform: [1e-4, 1e-2] }, batchSize: { choice: [32, 64, 128] } },
    algorithm: 'random',
    maxTrials: trials,
    maxParallel: parallel,
    objective: { metric: 'valAccuracy', goal: 'maximize' },
    ...(earlyStopping ? { earlyStopping } : {}),
    seed,
  });

  const rows: Record<string, string | number>[] = [];
  const outcomes: { name: string; seconds: number; best: number }[] = [];
  for (const [name, es] of [
    ['ASHA (grace 1, η 3)', { type: 'asha', gracePeriod: 1, reductionFactor: 3 }],
    ['every trial to the end', undefined],
  ] as const) {
    const t0 = performance.now();
    const job = await submitJob(child.url, 'sweep', sweep(es));
    let last = '';
    const done = await waitForJob(child.url, job.id, {
      timeoutMs: 4 * 3600_000,
      onProgress: (j) => {
        const p = j.progress as any;
        const line = `${name}: ${p?.done ?? 0} done (${p?.stopped ?? 0} stopped), ${p?.running ?? 0} running, best ${p?.bestObjective ?? '-'}`;
        if (line !== last) log(line);
        last = line;
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    const r = done.result;
    const epochsRun = r.leaderboard.reduce((s: number, t: any) => s + t.epochsRun, 0);
    const best = r.best;
    outcomes.push({ name, seconds, best: best.testAccuracy * 100 });
    rows.push({
      sweep: name,
      'wall s': Math.round(seconds),
      'trial-epochs': `${epochsRun} / ${trials * epochs}`,
      'stopped early': r.leaderboard.filter((t: any) => t.stoppedEarly).length,
      'best lr': Number(best.params['optimizer.learningRate'].toPrecision(3)),
      'best batch': best.params.batchSize,
      'best val acc %': (best.objective * 100).toFixed(2),
      'best test acc %': (best.testAccuracy * 100).toFixed(2),
    });
    console.log(
      table(
        r.leaderboard.map((t: any) => ({
          trial: t.index,
          lr: Number(t.params['optimizer.learningRate'].toPrecision(3)),
          batch: t.params.batchSize,
          epochs: t.epochsRun,
          stopped: t.stoppedEarly ? 'yes' : '',
          'val acc %': (t.objective * 100).toFixed(2),
          'test acc %': t.testAccuracy === null ? '-' : (t.testAccuracy * 100).toFixed(2),
        })),
      ),
    );
  }
  const [asha, full] = outcomes as [(typeof outcomes)[0], (typeof outcomes)[0]];
  console.log(
    `\n${arch}, ${trials} trials × ${epochs} epochs, random search (seed ${seed}) over lr logUniform[1e-4, 1e-2] × batch {32, 64, 128}; train ${trainN} / val ${valN} images, test: the full 10 000\n${table(rows)}`,
  );
  const ratio = asha.seconds / full.seconds;
  const gap = full.best - asha.best;
  console.log(
    `ASHA took ${(ratio * 100).toFixed(0)} % of the time (target ≤ 50 %): ${ratio <= 0.5 ? 'met' : 'NOT met'}; best test accuracy ${gap >= 0 ? `${gap.toFixed(2)} points below` : `${(-gap).toFixed(2)} points above`} the full sweep's (target within 0.2): ${gap <= 0.2 ? 'met' : 'NOT met'}`,
  );
} catch (err) {
  failed = true;
  console.error(err);
  console.error(await tail(logFile));
} finally {
  await child?.stop();
  await env.cleanup();
}
process.exit(failed ? 1 : 0);
