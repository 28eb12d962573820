// A sweep's trials as they stand in Postgres: its child jobs with their searched values and their
// latest objective from the metric rows. Read by the sweep processor at every step and by the API.
import type { Db } from '../../shared/db.js';
import type { ObjectiveMetric } from './params.js';
import { dimensions, getPath, type Assignment, type SearchSpace } from './space.js';
import type { TrialRow } from './trials.js';

export interface Child extends TrialRow {
  params: { epochs?: number };
  stopRequested: boolean;
  error: unknown;
}

/** The sweep's trials as they stand in Postgres, in proposal order, with their latest objective. */
export async function loadTrials(db: Db, sweepId: string, space: SearchSpace, metric: ObjectiveMetric): Promise<Child[]> {
  const rows = await db.job.findMany({
    where: { parentId: sweepId },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true, status: true, params: true, result: true, error: true, idempotencyKey: true, stopRequested: true },
  });
  const metrics = (await db.epochMetric.findMany({
    where: { job: { parentId: sweepId } },
    orderBy: { epoch: 'asc' },
    select: { jobId: true, epoch: true, [metric]: true },
  })) as unknown as ({ jobId: string; epoch: number } & Record<ObjectiveMetric, number | null>)[];
  const last = new Map<string, { epochs: number; value: number | null }>();
  for (const m of metrics) last.set(m.jobId, { epochs: m.epoch, value: m[metric] });
  const dims = dimensions(space);
  return rows.map((r, i) => {
    const index = Number(r.idempotencyKey?.split(':').pop());
    return {
      id: r.id,
      index: Number.isInteger(index) ? index : i,
      status: r.status,
      params: r.params as Child['params'],
      assignment: Object.fromEntries(dims.map((d) => [d.path, getPath(r.params, d.path)])) as Assignment,
      result: r.result as TrialRow['result'],
      lastObjective: last.get(r.id)?.value ?? null,
      epochs: last.get(r.id)?.epochs ?? 0,
      stopRequested: r.stopRequested,
      error: r.error,
    };
  });
}
