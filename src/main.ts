// Entry point. `tsx src/main.ts [all|api|worker]`: `all` (the default) runs the API here and the
// workers in a child process it supervises (see worker-process.ts); `api` and `worker` run either
// alone, to scale them apart.
import { migrate } from './shared/migrate.js';
import { ConfigError, loadConfig } from './shared/config.js';
import { createLogger } from './shared/logger.js';
import { AppError } from './shared/errors.js';
import { createService } from './service.js';
import { answerSupervisor, reportToSupervisor, superviseWorkerProcess, type WorkerProcess } from './worker-process.js';
import { startMetricsServer } from './worker/metrics-server.js';

const mode = process.argv[2] ?? 'all';
if (!['all', 'api', 'worker'].includes(mode)) {
  console.error(`usage: main.ts [all|api|worker] (got "${mode}")`);
  process.exit(2);
}

// A .env file in the working directory, if there is one; variables already set win over it.
try {
  process.loadEnvFile();
} catch (err) {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  throw err;
}
const logger = createLogger(config.LOG_LEVEL);

if (process.env.MIGRATE_ON_START !== 'false') {
  // Safe when several processes start at once: the runner holds an advisory lock.
  const res = await migrate(config.DATABASE_URL);
  if (res.applied.length) logger.info({ applied: res.applied }, 'database migrated');
}

let workerProcess: WorkerProcess | undefined;
const service = await createService(config, logger, {
  api: mode !== 'worker',
  worker: mode === 'worker',
  workerMetrics: () => workerProcess?.metrics() ?? Promise.resolve(undefined),
  // A worker child reports the jobs it holds, so that its supervisor can put them back if it dies.
  workerOptions: mode === 'worker' && process.send ? { track: reportToSupervisor } : undefined,
}).catch((err) => {
  // A bad API_KEYS entry, or AUTH_REQUIRED without a key: say so plainly and stop.
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  // A dependency that is not there (e.g. a bad or unreachable bucket): say which, and stop.
  if (err instanceof AppError) {
    logger.fatal({ code: err.code, details: err.details }, err.message);
    process.exit(1);
  }
  throw err;
});
if (mode === 'all') {
  workerProcess = superviseWorkerProcess(logger, async (jobs) => {
    for (const j of jobs) await service.jobs.takeBack(j.queue, j.jobId, j.token, 'the worker process died');
  });
}
if (service.app) {
  // A deep accept queue: under a flood, connections wait there for their (quick) 503 instead of
  // overflowing Node's default 511 into SYN retransmits of 1 s, 3 s, 7 s.
  const address = await service.app.listen({ port: config.PORT, host: config.HOST, backlog: 4096 });
  logger.info({ address, docs: `${address}/docs` }, 'API listening');
  // In the background: requests are served meanwhile (a model not loaded yet loads on demand).
  void service.preloadModels().catch((err) => logger.warn({ err }, 'model preload failed'));
}

let stopping = false;
// A worker child answers its supervisor's metric requests; a worker started alone serves its own.
let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
if (mode === 'worker' && process.send) answerSupervisor();
else if (mode === 'worker' && config.WORKER_METRICS_PORT > 0) {
  metricsServer = await startMetricsServer(config.WORKER_METRICS_PORT, config.HOST, () => !stopping, logger);
}
async function shutdown(reason: string): Promise<void> {
  if (stopping) process.exit(1); // a second signal: stop now
  stopping = true;
  logger.info({ reason }, 'shutting down: finishing requests, releasing jobs');
  metricsServer?.close();
  await Promise.all([service.close(), workerProcess?.stop()]);
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void shutdown(signal));
// A worker started by `all` mode has an IPC channel to its parent, which closes when the parent
// exits however it does (even SIGKILL): then stop too, rather than work on as an orphan.
if (mode === 'worker' && process.send) {
  if (process.connected) process.once('disconnect', () => void shutdown('parent process exited'));
  else void shutdown('parent process exited'); // while this process was starting
}
