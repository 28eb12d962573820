// Route group /v1/jobs: submit, read, list, cancel, per-epoch metrics, bulk predictions and a
// server-sent event stream. Handlers parse the request and call the jobs store.
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { EpochMetrics } from '../../ml/results.js';
import { AppError } from '../../shared/errors.js';
import { JOB_CONTRACT, JOB_STATUSES, JOB_TYPES, type JobType } from '../../jobs/contract.js';
import { explain, isJobType, parseJobParams } from '../../jobs/params.js';
import type { Submission } from '../../jobs/store.js';
import { IdParams, PageQuery, errors, jobRef, page } from '../schemas.js';
import type { AppDeps } from '../app.js';
import { sendFile } from '../send-file.js';
import { audit } from '../audit.js';
import { streamJobEvents } from '../job-stream.js';
import { checkCallbackUrl } from '../../webhooks/outbound.js';
import { outboundPolicy, type OutboundPolicy } from '../../shared/outbound.js';

const CallbackUrl = Type.String({
  format: 'uri',
  pattern: '^https?://',
  maxLength: 2000,
  description: "POSTed the job once it ends (job.succeeded, job.failed or job.cancelled), signed like webhooks with the service's CALLBACK_SECRET",
});
const IdempotencyKey = Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$', description: 'Visible ASCII; resubmitting with the same key returns the first job' });

/** One body shape per job type, told apart by `type` (an OpenAPI discriminator). */
export const CreateJobBody = Type.Union(
  JOB_TYPES.map((t) =>
    Type.Object(
      { type: Type.Literal(t), params: JOB_CONTRACT[t].params, idempotencyKey: Type.Optional(IdempotencyKey), callbackUrl: Type.Optional(CallbackUrl) },
      { additionalProperties: false, title: `${t} job submission` },
    ),
  ),
  { discriminator: { propertyName: 'type' } },
);

/**
 * Validates a submission with parseJobParams (defaults applied, then checked) rather than Ajv, so the
 * API and the worker read params the same way; the body schema above documents it.
 */
function parseSubmission(body: unknown, callbackSecret: string, policy: OutboundPolicy): Submission {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new AppError('VALIDATION_FAILED', 'body must be an object');
  const { type, params, idempotencyKey, callbackUrl, ...rest } = body as Record<string, unknown>;
  if (!isJobType(type)) throw new AppError('UNKNOWN_JOB_TYPE', `type must be one of ${JOB_TYPES.join(', ')}`, { type });
  const extra = Object.keys(rest);
  if (extra.length) throw new AppError('VALIDATION_FAILED', `body must NOT have additional properties (${extra.join(', ')})`);
  if (idempotencyKey !== undefined) {
    const issues = explain(IdempotencyKey, idempotencyKey);
    if (issues.length) throw new AppError('VALIDATION_FAILED', `idempotencyKey ${issues[0]!.message}`, issues);
  }
  if (callbackUrl !== undefined) {
    const issues = explain(CallbackUrl, callbackUrl);
    if (issues.length) throw new AppError('VALIDATION_FAILED', `callbackUrl ${issues[0]!.message}`, issues);
    checkCallbackUrl(callbackUrl as string, callbackSecret, policy);
  }
  return {
    type,
    params: parseJobParams(type, params ?? {}),
    idempotencyKey: idempotencyKey as string | undefined,
    callbackUrl: callbackUrl as string | undefined,
  };
}

const ListQuery = Type.Object({
  type: Type.Optional(Type.Union(JOB_TYPES.map((t) => Type.Literal(t)))),
  status: Type.Optional(Type.Union(JOB_STATUSES.map((s) => Type.Literal(s)))),
  ...PageQuery,
});


export const jobsRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, { config, db, jobs, events }) => {
  app.post(
    '/v1/jobs',
    {
      schema: {
        operationId: 'createJob',
        tags: ['jobs'],
        summary: 'Submit a job',
        description: 'Validates the parameters, records the job and queues it. Answers 202 with the job to poll.',
        body: CreateJobBody,
        response: { 202: jobRef, ...errors(404, 409, 422, 503) },
      },
      validatorCompiler: () => (body) => {
        try {
          return { value: parseSubmission(body, config.CALLBACK_SECRET, outboundPolicy(config)) };
        } catch (err) {
          return { error: err as Error };
        }
      },
    },
    async (req, reply) => {
      const { job, replayed } = await jobs.submit(req.body as Submission, req.principal.id);
      if (replayed) reply.header('idempotent-replayed', 'true');
      else req.log.info({ jobId: job.id, type: job.type }, 'job queued');
      return reply.code(202).header('location', `/v1/jobs/${job.id}`).send(job);
    },
  );

  app.get(
    '/v1/jobs/:id',
    { schema: { operationId: 'getJob', tags: ['jobs'], summary: 'Get a job', params: IdParams, response: { 200: jobRef, ...errors(404) } } },
    async (req) => jobs.get(req.params.id),
  );

  app.get(
    '/v1/jobs',
    {
      schema: { operationId: 'listJobs', tags: ['jobs'], summary: 'List jobs, newest first', querystring: ListQuery, response: { 200: page(jobRef), ...errors() } },
    },
    async (req) => jobs.list(req.query),
  );

  app.post(
    '/v1/jobs/:id/cancel',
    {
      schema: {
        operationId: 'cancelJob',
        tags: ['jobs'],
        summary: 'Cancel a queued or running job',
        description: 'A queued job is cancelled at once; a running one stops at its next batch and then reads `cancelled`.',
        params: IdParams,
        response: { 202: jobRef, ...errors(404, 409) },
      },
    },
    async (req, reply) => {
      const job = await jobs.cancel(req.params.id, req.principal);
      await audit(db, req, 'job.cancel', job.id);
      return reply.code(202).send(job);
    },
  );

  app.get(
    '/v1/jobs/:id/metrics',
    {
      schema: {
        operationId: 'getJobMetrics',
        tags: ['jobs'],
        summary: 'Per-epoch metrics of a train or fine-tune job',
        params: IdParams,
        response: { 200: Type.Object({ jobId: Type.String({ format: 'uuid' }), items: Type.Array(EpochMetrics) }), ...errors(404) },
      },
    },
    async (req) => {
      const job = await jobs.get(req.params.id);
      return { jobId: job.id, items: await jobs.epochs(job.id) };
    },
  );

  app.get(
    '/v1/jobs/:id/predictions',
    {
      schema: {
        operationId: 'getJobPredictions',
        tags: ['jobs'],
        summary: 'The predictions of a finished predict job',
        description: 'JSON lines, one per input in order: `{"index", "class", "probabilities"}` and `label` where the dataset has one.',
        params: IdParams,
        response: { 200: Type.String({ description: 'application/x-ndjson' }), ...errors(404, 409) },
      },
    },
    async (req, reply) => {
      const job = await jobs.get(req.params.id);
      const result = job.type === 'predict' && job.status === 'succeeded' ? job.result : null;
      if (!result) {
        throw new AppError('NO_PREDICTIONS', `Job ${job.id} is a ${job.type} job with status ${job.status}: only a succeeded predict job has predictions`);
      }
      return sendFile(reply, path.join(config.DATA_DIR, result.predictionsFile), 'application/x-ndjson', `The predictions of job ${job.id} are gone from disk`);
    },
  );

  app.get(
    '/v1/jobs/:id/events',
    {
      schema: {
        operationId: 'streamJobEvents',
        tags: ['jobs'],
        summary: 'Server-sent events of a job',
        description:
          'A text/event-stream of `status` (the job), `progress`, `metric` (one per epoch) and a final `end` event once the job is finished, pushed as they happen. Every event has an `id`; reconnect with `Last-Event-ID` to get the events after it. A `: heartbeat` comment comes every 15 s.',
        params: IdParams,
        response: { 200: Type.String({ description: 'text/event-stream' }), ...errors(404) },
      },
    },
    async (req, reply) => streamJobEvents(req, reply, { jobs, events }, req.params.id),
  );
};

export type CreateJobBody = Static<typeof CreateJobBody>;
export type { JobType };
