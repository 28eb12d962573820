// What a sweep does to other jobs, all through the jobs store: submit its trials as child jobs,
// cancel them, ask one to stop early, and point an alias at the best model.
import type { Db } from '../../shared/db.js';
import { AppError } from '../../shared/errors.js';
import type { JobsStore } from '../store.js';
import type { TrialType } from './params.js';
import type { Assignment } from './space.js';
import { trialParams } from './validate.js';

export interface TrialJobs {
  /** Submits trial `index` of `sweepId` as a child job; idempotent per sweep and index. */
  create(sweepId: string, index: number, type: TrialType, params: object, assignment: Assignment): Promise<void>;
  cancel(id: string): Promise<void>;
  /** Asks a running trial to stop at the end of its current epoch (and succeed). */
  requestStop(id: string): Promise<void>;
  promoteAlias(alias: string, modelId: string): Promise<void>;
}

/** A trial's idempotency key: how a sweep resumed after a crash finds the trials it submitted. */
export const trialKey = (sweepId: string, index: number) => `sweep:${sweepId}:trial:${index}`;

export function trialJobs(store: JobsStore, db: Db): TrialJobs {
  return {
    async create(sweepId, index, type, params, assignment) {
      // A trial belongs to whoever submitted its sweep: that key (and no other non-admin) may cancel it.
      const sweep = await db.job.findUnique({ where: { id: sweepId }, select: { submittedBy: true } });
      try {
        await store.submit(
          { type, params: trialParams(type, params, assignment), idempotencyKey: trialKey(sweepId, index), parentId: sweepId },
          sweep?.submittedBy ?? null,
        );
      } catch (err) {
        // Trial `index` exists already with other values: a second run of this sweep (its lock lapsed
        // while the first still ran) proposed it too. The first one stands.
        if (!(err instanceof AppError && err.code === 'IDEMPOTENCY_KEY_REUSED')) throw err;
      }
    },
    async cancel(id) {
      await store.cancel(id).catch(() => {}); // finished meanwhile: nothing to cancel
    },
    requestStop: (id) => store.requestStop(id),
    async promoteAlias(alias, modelId) {
      await db.modelAlias.upsert({ where: { alias }, create: { alias, modelId }, update: { modelId } });
    },
  };
}
