// Runs the service (`node --import tsx src/main.ts <mode>`) in a child process, so the load generator
// and the service do not share an event loop and the child's peak RSS is the service's own.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ScratchEnv } from '../../scripts/scratch-env.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** USER_HZ: /proc reports CPU times in these ticks; 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

/**
 * The environment of a service child on a scratch env (its own database, queue prefix and data
 * directory; createScratchEnv migrated the database), on the wasm backend unless TFJS_BACKEND says.
 */
export function scratchServiceEnv(env: ScratchEnv, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    QUEUE_PREFIX: env.queuePrefix,
    DATA_DIR: env.dataDir,
    LOG_LEVEL: 'info',
    TFJS_BACKEND: process.env.TFJS_BACKEND ?? 'wasm',
    MIGRATE_ON_START: 'false',
    ...overrides,
  };
}

export interface ServiceProcess {
  pid: number;
  url: string;
  /** Peak resident set size of the child so far (VmHWM), MiB; undefined where /proc is missing. */
  peakRssMiB(): Promise<number | undefined>;
  /** Resident set size of the child now (VmRSS), MiB; undefined where /proc is missing. */
  rssMiB(): Promise<number | undefined>;
  /** The exit code or signal once the child has exited (e.g. crashed under load), else undefined. */
  exitStatus(): number | string | undefined;
  /** CPU time the child has used so far (user + system, all threads), seconds; undefined without /proc. */
  cpuSeconds(): Promise<number | undefined>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** The stop functions of the children still running. */
const live = new Set<(graceMs?: number) => Promise<void>>();

/** Stops every service this process started that is still running (e.g. from a signal handler). */
export async function stopAllServiceProcesses(graceMs?: number): Promise<void> {
  await Promise.all([...live].map((stop) => stop(graceMs)));
}

/** A TCP port free at the time of asking (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** The last `lines` lines of a log file ('' when unreadable). */
export async function tail(file: string, lines = 30): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  // Long lines cut: a crash can print a whole minified source line.
  return text.trimEnd().split('\n').slice(-lines).map((l) => (l.length > 500 ? `${l.slice(0, 500)}…` : l)).join('\n');
}

/**
 * Starts the service with `env` added to this process's environment (PORT is chosen here), appends
 * its stdout and stderr to `logFile`, and resolves once GET /ready answers 200 (a `worker` serves no
 * HTTP: it resolves at once, and its jobs show when it works). `nodeArgs` go to node itself (e.g.
 * --cpu-prof, which NODE_OPTIONS refuses).
 */
export async function startServiceProcess(
  mode: 'all' | 'api' | 'worker',
  env: Record<string, string>,
  { logFile, readyTimeoutMs = 120_000, nodeArgs = [] }: { logFile: string; readyTimeoutMs?: number; nodeArgs?: string[] },
): Promise<ServiceProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // The child writes its log straight into the file: piped through this process, whose event loop
  // is busy generating load, a full pipe would block the service's synchronous log writes.
  const log = await open(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/main.ts', mode], {
      cwd: ROOT,
      env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', log.fd, log.fd],
    });
  } finally {
    await log.close(); // the child holds its own copy of the descriptor
  }
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  let hasExited = false;
  let status: number | string | undefined;
  const stop = async (graceMs = 15_000): Promise<void> => {
    if (hasExited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  // Known before it is ready, so that a signal during start-up stops it too.
  live.add(stop);
  void exited.then((s) => {
    hasExited = true;
    status = s;
    live.delete(stop);
  });

  const deadline = Date.now() + readyTimeoutMs;
  for (; mode !== 'worker'; ) {
    if (hasExited) throw new Error(`service (${mode}) exited with ${await exited} before it was ready:\n${await tail(logFile)}`);
    const ok = await fetch(`${url}/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`service (${mode}) not ready after ${readyTimeoutMs} ms:\n${await tail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  const proc: ServiceProcess = {
    pid: child.pid!,
    url,
    async peakRssMiB() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
      const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1];
      return kb === undefined ? undefined : Number(kb) / 1024;
    },
    async rssMiB() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
      const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
      return kb === undefined ? undefined : Number(kb) / 1024;
    },
    exitStatus: () => status,
    async cpuSeconds() {
      const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8').catch(() => '');
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields.length < 13) return undefined;
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    },
    stop,
  };
  return proc;
}
