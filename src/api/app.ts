// The Fastify application: shared error shape, OpenAPI generation, and one plugin per route group.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from '../shared/logger.js';
import type { Config } from '../shared/config.js';
import type { Db } from '../shared/db.js';
import type { Queues } from '../shared/queue.js';
import { statusOf, toAppError } from './http-errors.js';
import { Job } from '../jobs/contract.js';
import type { JobsStore } from '../jobs/store.js';
import { ErrorResponse } from './schemas.js';
import { jobsRoutes } from './routes/jobs.js';
import { datasetsRoutes } from './routes/datasets.js';
import { modelsRoutes } from './routes/models.js';
import { healthRoutes } from './routes/health.js';
import { predictRoutes, type PredictService } from './routes/predict.js';

export interface AppDeps {
  config: Config;
  db: Db;
  queues: Queues;
  /** Submits, reads and cancels jobs: routes never move a job's status themselves. */
  jobs: JobsStore;
  logger: Logger;
  /** Synchronous predictions; the only door from the API to TensorFlow. */
  predict: PredictService;
  /** The TensorFlow.js backend serving predictions in this process, once loaded. */
  backendName: () => string | null;
  /** Ids of the models loaded for serving in this process. */
  loadedModels: () => string[];
  /** Tells caches that a model was deleted, or that an alias pointing at it moved away. */
  onModelChanged: (modelId: string, change: 'deleted' | 'alias-moved') => void;
}

export const API_VERSION = '1.0.0';

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: 32 * 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, discriminator: true, allErrors: false, strict: false, coerceTypes: true }, plugins: [] },
    genReqId: (req) => (req.headers['x-request-id'] as string) || crypto.randomUUID(),
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only: a text/plain body is refused with 415 instead of failing validation as a string.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const appErr = toAppError(err);
    const status = statusOf(appErr.code);
    if (status >= 500) req.log.error({ err }, 'request failed');
    return reply.code(status).send({ error: appErr.toJSON() });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: { code: 'ROUTE_NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}` } }),
  );

  app.addSchema(ErrorResponse);
  app.addSchema(Job);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'mnist-jobs',
        version: API_VERSION,
        description: 'Prepare MNIST-style datasets, train and fine-tune TensorFlow.js models on them, and serve predictions.',
      },
      servers: [{ url: 'http://localhost:3000', description: 'npm start with the default PORT' }],
      tags: [
        { name: 'jobs', description: 'Asynchronous jobs: dataset-prep, train, fine-tune, predict' },
        { name: 'datasets', description: 'Prepared datasets' },
        { name: 'models', description: 'The model registry' },
        { name: 'predict', description: 'Synchronous predictions' },
        { name: 'health', description: 'Liveness and readiness' },
      ],
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (json.$id as string) || `def-${i}` },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes, deps);
  await app.register(jobsRoutes, deps);
  await app.register(datasetsRoutes, deps);
  await app.register(modelsRoutes, deps);
  await app.register(predictRoutes, deps);
  return app as unknown as FastifyInstance;
}
