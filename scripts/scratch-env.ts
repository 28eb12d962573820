// A throw-away environment for one test or benchmark run: its own Postgres database (created and
// migrated), BullMQ key prefix and data directory, so a run never touches another run's or a
// developer's state. Used by `npm test` and by the benchmarks.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { migrate } from '../src/shared/migrate.js';

export interface ScratchEnv {
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  dataDir: string;
  /** Drops the database (closing its connections), deletes the prefix's Redis keys and the directory. */
  cleanup(): Promise<void>;
}

/**
 * `name` becomes part of the database name and prefix, e.g. `bench` → `mnist_bench_<id>`; `adminUrl`
 * is any database of the server, used to create and drop the run's own.
 */
export async function createScratchEnv(name: string, adminUrl = 'postgresql://postgres@127.0.0.1:5432/postgres'): Promise<ScratchEnv> {
  const base = new URL(adminUrl);
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const dbName = `mnist_${name}_${runId}`;
  const dbUrl = new URL(base);
  dbUrl.pathname = `/${dbName}`;
  const queuePrefix = `mnist-${name}-${runId}`;
  const dataDir = await mkdtemp(path.join(tmpdir(), `mnist-${name}-`));

  // Memoised: a signal handler and the main flow may both ask, and both must wait for the end.
  let cleaning: Promise<void> | undefined;
  const cleanup = () => (cleaning ??= removeAll());
  const removeAll = async () => {
    // Each step runs even when an earlier one fails, so one broken service leaks nothing else.
    const errors: unknown[] = [];
    try {
      const admin = new pg.Client({ connectionString: base.toString() });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(dbName)} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    } catch (err) {
      errors.push(err);
    }
    try {
      const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${queuePrefix}:*`, 'COUNT', 1000);
          if (keys.length) await redis.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    } catch (err) {
      errors.push(err);
    }
    await rm(dataDir, { recursive: true, force: true }).catch((err) => errors.push(err));
    if (errors.length) throw new AggregateError(errors, `cleanup of ${dbName} / ${queuePrefix} / ${dataDir} failed`);
  };

  try {
    await migrate(dbUrl.toString());
  } catch (err) {
    await cleanup().catch(() => {});
    throw err;
  }
  return { databaseUrl: dbUrl.toString(), redisUrl, queuePrefix, dataDir, cleanup };
}
