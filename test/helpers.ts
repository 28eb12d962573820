// Shared by the integration tests: the real service (API + workers, real Postgres, Redis and BullMQ)
// in this process, configured by `npm test` with a database and key prefix of the run's own.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';
import { createService, type Service, type ServiceOptions } from '../src/service.js';
import type { Job as ApiJob, JobType, ResultOf } from '../src/jobs/contract.js';

export async function startService(opts: ServiceOptions = { api: true, worker: true }, overrides: Partial<Config> = {}): Promise<Service & { app: FastifyInstance }> {
  if (!process.env.QUEUE_PREFIX?.startsWith('mnist-test-')) {
    throw new Error('Run the tests through `npm test`: it gives each run its own database and queue prefix');
  }
  // Rate limits, the limit of failed authentications and job quotas count per client, and every
  // injected request comes from one client: off unless a test turns them on.
  const config = loadConfig(process.env, { RATE_LIMIT_MAX: 0, AUTH_FAILURE_LIMIT_MAX: 0, MAX_ACTIVE_JOBS_PER_KEY: 0, ...overrides });
  const service = await createService(config, createLogger(config.LOG_LEVEL), { api: true, ...opts });
  return service as Service & { app: FastifyInstance };
}

export async function submit(app: FastifyInstance, type: string, params: unknown, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<ApiJob> {
  const res = await app.inject({ method: 'POST', url: '/v1/jobs', payload: { type, params, ...extra }, headers });
  assert.equal(res.statusCode, 202, `submit ${type}: ${res.body}`);
  return res.json();
}

/** Polls the job over HTTP until it is finished (or `until` holds), failing after `timeoutMs`. */
export async function waitForJob(
  app: FastifyInstance,
  id: string,
  { timeoutMs = 120_000, until = (j: ApiJob) => ['succeeded', 'failed', 'cancelled'].includes(j.status), headers = {} as Record<string, string> } = {},
): Promise<ApiJob> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers });
    assert.equal(res.statusCode, 200, res.body);
    const job: ApiJob = res.json();
    if (until(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms: ${JSON.stringify(job.progress)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function expectError(res: { statusCode: number; json(): any; body: string }, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  const body = res.json();
  assert.equal(body.error?.code, code, res.body);
  assert.equal(typeof body.error.message, 'string');
  return body.error;
}

/** Authorization header of a bearer secret. */
export const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

/** The result of a succeeded job of `type`, typed by the contract (fails the test otherwise). */
export function resultOf<T extends JobType>(job: ApiJob, type: T): ResultOf<T> {
  assert.equal(job.type, type);
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  assert.ok(job.result, 'a succeeded job has a result');
  return job.result as ResultOf<T>;
}

/**
 * Waits up to `timeoutMs` for a job's checkpoint directory (fs store) to be gone: it is deleted right
 * after the terminal status is committed, never before (a rerun would need it). Tells whether it went.
 */
export async function checkpointGone(config: Pick<Config, 'DATA_DIR'>, jobId: string, timeoutMs = 5000): Promise<boolean> {
  const dir = path.join(config.DATA_DIR, 'checkpoints', jobId);
  const deadline = Date.now() + timeoutMs;
  while (existsSync(dir) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return !existsSync(dir);
}
