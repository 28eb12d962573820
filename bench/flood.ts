// The predict flood of issue 10: thousands of concurrent POST /v1/predict requests, each with many
// images, against an API with a bounded queue. Reports the answers (200 / 503 OVERLOADED), the
// slowest answer, /health meanwhile (polled from a thread of its own), the API's own worst
// event-loop delay (GET /metrics), and the API's RSS before, at peak and after. The load generator
// shares the machine: on 2 cores the slowest answers mostly measure it (its own loop delay is shown). The
// service runs in child processes on a scratch database, prefix and data directory (removed at the
// end); a small mlp is trained first through the API.
//
//   flock /tmp/mnist-bench.lock npm run bench:flood
//   npm run bench:flood -- --requests 2500 --images 256 --max-queue 512
//
// Options: --requests N (2500), --images N per request (256, the case), --max-queue N
// (PREDICT_MAX_QUEUE, 512), --log-level L (warn).
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createScratchEnv } from '../scripts/scratch-env.js';
import { submitJob, waitForJob } from './lib/api-client.js';
import { flood } from './lib/flood.js';
import { readMnistTest, asFloats } from './lib/mnist-test.js';
import { scratchServiceEnv, startServiceProcess, stopAllServiceProcesses, type ServiceProcess } from './lib/service-process.js';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '2500' },
    images: { type: 'string', default: '256' },
    'max-queue': { type: 'string', default: '512' },
    'log-level': { type: 'string', default: 'warn' },
  },
});
const requests = Number(args.requests);
const images = Number(args.images);
const log = (m: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${m}`);

const env = await createScratchEnv('bench', process.env.BENCH_DATABASE_URL);
const logFile = path.join(env.dataDir, 'service.log');
let child: ServiceProcess | undefined;
let failed = false;
try {
  await mkdir(env.dataDir, { recursive: true });
  const serviceEnv = scratchServiceEnv(env, {
    LOG_LEVEL: args['log-level']!,
    RATE_LIMIT_MAX: '0',
    PREDICT_MAX_INPUTS: String(Math.max(images, 256)),
  });
  child = await startServiceProcess('all', serviceEnv, { logFile });
  const prep = await submitJob(child.url, 'dataset-prep', { source: 'mnist' });
  await waitForJob(child.url, prep.id);
  const train = await submitJob(child.url, 'train', { datasetId: prep.id, architecture: 'mlp', epochs: 1, subset: { train: 5000 } });
  const trained = await waitForJob(child.url, train.id);
  log(`mlp trained: ${trained.status}`);
  await child.stop();

  child = await startServiceProcess('api', { ...serviceEnv, PREDICT_MAX_QUEUE: args['max-queue']! }, { logFile });
  const digits = await readMnistTest(images);
  const body = JSON.stringify({ model: train.id, inputs: Array.from({ length: images }, (_, i) => asFloats(digits, i)) });
  const warm = await fetch(`${child.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (warm.status !== 200) throw new Error(`warm-up: ${warm.status} ${await warm.text()}`);
  // The API's own worst event-loop delay during the flood (prom-client's gauge, reset by each scrape).
  const loopLagMs = async () => {
    const text = await (await fetch(`${child!.url}/metrics`)).text();
    return Number(/^nodejs_eventloop_lag_max_seconds (\S+)/m.exec(text)?.[1] ?? Number.NaN) * 1000;
  };
  await loopLagMs();
  const before = await child.rssMiB();
  log(`flooding: ${requests} concurrent requests × ${images} images (${(body.length / 1e6).toFixed(2)} MB each), PREDICT_MAX_QUEUE=${args['max-queue']}, API RSS ${before?.toFixed(0)} MiB`);
  const r = await flood(child.url, '/v1/predict', body, { requests });
  const apiLoopMaxMs = await loopLagMs();
  const peak = await child.peakRssMiB();
  const afterNow = await child.rssMiB();
  await new Promise((res) => setTimeout(res, 5000));
  const settled = await child.rssMiB();
  const fmt = (n: number | undefined) => (n === undefined ? 'n/a' : n.toFixed(0));
  console.log(
    [
      `requests ${r.requests} in ${(r.wallMs / 1000).toFixed(1)} s; statuses ${JSON.stringify(r.statuses)}; codes ${JSON.stringify(r.codes)}`,
      `slowest answer ${Math.round(r.slowestMs)} ms (slowest 503 ${Math.round(r.slowest503Ms)} ms), median ${Math.round(r.medianMs)} ms; every 503 with Retry-After: ${r.retryAfterOn503}`,
      `/health during the flood (${r.healthPolls} polls from a thread of its own): median ${Math.round(r.healthP50Ms)} ms, p90 ${Math.round(r.healthP90Ms)} ms, slowest ${Math.round(r.healthMaxMs)} ms`,
      `the API's own worst event-loop delay ${Math.round(apiLoopMaxMs)} ms; the load generator's ${Math.round(r.generatorLoopMaxMs)} ms`,
      `API RSS before ${fmt(before)} MiB, peak ${fmt(peak)} MiB, right after ${fmt(afterNow)} MiB, 5 s later ${fmt(settled)} MiB`,
      `${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)}, node ${process.version}`,
    ].join('\n'),
  );
} catch (err) {
  failed = true;
  console.error(err);
} finally {
  await stopAllServiceProcesses().catch(() => {});
  await env.cleanup().catch((err) => console.error(err));
}
process.exit(failed ? 1 : 0);
