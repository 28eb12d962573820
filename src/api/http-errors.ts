// The one table from error codes to HTTP statuses. Every other layer throws codes only; a code that
// is not listed here is a client error (400), and anything thrown without a code is INTERNAL (500).
import type { FastifyError } from 'fastify';
import { AppError } from '../shared/errors.js';
import { Prisma } from '../shared/db.js';
import { isTransient } from '../jobs/retry.js';

export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  ROUTE_NOT_FOUND: 404,
  NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  DATASET_NOT_FOUND: 404,
  MODEL_NOT_FOUND: 404,
  ALIAS_NOT_FOUND: 404,
  FILE_NOT_FOUND: 404,
  API_KEY_NOT_FOUND: 404,
  WEBHOOK_NOT_FOUND: 404,
  DATASET_NOT_READY: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  JOB_NOT_CANCELLABLE: 409,
  MODEL_HAS_ALIASES: 409,
  NO_PREDICTIONS: 409,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_INPUTS: 413,
  IMAGE_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INPUT_SHAPE_MISMATCH: 422,
  HEAD_INCOMPATIBLE: 422,
  IMAGE_UNDECODABLE: 422,
  IMAGE_BLANK: 422,
  RATE_LIMITED: 429,
  QUOTA_EXCEEDED: 429,
  INTERNAL: 500,
  OVERLOADED: 503,
  PREDICT_TIMEOUT: 503,
  DATABASE_UNAVAILABLE: 503,
  QUEUE_UNAVAILABLE: 503,
  MODEL_UNAVAILABLE: 503,
  STORE_UNAVAILABLE: 503,
  DEPENDENCY_UNAVAILABLE: 503,
  INSUFFICIENT_DISK: 503,
};

export const statusOf = (code: string): number => STATUS_BY_CODE[code] ?? 400;

/** Any error a request raised, Fastify's and Ajv's included, as an AppError with a stable code. */
export function toAppError(err: FastifyError | AppError | Error): AppError {
  if (err instanceof AppError) return err;
  const e = err as FastifyError;
  if (e.validation) {
    const unknownType = e.validation.find((v) => v.keyword === 'discriminator');
    if (unknownType && e.validationContext === 'body') {
      return new AppError('UNKNOWN_JOB_TYPE', 'type must be one of the job types in the contract', e.validation);
    }
    return new AppError('VALIDATION_FAILED', `${e.validationContext ?? 'request'} ${e.message.replace(/^(body|querystring|params|headers)\/?/, '')}`.trim(), e.validation);
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('MALFORMED_JSON', `The request body is not valid JSON: ${e.message}`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', e.message);
  }
  // A dependency that is down is the service's 503, not an internal error.
  if (isTransient(err)) {
    const database =
      err instanceof Prisma.PrismaClientKnownRequestError || err instanceof Prisma.PrismaClientInitializationError || err instanceof Prisma.PrismaClientUnknownRequestError;
    return database
      ? new AppError('DATABASE_UNAVAILABLE', 'The database cannot be reached; try again shortly')
      : new AppError('QUEUE_UNAVAILABLE', 'The job queue (Redis) cannot be reached; try again shortly');
  }
  const status = e.statusCode ?? 500;
  if (status >= 400 && status < 500) return new AppError('BAD_REQUEST', e.message);
  return new AppError('INTERNAL', 'Internal server error');
}
