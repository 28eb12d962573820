// A worker started alone has no API in front of it: it serves its own GET /metrics (Prometheus) and
// GET /health (the worker container's health check) on WORKER_METRICS_PORT. Plain node:http: two
// fixed routes need no framework.
import { createServer, type Server } from 'node:http';
import type { Logger } from '../shared/logger.js';
import { render } from '../shared/metrics.js';

export async function startMetricsServer(port: number, host: string, healthy: () => boolean, logger: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'application/json', allow: 'GET' }).end(JSON.stringify({ error: { code: 'METHOD_NOT_ALLOWED', message: 'GET only' } }));
    } else if (url === '/metrics') {
      render().then(
        ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
        (err) => {
          logger.error({ err }, 'metrics failed');
          res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'INTERNAL', message: 'metrics failed' } }));
        },
      );
    } else if (url === '/health') {
      const ok = healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'stopping' }));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'ROUTE_NOT_FOUND', message: `No route ${req.method} ${url}` } }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  logger.info({ port: (server.address() as { port: number }).port }, 'worker metrics and health listening');
  return server;
}
