// The API against a Redis of its own (a private redis-server on a free port; the shared one is never
// touched): started while that Redis is down, or up but not answering (SIGSTOP), the API starts at
// once, /health answers, /ready reports redis down, a submission is a quick 503 QUEUE_UNAVAILABLE;
// once Redis is back, /ready is 200 and submissions are accepted again. Rate limits are on, so the
// limiter's connection is part of what must not hold the start.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { expectError, startService } from '../helpers.js';

const hasRedisServer = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

const servers: ChildProcess[] = [];
after(() => {
  for (const p of servers) {
    p.kill('SIGCONT');
    p.kill('SIGKILL');
  }
});

/** A redis-server of this test's own on `port`, without persistence; resolves once it answers PING. */
async function startRedis(port: number): Promise<ChildProcess> {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  servers.push(proc);
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await client.connect().then(() => client.ping(), () => undefined);
    if (ok === 'PONG') break;
    client.disconnect();
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer`);
    await new Promise((r) => setTimeout(r, 50));
  }
  client.disconnect();
  return proc;
}

async function stopRedis(proc: ChildProcess): Promise<void> {
  proc.kill('SIGKILL');
  if (proc.exitCode === null && proc.signalCode === null) await once(proc, 'exit');
}

/** Starts the API against `redisUrl` and measures how long the start (and Fastify's ready) took. */
async function timedStart(redisUrl: string) {
  const t0 = performance.now();
  const svc = await startService({ api: true, worker: false }, { REDIS_URL: redisUrl, RATE_LIMIT_MAX: 1000, AUTH_FAILURE_LIMIT_MAX: 1000 });
  await svc.app.ready();
  return { svc, ms: performance.now() - t0 };
}

const submission = { method: 'POST' as const, url: '/v1/jobs', payload: { type: 'dataset-prep', params: { source: 'mnist' } } };

/** Polls GET /ready until it answers `status`, failing after `ms`. */
async function readyBecomes(app: Awaited<ReturnType<typeof startService>>['app'], status: number, ms: number) {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await app.inject('/ready');
    if (res.statusCode === status) return res.json();
    if (Date.now() > deadline) throw new Error(`/ready still ${res.statusCode} after ${ms} ms: ${res.body}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('the API while its Redis is down', { skip: !hasRedisServer && 'redis-server is not installed' }, () => {
  // A baseline start against the shared Redis, on the same loaded machine: the start with Redis down
  // must not take longer than it plus a little.
  let baselineMs = 0;
  it('starts against a healthy Redis (the baseline)', async () => {
    const { svc, ms } = await timedStart(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    baselineMs = ms;
    await svc.close();
  });

  it('starts at once with nothing listening, reports redis down in /ready, refuses submissions with 503, and recovers when Redis starts', async () => {
    const port = await freePort();
    const { svc, ms } = await timedStart(`redis://127.0.0.1:${port}`);
    let redis: ChildProcess | undefined;
    try {
      assert.ok(ms < baselineMs + 1500, `started in ${Math.round(ms)} ms (with Redis up: ${Math.round(baselineMs)} ms)`);
      assert.equal((await svc.app.inject('/health')).statusCode, 200);
      const ready = await svc.app.inject('/ready');
      assert.equal(ready.statusCode, 503);
      assert.deepEqual(ready.json().down, ['redis']);
      const t0 = performance.now();
      const res = await svc.app.inject(submission);
      expectError(res, 503, 'QUEUE_UNAVAILABLE');
      assert.ok(Number(res.headers['retry-after']) > 0, 'Retry-After');
      assert.ok(performance.now() - t0 < 3000, `answered in ${Math.round(performance.now() - t0)} ms`);
      // Reads that need only Postgres keep working (the rate limiter lets them through).
      assert.equal((await svc.app.inject('/v1/models')).statusCode, 200);

      redis = await startRedis(port);
      // The producers reconnect every 2 s at most: well within this deadline.
      await readyBecomes(svc.app, 200, 15_000);
      const accepted = await svc.app.inject(submission);
      assert.equal(accepted.statusCode, 202, accepted.body);
      await svc.app.inject({ method: 'POST', url: `/v1/jobs/${accepted.json().id}/cancel` });
    } finally {
      await svc.close();
      if (redis) await stopRedis(redis);
    }
  });

  it('starts at once against a Redis that accepts connections but never answers (stopped), and recovers when it resumes', async () => {
    const port = await freePort();
    const redis = await startRedis(port);
    redis.kill('SIGSTOP');
    try {
      const { svc, ms } = await timedStart(`redis://127.0.0.1:${port}`);
      try {
        assert.ok(ms < baselineMs + 1500, `started in ${Math.round(ms)} ms (with Redis up: ${Math.round(baselineMs)} ms)`);
        assert.equal((await svc.app.inject('/health')).statusCode, 200);
        const t0 = performance.now();
        assert.equal((await svc.app.inject('/v1/models')).statusCode, 200, 'a rate-limited route answers');
        assert.ok(performance.now() - t0 < 3000, `in ${Math.round(performance.now() - t0)} ms`);
        const ready = await svc.app.inject('/ready');
        assert.equal(ready.statusCode, 503);
        assert.deepEqual(ready.json().down, ['redis']);
        expectError(await svc.app.inject(submission), 503, 'QUEUE_UNAVAILABLE');

        redis.kill('SIGCONT');
        await readyBecomes(svc.app, 200, 15_000);
        const accepted = await svc.app.inject(submission);
        assert.equal(accepted.statusCode, 202, accepted.body);
        await svc.app.inject({ method: 'POST', url: `/v1/jobs/${accepted.json().id}/cancel` });
      } finally {
        redis.kill('SIGCONT');
        await svc.close();
      }
    } finally {
      await stopRedis(redis);
    }
  });
});
