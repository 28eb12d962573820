// The artifact store's cost: the same jobs (prepare MNIST, train an MLP on it twice) on the fs store
// and on s3 (a local s3rver), each in a scratch environment of its own: wall time per job, bytes
// uploaded and downloaded per job, and what the local cache saves the second training.
//   flock /tmp/mnist-bench.lock npm run bench:store [-- --epochs 2]
import type { FastifyInstance } from 'fastify';
import { createScratchEnv } from '../scripts/scratch-env.js';
import { createService } from '../src/service.js';
import { loadConfig } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';
import type { S3Store } from '../src/storage/s3-store.js';
import { startS3rver } from '../test/fixtures/s3rver.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const epochs = arg('epochs', 2);
const MiB = (n: number) => +(n / 2 ** 20).toFixed(1);

async function run(app: FastifyInstance, type: string, params: object) {
  const t0 = performance.now();
  const res = await app.inject({ method: 'POST', url: '/v1/jobs', payload: { type, params } });
  if (res.statusCode !== 202) throw new Error(res.body);
  const { id } = res.json();
  for (;;) {
    const job = (await app.inject(`/v1/jobs/${id}`)).json();
    if (job.status === 'succeeded') return { id, wallSeconds: +((performance.now() - t0) / 1000).toFixed(1), result: job.result };
    if (['failed', 'cancelled'].includes(job.status)) throw new Error(`${type} ${job.status}: ${JSON.stringify(job.error)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const s3 = await startS3rver('bench');
const rows: object[] = [];
for (const kind of ['fs', 's3'] as const) {
  const env = await createScratchEnv('bench');
  try {
    const config = loadConfig(
      { ...process.env, ...(kind === 's3' ? s3.env : {}) },
      { DATABASE_URL: env.databaseUrl, REDIS_URL: env.redisUrl, QUEUE_PREFIX: env.queuePrefix, DATA_DIR: env.dataDir, LOG_LEVEL: 'silent' },
    );
    if (kind === 's3') Object.assign(process.env, s3.env);
    const service = await createService(config, createLogger('silent'), { api: true, worker: true });
    const app = service.app!;
    const { store, cache } = service.artifacts;
    const measure = async (label: string, type: string, params: object) => {
      const t = (store as S3Store).transfer ?? { uploadedBytes: 0, downloadedBytes: 0 };
      const [up, down, hits, misses] = [t.uploadedBytes, t.downloadedBytes, cache.stats.hits, cache.stats.misses];
      const r = await run(app, type, params);
      const row = {
        store: kind,
        job: label,
        wallSeconds: r.wallSeconds,
        uploadedMiB: MiB(t.uploadedBytes - up),
        downloadedMiB: MiB(t.downloadedBytes - down),
        cacheHits: cache.stats.hits - hits,
        cacheMisses: cache.stats.misses - misses,
      };
      console.log(JSON.stringify(row));
      rows.push(row);
      return r;
    };
    const prep = await measure('dataset-prep mnist', 'dataset-prep', { source: 'mnist', split: 'standard', seed: 1 });
    const train = { datasetId: prep.id, architecture: 'mlp', epochs, seed: 1 };
    await measure(`train mlp ${epochs} epochs (1st)`, 'train', train);
    await measure(`train mlp ${epochs} epochs (2nd, same dataset)`, 'train', train);
    await service.close();
  } finally {
    await env.cleanup();
  }
}
await s3.close();
console.table(rows);
process.exit(0);
