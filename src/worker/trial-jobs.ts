// PROTOTYPE until the jobs store of issue 9 lands: what a sweep does to its trials, on today's rows
// and queues (the same steps as POST /v1/jobs and its cancel).
import { paramsHash, toDbType } from '../shared/job-rows.js';
import type { Queues } from '../shared/queue.js';
import { randomUUID } from 'node:crypto';
import { trialKey, type TrialJobs } from './processors/sweep.js';
import { trialParams } from '../jobs/sweep/validate.js';
import type { WorkerDeps } from './job-context.js';

export function trialJobs({ db, queues }: WorkerDeps & { queues: Queues }): TrialJobs {
  return {
    async create(sweep, index, type, raw) {
      const params = trialParams(type, raw);
      const key = trialKey(sweep.id, index);
      let row = await db.job.findUnique({ where: { idempotencyKey: key } });
      row ??= await db.job.create({
        data: { id: randomUUID(), type: toDbType(type), params: params as object, paramsHash: paramsHash(type, params), idempotencyKey: key, parentId: sweep.id, progress: { percent: 0 } },
      });
      if (row.status === 'queued') await queues[type].add(type, { jobId: row.id }, { jobId: row.id, removeOnComplete: 1000, removeOnFail: 5000 });
    },
    async cancel(id) {
      const row = await db.job.update({ where: { id }, data: { cancelRequested: true } });
      const type = row.type.replace('_', '-') as keyof Queues;
      const queued = await queues[type].getJob(id);
      if (queued && (await queued.getState()) !== 'active') await queued.remove().catch(() => {});
      await db.job.updateMany({ where: { id, status: 'queued' }, data: { status: 'cancelled', finishedAt: new Date() } });
    },
    async requestStop(id) {
      await db.job.update({ where: { id }, data: { stopRequested: true } });
    },
    async promoteAlias(alias, modelId) {
      await db.modelAlias.upsert({ where: { alias }, create: { alias, modelId }, update: { modelId } });
    },
  };
}
