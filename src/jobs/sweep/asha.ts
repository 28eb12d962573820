// ASHA, asynchronous successive halving (Li et al., "A System for Massively Parallel Hyperparameter
// Tuning", MLSys 2020), in its early-stopping form (as Ray Tune's ASHAScheduler): rungs sit at
// gracePeriod × reductionFactor^k epochs; when a trial reaches a rung it is compared with every trial
// that reached that rung before it (and itself), and it goes on only if its objective is in the top
// 1/reductionFactor of them; otherwise it stops there. Nobody waits for a rung to fill: the first
// trials to arrive always go on, which is what makes it asynchronous.
//
// A decision depends only on which trials reached the rung first, so it can be re-derived at any time
// from the per-epoch metric rows and their creation times: a sweep resumed after a restart makes
// exactly the decisions the first run made.
import type { Goal } from './samplers.js';

export interface AshaConfig {
  gracePeriod: number;
  reductionFactor: number;
  /** The trials' epochs: no rung at or past it (a trial there is finishing anyway). */
  maxEpochs: number;
}

/** Epochs at which trials are compared: gracePeriod × reductionFactor^k, below maxEpochs. */
export function rungs({ gracePeriod, reductionFactor, maxEpochs }: AshaConfig): number[] {
  const out: number[] = [];
  for (let r = gracePeriod; r < maxEpochs; r *= reductionFactor) out.push(r);
  return out;
}

/** A trial's objective at the end of one epoch; `at` orders arrivals (the metric row's creation time). */
export interface RungValue {
  trialId: string;
  epoch: number;
  value: number;
  at: number;
}

const arrivedBefore = (a: RungValue, b: RungValue) => a.at < b.at || (a.at === b.at && a.trialId <= b.trialId);

/**
 * Whether `trialId` should stop, and at which rung: the first rung it reached without being in the
 * top 1/reductionFactor of the trials there before it. `values` holds the rows of every trial of the
 * sweep (stopped and failed ones too: they reached their rungs).
 */
export function ashaStopAt(cfg: AshaConfig, goal: Goal, trialId: string, values: RungValue[]): number | null {
  const better = goal === 'maximize' ? (a: number, b: number) => a > b : (a: number, b: number) => a < b;
  for (const rung of rungs(cfg)) {
    const mine = values.find((v) => v.trialId === trialId && v.epoch === rung);
    if (!mine) return null; // not there yet
    const peers = values.filter((v) => v.epoch === rung && arrivedBefore(v, mine));
    const rank = peers.filter((v) => better(v.value, mine.value)).length;
    // In the top 1/η of n: rank < n/η. The first to arrive (n = 1) always goes on.
    if (!(rank * cfg.reductionFactor < peers.length)) return rung;
  }
  return null;
}
