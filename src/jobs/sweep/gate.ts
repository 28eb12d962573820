// The trial's side of early stopping: after each epoch's metric row is written, a trial of a sweep
// asks whether to go on. It stops when its sweep set its stop flag, or when ASHA says so at a rung.
//
// The ASHA decision is taken here, at the epoch boundary, rather than by the sweep polling the metric
// rows: a poll arrives after the next epoch has begun (or, with short epochs, after the trial ended),
// and a trial should stop with the weights of the rung epoch. The rule is a pure function of the
// metric rows (src/jobs/sweep/asha.ts), so the sweep re-derives the same decisions and sets the stop
// flag of any trial that went past a rung it should have stopped at (e.g. while no sweep ran).
import type { Db } from '../../shared/db.js';
import { ashaStopAt, rungs, type AshaConfig, type RungValue } from './asha.js';
import type { ObjectiveMetric, SweepParams } from './params.js';
import type { Goal } from './samplers.js';

export interface GateDecision {
  stop: boolean;
  /** A stopped trial keeps (evaluates and saves) its model only if the sweep says so. */
  keepModel: boolean;
}
export type EpochGate = (epoch: number) => Promise<GateDecision>;

export interface AshaSetup {
  asha: AshaConfig;
  metric: ObjectiveMetric;
  goal: Goal;
  keepStoppedModels: boolean;
}

/** The sweep's early-stopping setup for trials of `epochs` epochs, or null without early stopping. */
export function ashaSetup(p: SweepParams, epochs: number): AshaSetup | null {
  const es = p.earlyStopping;
  if (!es) return null;
  return {
    asha: { gracePeriod: es.gracePeriod, reductionFactor: es.reductionFactor, maxEpochs: epochs },
    metric: p.objective.metric,
    goal: p.objective.goal,
    keepStoppedModels: es.keepStoppedModels,
  };
}

/** Every trial's objective at the given epochs (rows without the metric, e.g. no validation split, are left out). */
export async function rungValues(db: Db, sweepId: string, metric: ObjectiveMetric, epochs: number[]): Promise<RungValue[]> {
  if (!epochs.length) return [];
  const rows = (await db.epochMetric.findMany({
    where: { epoch: { in: epochs }, job: { parentId: sweepId } },
    select: { jobId: true, epoch: true, createdAt: true, [metric]: true },
  })) as unknown as ({ jobId: string; epoch: number; createdAt: Date } & Record<ObjectiveMetric, number | null>)[];
  return rows
    .filter((r) => typeof r[metric] === 'number')
    .map((r) => ({ trialId: r.jobId, epoch: r.epoch, value: r[metric] as number, at: r.createdAt.getTime() }));
}

/** The gate of job `jobId` if it is a trial of a sweep, else null (the job never asks). */
export async function trialGate(db: Db, jobId: string): Promise<EpochGate | null> {
  const row = await db.job.findUnique({ where: { id: jobId }, select: { parentId: true, params: true } });
  if (!row?.parentId) return null;
  const sweepId = row.parentId;
  const parent = await db.job.findUnique({ where: { id: sweepId }, select: { params: true } });
  const setup = parent ? ashaSetup(parent.params as unknown as SweepParams, (row.params as { epochs: number }).epochs) : null;
  const rungSet = new Set(setup ? rungs(setup.asha) : []);
  return async (epoch) => {
    const keepModel = setup?.keepStoppedModels ?? false;
    const flag = await db.job.findUnique({ where: { id: jobId }, select: { stopRequested: true } });
    if (flag?.stopRequested) return { stop: true, keepModel };
    if (!setup || !rungSet.has(epoch)) return { stop: false, keepModel };
    const values = await rungValues(db, sweepId, setup.metric, [epoch]);
    // Only this rung matters now: the earlier ones were passed (or this trial would have stopped).
    const stopAt = ashaStopAt({ ...setup.asha, gracePeriod: epoch, maxEpochs: epoch + 1 }, setup.goal, jobId, values);
    return { stop: stopAt !== null, keepModel };
  };
}
