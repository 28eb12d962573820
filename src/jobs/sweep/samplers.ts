// Samplers: which point of the search space trial number `index` runs. Every draw comes from a
// generator seeded by (sweep seed, trial index), so a sweep, and a sweep resumed after a restart,
// proposes the same trials: grid and random always, TPE given the same finished trials before it.
import seedrandom from 'seedrandom';
import { dimensions, gridPoints, type Assignment, type Dimension, type SearchSpace } from './space.js';
import { tpeSuggest, type Rng } from './tpe.js';

export const ALGORITHMS = ['grid', 'random', 'tpe'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];
export type Goal = 'maximize' | 'minimize';

export interface Observation {
  assignment: Assignment;
  objective: number;
}

export interface Sampler {
  /** How many trials the sweep runs: every grid point, else maxTrials. */
  readonly trials: number;
  /** The point for trial `index` (0-based), given the trials finished so far (TPE uses them). */
  sample(index: number, finished: Observation[]): Assignment;
}

export interface SamplerOptions {
  seed: number;
  maxTrials: number;
  goal: Goal;
  /** TPE: random trials before the model takes over (default max(3, maxTrials / 4)). */
  startupTrials?: number;
}

const trialRng = (seed: number, index: number, what: string): Rng => seedrandom(`sweep:${what}:${seed}:${index}`);

export function randomPoint(dims: Dimension[], rng: Rng): Assignment {
  const out: Assignment = {};
  for (const d of dims) {
    const u = rng();
    if (d.kind === 'categorical') out[d.path] = d.values[Math.min(d.values.length - 1, Math.floor(u * d.values.length))];
    else if (d.kind === 'uniform') out[d.path] = d.low + u * (d.high - d.low);
    else if (d.kind === 'logUniform') out[d.path] = Math.exp(Math.log(d.low) + u * (Math.log(d.high) - Math.log(d.low)));
    else out[d.path] = Math.min(d.high, d.low + Math.floor(u * (d.high - d.low + 1)));
  }
  return out;
}

export function createSampler(algorithm: Algorithm, space: SearchSpace, opts: SamplerOptions): Sampler {
  const dims = dimensions(space);
  if (algorithm === 'grid') {
    const points = gridPoints(space);
    return { trials: Math.min(points.length, opts.maxTrials), sample: (i) => points[i]! };
  }
  if (algorithm === 'random') {
    return { trials: opts.maxTrials, sample: (i) => randomPoint(dims, trialRng(opts.seed, i, 'random')) };
  }
  const startup = opts.startupTrials ?? Math.max(3, Math.ceil(opts.maxTrials / 4));
  const sign = opts.goal === 'maximize' ? -1 : 1;
  return {
    trials: opts.maxTrials,
    sample: (i, finished) => {
      // Until enough trials have finished the model has nothing to go on: random points (the same
      // ones a random sweep with this seed would run).
      if (finished.length < startup) return randomPoint(dims, trialRng(opts.seed, i, 'random'));
      const observations = finished.map((o) => ({ assignment: o.assignment, loss: sign * o.objective }));
      return tpeSuggest(dims, observations, trialRng(opts.seed, i, 'tpe'));
    },
  };
}
