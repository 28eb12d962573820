// Drives POST /v1/predict with autocannon and checks every answer: status, shape and class.
import autocannon from 'autocannon';
import type { Digits } from './mnist-test.js';
import { asFloats } from './mnist-test.js';

export interface Scenario {
  name: string;
  connections: number;
  /** Digits per request. */
  imagesPerRequest: number;
  durationS: number;
  warmupS: number;
}

export interface ScenarioResult {
  scenario: Scenario;
  requests: number;
  reqPerSec: number;
  imgPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Answers that were 200 but did not hold one valid prediction per input. */
  malformed: number;
  /** Predictions compared with the digits' labels, and how many were right. */
  checked: number;
  correct: number;
  /** CPU time per image during the measured run: the service's (all threads) and this process's (the load generator). */
  serviceCpuMsPerImage?: number;
  clientCpuMsPerImage: number;
  /** Status codes other than 200 and how often, with one example body each. */
  failures: Record<string, { count: number; example: string }>;
}

interface Tally {
  checked: number;
  correct: number;
  malformed: number;
  failures: Record<string, { count: number; example: string }>;
}

/**
 * One request template whose setupRequest hands out the next body of a shared rotation, so that all
 * connections together walk through the digits in order (with a plain list of requests every
 * connection would start at the first digit). The body's index travels in the connection's context
 * to onResponse, which checks the answer against the labels; each connection has one request in
 * flight (no pipelining), so the context cannot be overwritten before the answer arrives.
 */
function buildRequest(digits: Digits, model: string, perRequest: number, count: number, tally: () => Tally): autocannon.Request {
  const bodies: Buffer[] = []; // Buffers: autocannon would encode strings on every request
  const labels: number[][] = [];
  for (let b = 0; b < count; b++) {
    const first = (b * perRequest) % (digits.count - perRequest + 1);
    const ls = Array.from(digits.labels.subarray(first, first + perRequest));
    bodies.push(Buffer.from(JSON.stringify({ model, inputs: ls.map((_, k) => asFloats(digits, first + k)) })));
    labels.push(ls);
  }
  let next = 0;
  return {
    method: 'POST',
    path: '/v1/predict',
    headers: { 'content-type': 'application/json' },
    body: bodies[0],
    setupRequest(req, context) {
      const i = next++ % count;
      (context as { i?: number }).i = i;
      return { ...req, body: bodies[i] };
    },
    onResponse(status, body, context) {
      const t = tally();
      if (status !== 200) {
        t.failures[status] ??= { count: 0, example: body.slice(0, 300) };
        const f = t.failures[status];
        f.count++;
        return;
      }
      const expected = labels[(context as { i: number }).i]!;
      let predictions: { class: number; probabilities: number[] }[] | undefined;
      try {
        predictions = JSON.parse(body).predictions;
      } catch {
        // counted below
      }
      if (!Array.isArray(predictions) || predictions.length !== perRequest) {
        t.malformed++;
        return;
      }
      for (let k = 0; k < perRequest; k++) {
        t.checked++;
        if (predictions[k]!.class === expected[k]) t.correct++;
      }
    },
  };
}

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** Warms up for `warmupS` (answers checked, figures discarded), then measures for `durationS`. */
export async function runScenario(
  url: string,
  model: string,
  digits: Digits,
  s: Scenario,
  serviceCpuSeconds: () => Promise<number | undefined> = async () => undefined,
): Promise<ScenarioResult> {
  let tally: Tally = { checked: 0, correct: 0, malformed: 0, failures: {} };
  // Distinct digits throughout (up to the whole test set), so answers cannot be cached.
  const count = Math.min(2000, Math.floor(digits.count / s.imagesPerRequest));
  const requests = [buildRequest(digits, model, s.imagesPerRequest, count, () => tally)];
  const base = { url, connections: s.connections, requests, timeout: 30 } satisfies autocannon.Options;
  if (s.warmupS > 0) await run({ ...base, duration: s.warmupS });
  const warm = tally;
  tally = { checked: 0, correct: 0, malformed: 0, failures: {} };
  const cpu0 = await serviceCpuSeconds();
  const own0 = process.cpuUsage();
  const r = await run({ ...base, duration: s.durationS });
  const cpu1 = await serviceCpuSeconds();
  const own = process.cpuUsage(own0);
  // Warm-up failures count too: a failed request is a failed request.
  for (const [code, f] of Object.entries(warm.failures)) {
    tally.failures[code] ??= { count: 0, example: f.example };
    const g = tally.failures[code];
    g.count += f.count;
  }
  const requestsDone = r.requests.total;
  const images = requestsDone * s.imagesPerRequest;
  return {
    scenario: s,
    requests: requestsDone,
    reqPerSec: requestsDone / r.duration,
    imgPerSec: (requestsDone * s.imagesPerRequest) / r.duration,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.mean },
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    malformed: tally.malformed + warm.malformed,
    checked: tally.checked,
    correct: tally.correct,
    failures: tally.failures,
    serviceCpuMsPerImage: cpu0 !== undefined && cpu1 !== undefined && images > 0 ? ((cpu1 - cpu0) * 1000) / images : undefined,
    clientCpuMsPerImage: images > 0 ? (own.user + own.system) / 1000 / images : 0,
  };
}
