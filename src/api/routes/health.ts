// Liveness and readiness.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppDeps } from '../app.js';

const Check = Type.Object({ ok: Type.Boolean(), latencyMs: Type.Number(), error: Type.Optional(Type.String()) });

async function timed(fn: () => Promise<unknown>) {
  const t0 = performance.now();
  try {
    await Promise.race([fn(), new Promise((_, rej) => setTimeout(() => rej(new Error('timed out after 2 s')), 2000).unref())]);
    return { ok: true, latencyMs: Math.round(performance.now() - t0) };
  } catch (err) {
    return { ok: false, latencyMs: Math.round(performance.now() - t0), error: (err as Error).message };
  }
}

const Ready = (status: 'ready' | 'unavailable') =>
  Type.Object({
    status: Type.Literal(status),
    checks: Type.Object({ postgres: Check, redis: Check }),
    backend: Type.Union([Type.String(), Type.Null()], { description: 'TensorFlow.js backend serving predictions' }),
    models: Type.Array(Type.String(), { description: 'Ids of the models loaded for serving' }),
    auth: Type.Union([Type.Literal('on'), Type.Literal('off')], { description: '`off`: no API key is configured and the API is open' }),
  });

export const healthRoutes: FastifyPluginAsyncTypebox<AppDeps & { authMode: () => 'on' | 'off' }> = async (app, { db, queues, backendName, loadedModels, authMode }) => {
  app.get(
    '/health',
    { schema: { operationId: 'getHealth', tags: ['health'], summary: 'Liveness: the process answers', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      schema: {
        operationId: 'getReadiness',
        tags: ['health'],
        summary: 'Readiness: Postgres and Redis answer',
        response: { 200: Ready('ready'), 503: Ready('unavailable') },
      },
    },
    async (_req, reply) => {
      const [postgres, redis] = await Promise.all([
        timed(() => db.$queryRaw`SELECT 1`),
        timed(() => queues['dataset-prep'].count()),
      ]);
      const ok = postgres.ok && redis.ok;
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unavailable', checks: { postgres, redis }, backend: backendName(), models: loadedModels(), auth: authMode() });
    },
  );
};
