// `npm start` (main.ts in `all` mode) as a user runs it: the API in one process, the workers in a child
// process that is restarted when it dies and that never outlives the API process.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, it } from 'node:test';
import { freePort } from '../../bench/lib/service-process.js';
import { gzipAll, mnistSlice, startIdxServer } from '../fixtures/idx-server.js';
import { seriesValue } from '../prom.js';

const server = await startIdxServer({ small: gzipAll(await mnistSlice(300, 100)) });
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mnist-main-'));
const started: ChildProcess[] = [];
after(async () => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** main.ts in `all` mode; `workerPids` collects each worker process it starts, from its log. */
async function startMain() {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info', OUTBOUND_ALLOW_PRIVATE: 'true' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  started.push(proc);
  const workerPids: number[] = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const entry = JSON.parse(line) as { msg?: string; workerPid?: number };
    if (entry.msg === 'worker process started' && entry.workerPid) workerPids.push(entry.workerPid);
  });
  const url = `http://127.0.0.1:${port}`;
  await until(() => fetch(`${url}/ready`).then((r) => r.ok, () => false), 'the API is ready');
  return {
    proc,
    url,
    workerPids,
    /** Resolves once the API process has started `n` worker processes in all. */
    workers: (n: number) => until(() => workerPids.length >= n, `${n} worker process(es) started`),
  };
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Submits a dataset-prep job over HTTP and waits for it to succeed (only a worker can do that). */
async function prepare(url: string) {
  const res = await fetch(`${url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'dataset-prep', params: { source: { url: server.url('small') } } }),
  });
  const body = await res.text();
  assert.equal(res.status, 202, body);
  const { id } = JSON.parse(body) as { id: string };
  let status = '';
  await until(async () => {
    status = ((await (await fetch(`${url}/v1/jobs/${id}`)).json()) as { status: string }).status;
    return ['succeeded', 'failed', 'cancelled'].includes(status);
  }, `job ${id} ends`);
  assert.equal(status, 'succeeded');
  return id;
}

it('runs jobs in a worker process, restarts it when it dies, and stops it on SIGTERM', async () => {
  const main = await startMain();
  await main.workers(1);
  const [first] = main.workerPids;
  assert.notEqual(first, main.proc.pid);
  await prepare(main.url);
  // One scrape of the API holds the worker child's series: the job ran and was counted there.
  const metrics = await (await fetch(`${main.url}/metrics`)).text();
  assert.equal(seriesValue(metrics, 'mnist_jobs_jobs_total', { type: 'dataset-prep', status: 'succeeded' }), 1, metrics.slice(0, 2000));
  assert.ok(seriesValue(metrics, 'mnist_jobs_http_request_duration_seconds_count', { method: 'POST', route: '/v1/jobs', status_code: '202' })! >= 1);

  process.kill(first, 'SIGKILL');
  await main.workers(2);
  assert.notEqual(main.workerPids[1], first);
  await prepare(main.url);

  const exited = once(main.proc, 'exit');
  main.proc.kill('SIGTERM');
  assert.deepEqual(await exited, [0, null]);
  assert.equal(alive(main.workerPids[1]), false, 'the worker process stopped with the API process');
});

it("puts a killed worker process's training back at once; the next worker resumes it from its checkpoint", async () => {
  const main = await startMain();
  await main.workers(1);
  const datasetId = await prepare(main.url);
  const epochs = 5;
  const res = await fetch(`${main.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'train', params: { datasetId, architecture: 'mlp', epochs, batchSize: 16, seed: 7 } }),
  });
  const { id } = (await res.json()) as { id: string };
  // A checkpoint is complete once its pointer, current.json, is written (after its files).
  const stateFile = path.join(dataDir, 'checkpoints', id, 'current.json');
  await until(() => existsSync(stateFile), 'the first checkpoint is written', 120_000);
  process.kill(main.workerPids[0]!, 'SIGKILL');
  const killedAt = Date.now();
  const job = async () => (await (await fetch(`${main.url}/v1/jobs/${id}`)).json()) as any;
  await until(async () => (await job()).attempts >= 2, 'the training runs again', 30_000);
  const resumedAfterMs = Date.now() - killedAt;
  console.log(`# resumed ${resumedAfterMs} ms after its worker process was killed`);
  assert.ok(resumedAfterMs < 20_000, `resumed after ${resumedAfterMs} ms`);
  await until(async () => ['succeeded', 'failed', 'cancelled'].includes((await job()).status), 'the training ends', 120_000);
  const done = await job();
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.ok(done.result.resumedFromEpoch >= 1, `resumed from epoch ${done.result.resumedFromEpoch}`);
  assert.ok(done.history.some((h: any) => h.status === 'requeued' && h.reason === 'the worker process died'), JSON.stringify(done.history));
  const metrics = (await (await fetch(`${main.url}/v1/jobs/${id}/metrics`)).json()) as { items: { epoch: number }[] };
  assert.deepEqual(metrics.items.map((m) => m.epoch), [1, 2, 3, 4, 5]);
  const exited = once(main.proc, 'exit');
  main.proc.kill('SIGTERM');
  await exited;
});

it('stops its worker process when the API process is killed outright', async () => {
  const main = await startMain();
  await main.workers(1);
  const exited = once(main.proc, 'exit');
  main.proc.kill('SIGKILL');
  await exited;
  await until(() => !alive(main.workerPids[0]), 'the orphaned worker process exits', 30_000);
});

it('a worker started alone serves its own /metrics and /health on WORKER_METRICS_PORT', async () => {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    env: { ...process.env, WORKER_METRICS_PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, OUTBOUND_ALLOW_PRIVATE: 'true' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  started.push(proc);
  const url = `http://127.0.0.1:${port}`;
  await until(() => fetch(`${url}/health`).then((r) => r.ok, () => false), 'the worker answers /health');
  assert.deepEqual(await (await fetch(`${url}/health`)).json(), { status: 'ok' });
  const text = await (await fetch(`${url}/metrics`)).text();
  assert.notEqual(seriesValue(text, 'process_cpu_seconds_total'), undefined);
  assert.equal(seriesValue(text, 'mnist_jobs_queue_depth', { type: 'train', state: 'waiting' }), 0);
  const exited = once(proc, 'exit');
  proc.kill('SIGTERM');
  assert.deepEqual(await exited, [0, null]);
});
