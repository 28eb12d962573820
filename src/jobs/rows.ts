// Mapping between job rows in Postgres and the public job shape.
import { createHash } from 'node:crypto';
import type { Job as JobRow } from '../generated/prisma/client.js';
import type { JobType as DbJobType } from '../generated/prisma/enums.js';
import type { Job, JobType } from './contract.js';

export type { JobRow };

// Prisma names enum members with identifiers (dataset_prep); the database and the API use dashes.
export const toDbType = (t: JobType) => t.replace('-', '_') as DbJobType;
export const fromDbType = (t: DbJobType) => t.replace('_', '-') as JobType;

/** What every read of a job includes: its transitions, oldest first, for its `history`. */
export const includeHistory = { transitions: { orderBy: { id: 'asc' as const }, select: { status: true, at: true, reason: true } } };
export type JobRowWithHistory = JobRow & { transitions: { status: string; at: Date; reason: string | null }[] };

export function toApiJob(row: JobRowWithHistory): Job {
  return {
    id: row.id,
    type: fromDbType(row.type),
    status: row.status,
    params: row.params,
    progress: row.progress ?? null,
    result: row.result ?? null,
    error: row.error ?? null,
    idempotencyKey: row.idempotencyKey,
    submittedBy: row.submittedBy,
    attempts: row.attempts,
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
    history: row.transitions.map((t) => ({ status: t.status, at: t.at.toISOString(), ...(t.reason ? { reason: t.reason } : {}) })),
  } as Job; // the row's JSON columns hold what the contract's schemas validated when they were written
}

/** JSON with sorted keys, so equal params hash equally whatever order the client sent them in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export const paramsHash = (type: JobType, params: unknown) =>
  createHash('sha256').update(`${type}\n${canonicalJson(params)}`).digest('hex');
