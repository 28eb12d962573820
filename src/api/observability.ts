// Request ids and HTTP metrics for every route. Registered on the root instance (skip-override), so
// its hooks see the routes of every plugin.
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { httpDuration } from '../shared/metrics.js';

/** What a client may send as its x-request-id: short, printable, no spaces (it goes into every log line). */
const REQUEST_ID_RE = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** Fastify's genReqId: the client's x-request-id when it is well-formed, else a fresh UUID. */
export function requestId(req: { headers: Record<string, string | string[] | undefined> }): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : crypto.randomUUID();
}

/** The route template (`/v1/jobs/:id`), never the raw URL: label values must stay few. */
export const routeLabel = (req: FastifyRequest) => req.routeOptions.url ?? 'unmatched';

const plugin: FastifyPluginAsync<{ measure: boolean }> = async (app: FastifyInstance, { measure }) => {
  // Fastify's request logger already carries the id (`reqId`) on every line of the request.
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  if (!measure) return;
  app.addHook('onResponse', async (req, reply) => {
    httpDuration.observe({ method: req.method, route: routeLabel(req), status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
};
(plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
export const observability = plugin;
