// Response schemas shared by several route groups.
import { Type, type TSchema } from '@sinclair/typebox';
import { JOB_STATUSES, JOB_TYPES } from '../shared/jobs.js';

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code, e.g. VALIDATION_FAILED' }),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { $id: 'ErrorResponse', title: 'Error' },
);
export const errorRef = Type.Ref('ErrorResponse');

/** Common error answers of a route: 400 plus the given statuses. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries([400, ...statuses].map((s) => [s, errorRef]));
}

export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

export const Progress = Type.Object(
  {
    percent: Type.Number({ minimum: 0, maximum: 100 }),
    stage: Type.Optional(Type.String()),
    epoch: Type.Optional(Type.Integer()),
    epochs: Type.Optional(Type.Integer()),
    batch: Type.Optional(Type.Integer()),
    batches: Type.Optional(Type.Integer()),
    samplesPerSec: Type.Optional(Type.Number()),
    etaSeconds: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    message: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

export const Job = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    type: Type.Union(JOB_TYPES.map((t) => Type.Literal(t))),
    status: Type.Union(JOB_STATUSES.map((s) => Type.Literal(s))),
    params: Type.Unknown(),
    progress: Type.Union([Progress, Type.Null()]),
    result: Type.Union([Type.Unknown(), Type.Null()]),
    error: Type.Union([Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }), Type.Null()]),
    idempotencyKey: Type.Union([Type.String(), Type.Null()]),
    parentId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'The sweep this job is a trial of' }),
    attempts: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { $id: 'Job', title: 'Job' },
);
export const jobRef = Type.Ref('Job');

export const PageQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page' })),
};

export function page(item: TSchema) {
  return Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });
}
