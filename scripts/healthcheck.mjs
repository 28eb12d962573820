// The container health check (Dockerfile HEALTHCHECK), for whichever role the container runs, read
// from PID 1's command line: the API (`all` or `api`) answers GET /health on PORT; a worker answers
// GET /health on WORKER_METRICS_PORT when that is set, and otherwise must hold an established
// connection to Redis (BullMQ keeps one open while it waits for jobs): a worker that lost its queue
// connection for good, or hangs before connecting, is unhealthy. Plain JS: it runs every 15 s.
import { readFileSync } from 'node:fs';

const argv = readFileSync('/proc/1/cmdline', 'utf8').split('\0');
const role = argv.includes('worker') ? 'worker' : 'api';
const fail = (why) => {
  console.error(`unhealthy (${role}): ${why}`);
  process.exit(1);
};

async function http(port) {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2500) }).catch((e) => fail(`GET /health on ${port}: ${e.message}`));
  if (!res.ok) fail(`GET /health on ${port}: ${res.status}`);
  process.exit(0);
}

if (role === 'api') await http(process.env.PORT || 3000);
else if (process.env.WORKER_METRICS_PORT) await http(process.env.WORKER_METRICS_PORT);
else {
  const redisPort = Number(new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379').port || 6379);
  const established = ['/proc/net/tcp', '/proc/net/tcp6']
    .flatMap((f) => { try { return readFileSync(f, 'utf8').trim().split('\n').slice(1); } catch { return []; } })
    .map((line) => line.trim().split(/\s+/))
    .filter(([, , remote, state]) => state === '01' && parseInt(remote.split(':')[1], 16) === redisPort);
  if (established.length === 0) fail(`no established connection to Redis port ${redisPort}`);
  process.exit(0);
}
