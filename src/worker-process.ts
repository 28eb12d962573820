// `main.ts all` runs the API in its own process and the workers in a child process, restarted if it
// dies. Training runs synchronous TensorFlow.js kernels on the JS thread for ~0.1 s a batch; sharing
// an event loop with the API, it held a single /predict client to ~3 requests/s with p50 ~300 ms
// (bench/predict.ts --while-training --mode all, before this split); in a process of its own the API
// keeps serving thousands per second while a model trains.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from './shared/logger.js';
import { snapshot, type MetricsSnapshot } from './shared/metrics.js';
import type { JobTracker } from './worker/index.js';

/** The entry point next to this file, in its own extension (.ts under tsx, .js when compiled). */
const MAIN = fileURLToPath(new URL(`./main${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url));

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;
/** A child that lived this long counts as healthy: its next restart starts from FIRST_DELAY_MS again. */
const HEALTHY_MS = 60_000;

export interface WorkerProcess {
  /** Asks the child to finish (SIGTERM: it releases its jobs) and resolves when it has exited. */
  stop(): Promise<void>;
  /** The child's metrics (over IPC), or undefined when it is not running or does not answer within a second. */
  metrics(): Promise<MetricsSnapshot | undefined>;
}

/** IPC between the supervisor and its worker child. */
type ToChild = { type: 'metrics'; id: number };
type FromChild =
  | { type: 'metrics'; id: number; metrics: MetricsSnapshot }
  | { type: 'job-started'; queue: string; jobId: string; token: string }
  | { type: 'job-ended'; jobId: string };

/** A job the child holds: its queue and lock token. */
export interface HeldJob {
  queue: string;
  jobId: string;
  token: string;
}
const METRICS_TIMEOUT_MS = 1000;

/** In the worker child: tells the supervisor which jobs this process holds (see superviseWorkerProcess's onLost). */
export const reportToSupervisor: JobTracker = {
  started: (queue, jobId, token) => process.connected && process.send?.({ type: 'job-started', queue, jobId, token } satisfies FromChild),
  ended: (jobId) => process.connected && process.send?.({ type: 'job-ended', jobId } satisfies FromChild),
};

/** In the worker child: answers the supervisor's requests for this process's metrics. */
export function answerSupervisor(): void {
  process.on('message', (msg: ToChild) => {
    if (msg?.type !== 'metrics') return;
    void snapshot().then((metrics) => process.connected && process.send?.({ type: 'metrics', id: msg.id, metrics } satisfies FromChild));
  });
}

/**
 * Starts the worker child and restarts it when it dies. `onLost` gets the jobs a dead child held, to
 * put them back on the queue at once (the child reports each job it takes and ends over IPC).
 */
export function superviseWorkerProcess(logger: Logger, onLost: (jobs: HeldJob[]) => Promise<void>, env: NodeJS.ProcessEnv = process.env): WorkerProcess {
  let child: ChildProcess | undefined;
  let stopping = false;
  let delay = FIRST_DELAY_MS;
  let restartTimer: NodeJS.Timeout | undefined;
  let exited: Promise<void> = Promise.resolve();
  let nextRequest = 1;
  const waiting = new Map<number, (m: MetricsSnapshot | undefined) => void>();

  const start = () => {
    const startedAt = Date.now();
    // Its own process group (detached): a Ctrl-C in the terminal reaches only this process, which
    // then stops the child once, rather than both getting it and the child a second signal from us.
    // The IPC channel tells the child when this process is gone, however it went (see main.ts).
    const c = fork(MAIN, ['worker'], {
      env: { ...env, MIGRATE_ON_START: 'false' }, // this process has migrated already
      execArgv: process.execArgv,
      stdio: 'inherit',
      detached: true,
    });
    child = c;
    const held = new Map<string, HeldJob>();
    logger.info({ workerPid: c.pid }, 'worker process started');
    exited = new Promise((resolve) => {
      c.once('exit', (code, signal) => {
        if (child === c) child = undefined;
        resolve();
        if (stopping) return;
        if (held.size) {
          const jobs = [...held.values()];
          void onLost(jobs).then(
            () => logger.warn({ jobs: jobs.map((j) => j.jobId) }, 'jobs of the dead worker process put back on the queue'),
            (err) => logger.error({ err }, 'could not put back the jobs of the dead worker process; they return when their lock expires'),
          );
        }
        delay = Date.now() - startedAt > HEALTHY_MS ? FIRST_DELAY_MS : delay;
        logger.error({ workerPid: c.pid, code, signal, restartInMs: delay }, 'worker process exited; restarting it');
        restartTimer = setTimeout(start, delay);
        delay = Math.min(MAX_DELAY_MS, delay * 2);
      });
    });
    c.on('error', (err) => logger.error({ err }, 'worker process error'));
    c.on('message', (msg: FromChild) => {
      if (msg?.type === 'metrics') waiting.get(msg.id)?.(msg.metrics);
      else if (msg?.type === 'job-started') held.set(msg.jobId, { queue: msg.queue, jobId: msg.jobId, token: msg.token });
      else if (msg?.type === 'job-ended') held.delete(msg.jobId);
    });
  };
  start();

  return {
    async stop() {
      stopping = true;
      clearTimeout(restartTimer);
      child?.kill('SIGTERM');
      await exited;
    },
    metrics() {
      const c = child;
      if (!c?.connected) return Promise.resolve(undefined);
      const id = nextRequest++;
      return new Promise((resolve) => {
        const done = (m: MetricsSnapshot | undefined) => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(m);
        };
        const timer = setTimeout(() => done(undefined), METRICS_TIMEOUT_MS);
        waiting.set(id, done);
        c.send({ type: 'metrics', id } satisfies ToChild, (err) => err && done(undefined));
      });
    },
  };
}
