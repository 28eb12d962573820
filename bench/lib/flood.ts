// A flood of concurrent POST requests against a service in another process: every request at once
// (one connection each), /health polled beside them. Shared by the predict-flood test and
// `npm run bench:flood`.
//
// /health is polled from a worker thread with an event loop of its own: polled from this thread, its
// latency would include this thread's own delays (sending gigabytes of request bodies keeps this
// loop busy for seconds), which is the load generator's stall, not the service's.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { Agent, request } from 'undici';

export interface FloodResult {
  requests: number;
  wallMs: number;
  /** Answers per HTTP status (0: the request failed without an answer). */
  statuses: Record<number, number>;
  /** Error codes of the non-200 answers. */
  codes: Record<string, number>;
  slowestMs: number;
  slowest503Ms: number;
  medianMs: number;
  /** Slowest /health answer while the flood ran (polled every 50 ms from a thread of its own). */
  healthMaxMs: number;
  /** The median and 90th percentile of those answers. */
  healthP50Ms: number;
  healthP90Ms: number;
  /** /health polls made during the flood. */
  healthPolls: number;
  /** The load generator's own worst event-loop delay meanwhile (what a probe on its thread would add). */
  generatorLoopMaxMs: number;
  /** Every 503 carried Retry-After. */
  retryAfterOn503: boolean;
}

export async function flood(url: string, path: string, body: string | Buffer, { requests, headers = {} }: { requests: number; headers?: Record<string, string> }): Promise<FloodResult> {
  // Encoded once and shared: undici copies a string body into a Buffer of its own per request, which
  // for 2 500 requests of 1 MB is 2.5 GB allocated in one synchronous loop of this thread.
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  const agent = new Agent({ connections: requests, pipelining: 0, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const probe = await startHealthProbe(`${url}/health`);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: requests }, async () => {
      const s = performance.now();
      try {
        const res = await request(`${url}${path}`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json', ...headers }, body: payload });
        const text = await res.body.text();
        const code = res.statusCode === 200 ? null : (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? 'NO_CODE';
        return { status: res.statusCode, code, ms: performance.now() - s, retryAfter: res.headers['retry-after'] !== undefined };
      } catch (err) {
        return { status: 0, code: (err as { code?: string }).code ?? 'REQUEST_FAILED', ms: performance.now() - s, retryAfter: false };
      }
    }),
  );
  const wallMs = performance.now() - t0;
  loop.disable();
  const health = await probe.stop();
  await agent.close();
  const statuses: Record<number, number> = {};
  const codes: Record<string, number> = {};
  for (const r of results) {
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.code) codes[r.code] = (codes[r.code] ?? 0) + 1;
  }
  const times = results.map((r) => r.ms).sort((a, b) => a - b);
  const shed = results.filter((r) => r.status === 503);
  return {
    requests,
    wallMs,
    statuses,
    codes,
    slowestMs: times[times.length - 1] ?? 0,
    slowest503Ms: Math.max(0, ...shed.map((r) => r.ms)),
    medianMs: times[Math.floor(times.length / 2)] ?? 0,
    healthMaxMs: Math.max(0, ...health),
    healthP50Ms: quantile(health, 0.5),
    healthP90Ms: quantile(health, 0.9),
    healthPolls: health.length,
    generatorLoopMaxMs: loop.max / 1e6,
    retryAfterOn503: shed.every((r) => r.retryAfter),
  };
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? 0;

// The probe's thread: GET /health every 50 ms over one kept-alive connection, the slowest answer kept.
// A poll that fails (no answer within 60 s, connection refused) counts as its time to fail.
// It reports `ready` after a first answer (a thread's start and its first connection are not the
// service's latency), then measures until told to stop.
const PROBE = `
const { parentPort, workerData } = require('node:worker_threads');
let running = true;
const times = [];
parentPort.on('message', () => { running = false; });
const poll = async () => {
  const t = performance.now();
  try {
    const res = await fetch(workerData.url, { signal: AbortSignal.timeout(60000) });
    await res.arrayBuffer();
  } catch {}
  return performance.now() - t;
};
(async () => {
  await poll();
  parentPort.postMessage('ready');
  while (running) {
    times.push(await poll());
    await new Promise((r) => setTimeout(r, 50));
  }
  parentPort.postMessage(times);
})();
`;

/**
 * Polls `url` from a worker thread; resolves once the probe is running, to stop(), which resolves to
 * the time of every poll, ms.
 */
async function startHealthProbe(url: string): Promise<{ stop(): Promise<number[]> }> {
  const worker = new Worker(PROBE, { eval: true, workerData: { url } });
  const messages: unknown[] = [];
  let wake = () => {};
  let failed: unknown;
  worker.on('message', (m) => {
    messages.push(m);
    wake();
  });
  worker.once('error', (err) => {
    failed = err;
    wake();
  });
  const next = async () => {
    while (!messages.length) {
      if (failed) throw failed;
      await new Promise<void>((r) => (wake = r));
    }
    return messages.shift();
  };
  await next(); // 'ready'
  return {
    async stop() {
      worker.postMessage('stop');
      const times = (await next()) as number[];
      await worker.terminate();
      return times;
    },
  };
}
