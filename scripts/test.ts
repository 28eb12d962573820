// `npm test`: runs every test file against the real Postgres and Redis of this machine, in a database
// and a queue key prefix of its own (so runs never collide), and cleans both up afterwards.
//   npm test                        all tests
//   npm test -- test/api/x.test.ts  some files
import { spawn, spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { createScratchEnv } from './scratch-env.js';

async function findTests(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await findTests(p)));
    else if (entry.name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

// The browser tests drive the built dashboard (web/dist): build it before them, every time. It takes
// a second or two, where guessing from modification times whether a build is stale needed a
// hand-kept list of the src modules the dashboard bundles.
const files = process.argv.slice(2).length ? process.argv.slice(2) : await findTests('test');
if (files.some((f) => path.resolve(f).startsWith(path.resolve('test/ui')))) {
  const build = spawnSync('npm', ['run', '-s', 'web:build'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

// The prefix must start with `mnist-test-`: test/helpers.ts refuses to run against anything else.
const env = await createScratchEnv('test', process.env.TEST_DATABASE_URL);
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
  env: {
    ...process.env,
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    QUEUE_PREFIX: env.queuePrefix,
    DATA_DIR: env.dataDir,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    // Every test file of a run shares one key prefix and calls from 127.0.0.1: a shared request
    // budget would make one file's burst (the fuzz) throttle the next. The rate-limit tests set their own.
    RATE_LIMIT_MAX: process.env.RATE_LIMIT_MAX ?? '0',
    AUTH_FAILURE_LIMIT_MAX: process.env.AUTH_FAILURE_LIMIT_MAX ?? '0',
  },
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
const code: number = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await env.cleanup();
process.exit(code);
