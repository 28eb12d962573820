// The Fastify application: shared error shape, OpenAPI generation, and one plugin per route group.
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from '../shared/logger.js';
import type { Config } from '../shared/config.js';
import type { Db } from '../shared/db.js';
import type { Queues } from '../shared/queue.js';
import type { ArtifactStore } from '../storage/index.js';
import { statusOf, toAppError } from './http-errors.js';
import { Job } from '../jobs/contract.js';
import type { JobsStore } from '../jobs/store.js';
import { ErrorResponse } from './schemas.js';
import { jobsRoutes } from './routes/jobs.js';
import { datasetsRoutes } from './routes/datasets.js';
import { modelsRoutes } from './routes/models.js';
import { healthRoutes } from './routes/health.js';
import { predictRoutes, type PredictService } from './routes/predict.js';
import { misclassifiedRoutes } from './routes/misclassified.js';
import { uiRoutes } from './routes/ui.js';
import { apiKeysRoutes } from './routes/api-keys.js';
import { installAuth } from './auth.js';
import { dependencyError, installLimits } from './limits.js';
import { metricsRoutes } from './routes/metrics.js';
import { webhooksRoutes } from './routes/webhooks.js';
import { queueUiRoutes } from './routes/queue-ui.js';
import type { WebhookPublisher } from '../webhooks/events.js';
import type { JobEventBus } from '../shared/job-events.js';
import { observability, requestId } from './observability.js';
import type { MetricsSnapshot } from '../shared/metrics.js';

export interface AppDeps {
  config: Config;
  db: Db;
  queues: Queues;
  /** Submits, reads and cancels jobs: routes never move a job's status themselves. */
  jobs: JobsStore;
  logger: Logger;
  /** Where datasets, models and prediction files are (fs or s3). */
  store: ArtifactStore;
  /** Synchronous predictions; the only door from the API to TensorFlow. */
  predict: PredictService;
  /** The TensorFlow.js backend serving predictions in this process, once loaded. */
  backendName: () => string | null;
  /** Ids of the models loaded for serving in this process. */
  loadedModels: () => string[];
  /** Tells caches that a model was deleted, or that an alias pointing at it moved away. */
  onModelChanged: (modelId: string, change: 'deleted' | 'alias-moved') => void;
  /** Records and queues webhook events (model.*, job.cancelled of a queued job). */
  webhooks: WebhookPublisher;
  /** Jobs' live events, which GET /v1/jobs/:id/events streams. */
  events: JobEventBus;
  /** Under `npm start`: the worker child's metrics, merged into GET /metrics. */
  workerMetrics?: () => Promise<MetricsSnapshot | undefined>;
}

export const API_VERSION = '1.0.0';

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.config.JOBS_BODY_LIMIT_BYTES, // POST /predict has its own (PREDICT_BODY_LIMIT_BYTES)
    ajv: { customOptions: { removeAdditional: false, discriminator: true, allErrors: false, strict: false, coerceTypes: true }, plugins: [] },
    // Errors Fastify raises before routing (a path that is not valid percent-encoded UTF-8 …) get the
    // same error shape as the rest.
    frameworkErrors: (err, _req, reply) => {
      const code = err.code === 'FST_ERR_BAD_URL' ? 'BAD_URL' : 'BAD_REQUEST';
      void (reply as unknown as FastifyReply).code(400).send({ error: { code, message: code === 'BAD_URL' ? 'The URL is not valid percent-encoded UTF-8' : err.message } });
    },
    genReqId: requestId,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(observability, { measure: deps.config.METRICS_ENABLED });
  // JSON only: a text/plain body is refused with 415 instead of failing validation as a string.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const appErr = dependencyError(err) ?? toAppError(err);
    const status = statusOf(appErr.code);
    if (status >= 500 && status !== 503) req.log.error({ err }, 'request failed');
    else if (status === 503) req.log.warn({ code: appErr.code, err: err.message }, 'dependency unavailable');
    // A client told to come back later is told when.
    if ((status === 503 || status === 429) && !reply.hasHeader('retry-after')) reply.header('retry-after', status === 503 ? '2' : '1');
    return reply.code(status).send({ error: appErr.toJSON() });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: { code: 'ROUTE_NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}` } }),
  );

  app.addSchema(ErrorResponse);
  app.addSchema(Job);
  // Auth first (its onRoute hook reads every route's role), then the limits, then the routes.
  const auth = await installAuth(app as unknown as FastifyInstance, deps);
  const limits = await installLimits(app as unknown as FastifyInstance, deps.config);
  auth.limitFailures(limits.authFailures);
  app.addHook('onClose', async () => {
    auth.close();
    await limits.close();
  });
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
        { name: 'health', description: 'Liveness, readiness and metrics' },
        { name: 'api-keys', description: 'API keys (admin)' },
        { name: 'webhooks', description: 'Signed event deliveries (Standard Webhooks) and their attempts' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key: Authorization: Bearer <secret>. Each operation names the role it needs in x-role.' },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (json.$id as string) || `def-${i}` },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes, { ...deps, authMode: auth.mode });
  await app.register(apiKeysRoutes, { ...deps, auth });
  await app.register(metricsRoutes, deps);
  await app.register(jobsRoutes, deps);
  await app.register(datasetsRoutes, deps);
  await app.register(modelsRoutes, deps);
  await app.register(predictRoutes, deps);
  await app.register(misclassifiedRoutes, deps);
  await app.register(uiRoutes);
  await app.register(webhooksRoutes, deps);
  await app.register(queueUiRoutes, deps);
  return app as unknown as FastifyInstance;
}
