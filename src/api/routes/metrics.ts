// GET /metrics: the Prometheus text of this process and, under `npm start`, of its worker child.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { render } from '../../shared/metrics.js';
import type { AppDeps } from '../app.js';

export const metricsRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, { workerMetrics }) => {
  app.get(
    '/metrics',
    {
      schema: {
        operationId: 'getMetrics',
        tags: ['health'],
        summary: 'Prometheus metrics',
        description: 'The Prometheus text format; under `npm start` the worker process\'s series are merged in.',
        response: { 200: Type.String({ description: 'text/plain; version=0.0.4' }) },
      },
    },
    async (_req, reply) => {
      const child = await workerMetrics?.();
      const { contentType, body } = await render(child ? [child] : []);
      return reply.type(contentType).send(body);
    },
  );
};
