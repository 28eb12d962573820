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
  const probe = startHealthProbe(`${url}/health`);
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
    healthMaxMs: health.maxMs,
    healthPolls: health.polls,
    generatorLoopMaxMs: loop.max / 1e6,
    retryAfterOn503: shed.every((r) => r.retryAfter),
  };
}

// The probe's thread: GET /health every 50 ms over one kept-alive connection, the slowest answer kept.
// A poll that fails (no answer within 60 s, connection refused) counts as its time to fail.
const PROBE = `
const { parentPort, workerData } = require('node:worker_threads');
let maxMs = 0, polls = 0, running = true;
parentPort.on('message', () => { running = false; });
(async () => {
  while (running) {
    const t = performance.now();
    try {
      const res = await fetch(workerData.url, { signal: AbortSignal.timeout(60000) });
      await res.arrayBuffer();
    } catch {}
    maxMs = Math.max(maxMs, performance.now() - t);
    polls++;
    await new Promise((r) => setTimeout(r, 50));
  }
  parentPort.postMessage({ maxMs, polls });
})();
`;

/** Polls `url` from a worker thread until stop(), which resolves to the slowest answer and the poll count. */
function startHealthProbe(url: string): { stop(): Promise<{ maxMs: number; polls: number }> } {
  const worker = new Worker(PROBE, { eval: true, workerData: { url } });
  const done = new Promise<{ maxMs: number; polls: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      const r = await done;
      await worker.terminate();
      return r;
    },
  };
}
