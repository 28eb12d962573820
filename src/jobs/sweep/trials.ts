// A sweep's state, derived from its child jobs and their metric rows alone (nothing is kept in a
// process): the leaderboard, the best trial, and the counts its progress shows.
import type { Goal } from './samplers.js';
import type { Assignment } from './space.js';
import type { SweepProgress, Trial } from './params.js';

export interface TrialRow {
  id: string;
  index: number;
  status: Trial['status'];
  assignment: Assignment;
  result: { modelId?: string | null; epochsRun?: number; stoppedEarly?: boolean; test?: { accuracy?: number } | null } | null;
  /** The objective metric at the trial's last epoch so far (null before its first epoch). */
  lastObjective: number | null;
  /** Epochs with a metric row. */
  epochs: number;
}

export function toTrial(r: TrialRow): Trial {
  return {
    trialId: r.id,
    index: r.index,
    params: r.assignment,
    objective: r.lastObjective,
    epochsRun: r.result?.epochsRun ?? r.epochs,
    status: r.status,
    stoppedEarly: r.result?.stoppedEarly ?? false,
    modelId: r.status === 'succeeded' ? (r.result?.modelId ?? null) : null,
    testAccuracy: r.status === 'succeeded' ? (r.result?.test?.accuracy ?? null) : null,
  };
}

/** Every trial, best objective first; trials without an objective last; ties in proposal order. */
export function leaderboard(rows: TrialRow[], goal: Goal): Trial[] {
  const sign = goal === 'maximize' ? -1 : 1;
  return rows.map(toTrial).sort((a, b) => {
    if (a.objective === null || b.objective === null) return a.objective === b.objective ? a.index - b.index : a.objective === null ? 1 : -1;
    return sign * (a.objective - b.objective) || a.index - b.index;
  });
}

/** The best trial that can be used: succeeded and has a model (a stopped trial may have none). */
export const bestTrial = (board: Trial[]) => board.find((t) => t.status === 'succeeded' && t.modelId && t.objective !== null) ?? null;

export function progressOf(rows: TrialRow[], trials: number, goal: Goal): SweepProgress {
  const board = leaderboard(rows, goal);
  const best = board.find((t) => t.objective !== null) ?? null;
  const count = (pred: (r: TrialRow) => boolean) => rows.filter(pred).length;
  const finished = count((r) => ['succeeded', 'failed', 'cancelled'].includes(r.status));
  return {
    percent: trials ? (100 * finished) / trials : 100,
    stage: 'trials',
    trials,
    done: count((r) => r.status === 'succeeded'),
    running: count((r) => r.status === 'queued' || r.status === 'running'),
    stopped: count((r) => r.status === 'succeeded' && !!r.result?.stoppedEarly),
    failed: count((r) => r.status === 'failed'),
    bestObjective: best?.objective ?? null,
    bestTrialId: best?.trialId ?? null,
  };
}
