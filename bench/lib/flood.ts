// A flood of concurrent POST requests against a service in another process: every request at once
// (one connection each), /health polled beside them. Shared by the predict-flood test and
// `npm run bench:flood`.
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
  /** Slowest /health answer while the flood ran (polled every 50 ms). */
  healthMaxMs: number;
  /** Every 503 carried Retry-After. */
  retryAfterOn503: boolean;
}

export async function flood(url: string, path: string, body: string, { requests, headers = {} }: { requests: number; headers?: Record<string, string> }): Promise<FloodResult> {
  const agent = new Agent({ connections: requests, pipelining: 0, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const probe = new Agent({ connections: 1 });
  let healthMaxMs = 0;
  let flooding = true;
  const health = (async () => {
    while (flooding) {
      const t = performance.now();
      const r = await request(`${url}/health`, { dispatcher: probe }).catch(() => undefined);
      await r?.body.text();
      healthMaxMs = Math.max(healthMaxMs, performance.now() - t);
      await new Promise((res) => setTimeout(res, 50));
    }
  })();
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: requests }, async () => {
      const s = performance.now();
      try {
        const res = await request(`${url}${path}`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json', ...headers }, body });
        const text = await res.body.text();
        const code = res.statusCode === 200 ? null : (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? 'NO_CODE';
        return { status: res.statusCode, code, ms: performance.now() - s, retryAfter: res.headers['retry-after'] !== undefined };
      } catch (err) {
        return { status: 0, code: (err as { code?: string }).code ?? 'REQUEST_FAILED', ms: performance.now() - s, retryAfter: false };
      }
    }),
  );
  const wallMs = performance.now() - t0;
  flooding = false;
  await health;
  await Promise.all([agent.close(), probe.close()]);
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
    healthMaxMs,
    retryAfterOn503: shed.every((r) => r.retryAfter),
  };
}
