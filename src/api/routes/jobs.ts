// Route group /v1/jobs: submit, read, list, cancel, per-epoch metrics, and a server-sent event stream.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Prisma } from '../../shared/db.js';
import { AppError, notFound } from '../../shared/errors.js';
import { JOB_PARAMS, JOB_STATUSES, JOB_TYPES, TERMINAL_STATUSES, type JobParams, type JobType } from '../../shared/jobs.js';
import { fromDbType, paramsHash, toApiJob, toDbType } from '../../shared/job-rows.js';
import { checkJobParams } from '../job-checks.js';
import { afterCursor, pageOrder, toPage } from '../pagination.js';
import { IdParams, PageQuery, errors, jobRef, page } from '../schemas.js';
import type { AppDeps } from '../app.js';
import { sendFile } from '../send-file.js';
import { Trial, type SweepParams } from '../../jobs/sweep/params.js';
import { bestTrial, leaderboard } from '../../jobs/sweep/trials.js';
import { loadTrials } from '../../jobs/sweep/load.js';

const IdempotencyKey = Type.String({ minLength: 1, maxLength: 200, description: 'Resubmitting with the same key returns the first job' });

/** One body shape per job type, told apart by `type` (an OpenAPI discriminator). */
export const CreateJobBody = Type.Unsafe<{ type: JobType; params: JobParams; idempotencyKey?: string }>({
  type: 'object',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: JOB_TYPES.map((t) =>
    Type.Object(
      { type: Type.Literal(t), params: JOB_PARAMS[t], idempotencyKey: Type.Optional(IdempotencyKey) },
      { additionalProperties: false, title: `${t} job` },
    ),
  ),
});

const ListQuery = Type.Object({
  type: Type.Optional(Type.Union(JOB_TYPES.map((t) => Type.Literal(t)))),
  status: Type.Optional(Type.Union(JOB_STATUSES.map((s) => Type.Literal(s)))),
  parentId: Type.Optional(Type.String({ format: 'uuid', description: "A sweep's id: its trials" })),
  ...PageQuery,
});

const EpochMetric = Type.Object({
  epoch: Type.Integer(),
  loss: Type.Number(),
  accuracy: Type.Number(),
  valLoss: Type.Union([Type.Number(), Type.Null()]),
  valAccuracy: Type.Union([Type.Number(), Type.Null()]),
  learningRate: Type.Number(),
  seconds: Type.Number(),
  samplesPerSec: Type.Number(),
});

const isUniqueViolation = (err: unknown) => err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';

export const jobsRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, { config, db, queues }) => {
  const getJob = async (id: string) => {
    const row = await db.job.findUnique({ where: { id } });
    if (!row) throw notFound('Job', id, 'JOB_NOT_FOUND');
    return row;
  };

  app.post(
    '/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Submit a job',
        description: 'Validates the parameters, records the job and queues it. Answers 202 with the job to poll.',
        body: CreateJobBody,
        response: { 202: jobRef, ...errors(404, 409, 422) },
      },
      preValidation: async (req) => {
        // Ajv does not apply defaults inside the body's oneOf: fill them in from the type's schema first.
        const body = req.body as { type?: unknown; params?: unknown } | null;
        if (body && typeof body === 'object' && JOB_TYPES.includes(body.type as JobType) && body.params && typeof body.params === 'object') {
          body.params = Value.Default(JOB_PARAMS[body.type as JobType], body.params);
        }
        const augment = (req.body as any)?.params?.augment;
        if (augment && typeof augment === 'object' && 'flip' in augment) {
          throw new AppError(
            'AUGMENT_FLIP_UNSUPPORTED',
            'Flips are not offered: a mirrored digit is often another digit or no digit at all (2, 5, 7 …)',
          );
        }
      },
    },
    async (req, reply) => {
      const { type, params, idempotencyKey } = req.body as CreateJobBodyT;
      const hash = paramsHash(type, params);
      if (idempotencyKey) {
        const existing = await db.job.findUnique({ where: { idempotencyKey } });
        if (existing) return replay(existing, type, hash, reply);
      }
      await checkJobParams(db, config, type, params);
      const id = randomUUID();
      let row;
      try {
        row = await db.job.create({
          data: { id, type: toDbType(type), params: params as object, paramsHash: hash, idempotencyKey, progress: { percent: 0 } },
        });
      } catch (err) {
        // Two requests with one key raced: the loser answers with the winner's job.
        if (idempotencyKey && isUniqueViolation(err)) {
          return replay(await db.job.findUniqueOrThrow({ where: { idempotencyKey } }), type, hash, reply);
        }
        throw err;
      }
      try {
        await queues[type].add(type, { jobId: id }, { jobId: id, removeOnComplete: 1000, removeOnFail: 5000 });
      } catch (err) {
        await db.job.update({
          where: { id },
          data: { status: 'failed', finishedAt: new Date(), error: { code: 'QUEUE_UNAVAILABLE', message: 'The job queue could not be reached' } },
        });
        throw new AppError('QUEUE_UNAVAILABLE', 'The job queue (Redis) could not be reached; try again');
      }
      req.log.info({ jobId: id, type }, 'job queued');
      return reply.code(202).header('location', `/v1/jobs/${id}`).send(toApiJob(row));
    },
  );

  function replay(existing: Awaited<ReturnType<typeof getJob>>, type: JobType, hash: string, reply: any) {
    if (existing.paramsHash !== hash || existing.type !== toDbType(type)) {
      throw new AppError('IDEMPOTENCY_KEY_REUSED', 'This idempotencyKey was used for a different job', { jobId: existing.id });
    }
    return reply.code(202).header('idempotent-replayed', 'true').header('location', `/v1/jobs/${existing.id}`).send(toApiJob(existing));
  }

  app.get(
    '/v1/jobs/:id',
    { schema: { tags: ['jobs'], summary: 'Get a job', params: IdParams, response: { 200: jobRef, ...errors(404) } } },
    async (req) => toApiJob(await getJob(req.params.id)),
  );

  app.get(
    '/v1/jobs',
    { schema: { tags: ['jobs'], summary: 'List jobs, newest first', querystring: ListQuery, response: { 200: page(jobRef), ...errors() } } },
    async (req) => {
      const { type, status, parentId, limit, cursor } = req.query;
      const rows = await db.job.findMany({
        where: { ...(type ? { type: toDbType(type) } : {}), ...(status ? { status } : {}), ...(parentId ? { parentId } : {}), ...afterCursor(cursor) },
        orderBy: pageOrder,
        take: limit + 1,
      });
      return toPage(rows, limit, toApiJob);
    },
  );

  app.post(
    '/v1/jobs/:id/cancel',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a queued or running job',
        description: 'A queued job is cancelled at once; a running one stops at its next batch and then reads `cancelled`.',
        params: IdParams,
        response: { 202: jobRef, ...errors(404, 409) },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const row = await getJob(id);
      if (row.status === 'cancelled') return reply.code(202).send(toApiJob(row));
      if (TERMINAL_STATUSES.includes(row.status)) {
        throw new AppError('JOB_NOT_CANCELLABLE', `Job ${id} has already ${row.status}`);
      }
      // Flag first: a worker that takes the job from now on sees the flag and stops.
      await db.job.update({ where: { id }, data: { cancelRequested: true } });
      const type = row.type.replace('_', '-') as JobType;
      const queued = await queues[type].getJob(id);
      if (queued && (await queued.getState()) !== 'active') await queued.remove().catch(() => {});
      await db.job.updateMany({
        where: { id, status: 'queued' },
        data: { status: 'cancelled', finishedAt: new Date(), progress: { ...(row.progress as object), stage: 'cancelled' } },
      });
      // A sweep's trials go with it (also when no worker runs the sweep right now).
      for (const child of await db.job.findMany({ where: { parentId: id, status: { in: ['queued', 'running'] } }, select: { id: true, type: true } })) {
        await db.job.update({ where: { id: child.id }, data: { cancelRequested: true } });
        const queuedChild = await queues[fromDbType(child.type)].getJob(child.id);
        if (queuedChild && (await queuedChild.getState()) !== 'active') await queuedChild.remove().catch(() => {});
        await db.job.updateMany({ where: { id: child.id, status: 'queued' }, data: { status: 'cancelled', finishedAt: new Date() } });
      }
      return reply.code(202).send(toApiJob(await getJob(id)));
    },
  );

  app.get(
    '/v1/jobs/:id/trials',
    {
      schema: {
        tags: ['jobs'],
        summary: "A sweep's trials: the leaderboard so far",
        description: 'Every trial (a child job) with its searched params, objective, epochs run, status and model, best objective first.',
        params: IdParams,
        response: { 200: Type.Object({ sweepId: Type.String(), best: Type.Union([Trial, Type.Null()]), items: Type.Array(Trial) }), ...errors(404, 409) },
      },
    },
    async (req) => {
      const row = await getJob(req.params.id);
      if (fromDbType(row.type) !== 'sweep') throw new AppError('NOT_A_SWEEP', `Job ${row.id} is a ${fromDbType(row.type)} job, not a sweep`);
      const p = row.params as unknown as SweepParams;
      const items = leaderboard(await loadTrials(db, row.id, p.space, p.objective.metric), p.objective.goal);
      return { sweepId: row.id, best: bestTrial(items), items };
    },
  );

  app.get(
    '/v1/jobs/:id/metrics',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Per-epoch metrics of a train or fine-tune job',
        params: IdParams,
        response: { 200: Type.Object({ jobId: Type.String(), items: Type.Array(EpochMetric) }), ...errors(404) },
      },
    },
    async (req) => {
      const row = await getJob(req.params.id);
      const items = await db.epochMetric.findMany({ where: { jobId: row.id }, orderBy: { epoch: 'asc' } });
      return { jobId: row.id, items: items.map(({ jobId, createdAt, ...m }) => m) };
    },
  );

  app.get(
    '/v1/jobs/:id/predictions',
    {
      schema: {
        tags: ['jobs'],
        summary: 'The predictions of a finished predict job',
        description: 'JSON lines, one per input in order: `{"index", "class", "probabilities"}` and `label` where the dataset has one.',
        params: IdParams,
        response: { 200: Type.String({ description: 'application/x-ndjson' }), ...errors(404, 409) },
      },
    },
    async (req, reply) => {
      const row = await getJob(req.params.id);
      const result = row.result as { predictionsFile?: string } | null;
      if (fromDbType(row.type) !== 'predict' || row.status !== 'succeeded' || !result?.predictionsFile) {
        throw new AppError('NO_PREDICTIONS', `Job ${row.id} is a ${fromDbType(row.type)} job with status ${row.status}: only a succeeded predict job has predictions`);
      }
      return sendFile(reply, path.join(config.DATA_DIR, result.predictionsFile), 'application/x-ndjson', `The predictions of job ${row.id} are gone from disk`);
    },
  );

  app.get(
    '/v1/jobs/:id/events',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Server-sent events of a job',
        description:
          'A text/event-stream of `status` (the job), `progress`, `metric` (one per epoch) and a final `end` event once the job is finished.',
        params: IdParams,
        response: { 200: Type.String({ description: 'text/event-stream' }), ...errors(404) },
      },
    },
    async (req, reply) => {
      const id = req.params.id;
      await getJob(id);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      let closed = false;
      req.raw.on('close', () => (closed = true));
      let lastStatus = '';
      let lastProgress = '';
      let lastEpoch = -1;
      // Polling Postgres twice a second keeps the stream correct across API and worker processes
      // without another moving part; one cheap indexed read per open stream.
      while (!closed) {
        const row = await db.job.findUnique({ where: { id } });
        if (!row) break;
        const metrics = await db.epochMetric.findMany({ where: { jobId: id, epoch: { gt: lastEpoch } }, orderBy: { epoch: 'asc' } });
        for (const { jobId, createdAt, ...m } of metrics) {
          send('metric', m);
          lastEpoch = m.epoch;
        }
        const progress = JSON.stringify(row.progress);
        if (progress !== lastProgress) send('progress', row.progress);
        lastProgress = progress;
        if (row.status !== lastStatus) send('status', toApiJob(row));
        lastStatus = row.status;
        if (TERMINAL_STATUSES.includes(row.status)) {
          send('end', { status: row.status });
          break;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      res.end();
    },
  );
};

export type CreateJobBodyT = Static<typeof CreateJobBody>;
