// npm run bench:peer [-- --arch mlp,keras-cnn,strong-cnn --backends tensorflow,native,wasm --threads 2 --steps 60]
//
// The same architectures trained (adam, batch 64) and run for inference (batches of 256) by PyTorch
// (Debian's python3-torch, bench/peer_torch.py) and by each of our available backends, in one run,
// with the same number of threads; prints samples/s and our ratio to PyTorch. Absolute figures on a
// shared machine are noisy; the ratio within one run is the figure. Each (backend, architecture)
// runs in a fresh process so that its peak RSS is its own.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { table } from './lib/datasets.js';

const { values: opts } = parseArgs({
  options: {
    arch: { type: 'string', default: 'mlp,keras-cnn,strong-cnn' },
    backends: { type: 'string', default: 'tensorflow,native,wasm' },
    threads: { type: 'string', default: String(Math.min(2, os.availableParallelism())) },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '60' },
    infer: { type: 'string', default: '10000' },
    python: { type: 'string', default: process.env.PEER_PYTHON ?? '/usr/bin/python3' },
    child: { type: 'string' },
  },
});
const BATCH = Number(opts.batch);
const STEPS = Number(opts.steps);
const INFER = Number(opts.infer);
const THREADS = Number(opts.threads);

interface Row {
  arch: string;
  train: number;
  infer: number;
  /** Peak resident set of the process, MiB (ours only). */
  rssMiB?: number;
  backend?: string;
}

/** Child mode: one backend, one architecture; prints one JSON row. */
async function child(backend: string, arch: string): Promise<void> {
  const { initBackend } = await import('../src/ml/backend.js');
  const { buildModel } = await import('../src/ml/models.js');
  const { train } = await import('../src/ml/train.js');
  const { predictProbs } = await import('../src/ml/evaluate.js');
  const info = await initBackend(backend);
  const set = (n: number) => ({
    images: Float32Array.from({ length: n * 784 }, () => Math.random()),
    labels: Uint8Array.from({ length: n }, () => Math.floor(Math.random() * 10)),
    count: n,
    height: 28,
    width: 28,
  });
  const model = buildModel(arch as Parameters<typeof buildModel>[0], { numClasses: 10, seed: 1 });
  const trainOpts = { epochs: 1, batchSize: BATCH, optimizer: { type: 'adam' as const, learningRate: 0.001 }, seed: 1 };
  await train(model, { train: set(BATCH * 5) }, trainOpts); // warm-up: primitives, optimizer slots
  const r = await train(model, { train: set(BATCH * STEPS) }, trainOpts);
  const test = set(INFER);
  await predictProbs(model, test.images, 512);
  const t0 = performance.now();
  await predictProbs(model, test.images, test.count, 256);
  const infer = test.count / ((performance.now() - t0) / 1000);
  model.dispose();
  const row: Row = { arch, train: r.samplesPerSec, infer, rssMiB: process.resourceUsage().maxRSS / 1024, backend: info.name };
  console.log(JSON.stringify(row));
}

function parseRows(stdout: string): Row[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Row);
}

async function main(): Promise<void> {
  const archs = opts.arch!.split(',');
  console.log(`bench:peer: ${archs.join(', ')}; ${THREADS} threads, batch ${BATCH}, adam; train ${STEPS} batches after warm-up, inference ${INFER} images in batches of 256; ${os.cpus()[0]?.model}`);
  const env = { ...process.env, OMP_NUM_THREADS: String(THREADS), TFJS_WASM_THREADS: String(THREADS), TFJS_NATIVE_THREADS: String(THREADS) };

  const py = spawnSync(opts.python!, [fileURLToPath(new URL('./peer_torch.py', import.meta.url)), '--arch', archs.join(','), '--threads', String(THREADS), '--batch', String(BATCH), '--steps', String(STEPS), '--infer', String(INFER)], { env, encoding: 'utf8' });
  const torch = new Map<string, Row>();
  if (py.status === 0) {
    for (const r of parseRows(py.stdout)) {
      torch.set(r.arch, r);
      console.log(`  pytorch ${r.arch}: train ${Math.round(r.train)}/s, inference ${Math.round(r.infer)}/s`);
    }
  } else {
    console.log(`  pytorch: not available (${(py.stderr || String(py.error)).trim().split('\n').pop()}); install python3-torch`);
  }

  const rows: Record<string, string | number>[] = [];
  for (const arch of archs) {
    const t = torch.get(arch);
    if (t) rows.push({ model: arch, backend: 'pytorch', 'train/s': Math.round(t.train), 'train ×': 1, 'infer/s': Math.round(t.infer), 'infer ×': 1, 'peak RSS MiB': '' });
    for (const backend of opts.backends!.split(',')) {
      const me = fileURLToPath(import.meta.url);
      const res = spawnSync(process.execPath, ['--import', 'tsx', me, '--child', `${backend}:${arch}`, '--batch', String(BATCH), '--steps', String(STEPS), '--infer', String(INFER)], { env, encoding: 'utf8', maxBuffer: 1 << 24 });
      const [r] = parseRows(res.stdout);
      if (res.status !== 0 || !r) {
        const why = (res.stderr || '').split('\n').find((l) => /not available|Error/.test(l)) ?? `exit ${res.status}`;
        console.log(`  ${backend} ${arch}: not available (${why.trim().slice(0, 160)})`);
        continue;
      }
      console.log(`  ${r.backend} ${arch}: train ${Math.round(r.train)}/s, inference ${Math.round(r.infer)}/s, peak RSS ${Math.round(r.rssMiB!)} MiB`);
      rows.push({
        model: arch,
        backend: r.backend!,
        'train/s': Math.round(r.train),
        'train ×': t ? Number((r.train / t.train).toFixed(2)) : '',
        'infer/s': Math.round(r.infer),
        'infer ×': t ? Number((r.infer / t.infer).toFixed(2)) : '',
        'peak RSS MiB': Math.round(r.rssMiB!),
      });
    }
  }
  const version = (torch.values().next().value as (Row & { torch?: string }) | undefined)?.torch ?? 'n/a';
  console.log(`\n${table(rows)}\n(× = samples/s relative to PyTorch ${version} in this run)`);
}

if (opts.child) {
  const [backend, arch] = opts.child.split(':') as [string, string];
  await child(backend, arch);
} else {
  await main();
}
