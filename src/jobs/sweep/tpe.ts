// Tree-structured Parzen Estimator (Bergstra et al., "Algorithms for Hyper-Parameter Optimization",
// NIPS 2011), univariate as in hyperopt: the observed trials are split into the best γ share ("below")
// and the rest; per dimension a Parzen density l(x) is fitted to the good values and g(x) to the
// others, candidates are drawn from l, and the one with the largest l(x)/g(x) is chosen.
//
// Written here because no npm package fits: the one JavaScript hyperopt port on the registry
// (`hyperparameters`) offers only random and grid search, and the Bayesian-optimisation packages are
// tied to a browser or to tfjs. This is ~150 lines and tested (test/jobs/sweep/tpe.test.ts).
import type { Assignment, Dimension } from './space.js';

export type Rng = () => number;

export interface TpeObservation {
  assignment: Assignment;
  /** Lower is better (the sampler turns a maximized objective into its negative). */
  loss: number;
}

export interface TpeOptions {
  /** Share of the observations taken as good (default 0.25, at most 25 of them). */
  gamma?: number;
  /** Candidates drawn from l(x) per dimension (default 24, as hyperopt). */
  candidates?: number;
}

/** A standard normal draw (Box–Muller). */
export function normal(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** The error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7): enough for truncation masses. */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}
const phi = (z: number) => 0.5 * (1 + erf(z / Math.SQRT2));

/** A mixture of Gaussians truncated to [low, high]: one per observed value plus a wide prior. */
interface Parzen {
  mus: number[];
  sigmas: number[];
  weights: number[];
  low: number;
  high: number;
}

/** hyperopt's adaptive Parzen estimator: each point's width is the larger gap to its neighbours. */
export function parzen(values: number[], low: number, high: number): Parzen {
  const priorMu = (low + high) / 2;
  const priorSigma = high - low;
  const mus = [...values, priorMu].sort((a, b) => a - b);
  const minSigma = priorSigma / Math.min(100, 1 + mus.length);
  const sigmas = mus.map((m, i) => {
    const left = i > 0 ? m - mus[i - 1]! : 0;
    const right = i < mus.length - 1 ? mus[i + 1]! - m : 0;
    return Math.min(priorSigma, Math.max(minSigma, left, right));
  });
  const prior = mus.indexOf(priorMu);
  sigmas[prior] = priorSigma;
  return { mus, sigmas, weights: mus.map(() => 1 / mus.length), low, high };
}

export function parzenLogDensity(p: Parzen, x: number): number {
  let sum = 0;
  for (let i = 0; i < p.mus.length; i++) {
    const mu = p.mus[i]!;
    const s = p.sigmas[i]!;
    const mass = Math.max(phi((p.high - mu) / s) - phi((p.low - mu) / s), 1e-12);
    const z = (x - mu) / s;
    sum += (p.weights[i]! * Math.exp(-0.5 * z * z)) / (s * Math.sqrt(2 * Math.PI) * mass);
  }
  return Math.log(Math.max(sum, 1e-300));
}

export function parzenSample(p: Parzen, rng: Rng): number {
  let r = rng();
  let i = 0;
  while (i < p.weights.length - 1 && r >= p.weights[i]!) r -= p.weights[i++]!;
  // Rejection keeps the draw inside the bounds; the component holds some mass there by construction.
  for (let tries = 0; tries < 100; tries++) {
    const x = p.mus[i]! + p.sigmas[i]! * normal(rng);
    if (x >= p.low && x <= p.high) return x;
  }
  return Math.min(p.high, Math.max(p.low, p.mus[i]!));
}

/** Numbers are modelled in an internal space: the log for logUniform, ±0.5 around integers. */
function toInternal(d: Extract<Dimension, { low: number }>, v: number): number {
  return d.kind === 'logUniform' ? Math.log(v) : v;
}
function internalBounds(d: Extract<Dimension, { low: number }>): [number, number] {
  if (d.kind === 'logUniform') return [Math.log(d.low), Math.log(d.high)];
  if (d.kind === 'intUniform') return [d.low - 0.5, d.high + 0.5];
  return [d.low, d.high];
}
function fromInternal(d: Extract<Dimension, { low: number }>, x: number): number {
  if (d.kind === 'logUniform') return Math.min(d.high, Math.max(d.low, Math.exp(x)));
  if (d.kind === 'intUniform') return Math.min(d.high, Math.max(d.low, Math.round(x)));
  return x;
}

/** Index of a value in a categorical dimension (by JSON, so objects and arrays compare by content). */
const indexOf = (values: unknown[], v: unknown) => values.findIndex((x) => JSON.stringify(x) === JSON.stringify(v));

/** One TPE suggestion for every dimension, from the observations so far. */
export function tpeSuggest(dims: Dimension[], observations: TpeObservation[], rng: Rng, opts: TpeOptions = {}): Assignment {
  const gamma = opts.gamma ?? 0.25;
  const nCandidates = opts.candidates ?? 24;
  const sorted = [...observations].sort((a, b) => a.loss - b.loss);
  const nBelow = Math.max(1, Math.min(25, Math.ceil(gamma * sorted.length)));
  const below = sorted.slice(0, nBelow);
  const above = sorted.slice(nBelow);
  const out: Assignment = {};
  for (const d of dims) {
    if (d.kind === 'categorical') {
      // Laplace-smoothed category frequencies among the good and the other trials.
      const weights = (obs: TpeObservation[]) => {
        const w = d.values.map(() => 1);
        for (const o of obs) {
          const i = indexOf(d.values, o.assignment[d.path]);
          if (i >= 0) w[i]! += 1;
        }
        const total = w.reduce((a, b) => a + b, 0);
        return w.map((x) => x / total);
      };
      const l = weights(below);
      const g = weights(above);
      let best = 0;
      let bestScore = -Infinity;
      for (let c = 0; c < nCandidates; c++) {
        let r = rng();
        let i = 0;
        while (i < l.length - 1 && r >= l[i]!) r -= l[i++]!;
        const score = Math.log(l[i]!) - Math.log(g[i]!);
        if (score > bestScore) [best, bestScore] = [i, score];
      }
      out[d.path] = d.values[best];
      continue;
    }
    const [low, high] = internalBounds(d);
    const values = (obs: TpeObservation[]) =>
      obs
        .map((o) => o.assignment[d.path])
        .filter((v): v is number => typeof v === 'number')
        .map((v) => toInternal(d, v));
    const l = parzen(values(below), low, high);
    const g = parzen(values(above), low, high);
    let best = l.mus[0]!;
    let bestScore = -Infinity;
    for (let c = 0; c < nCandidates; c++) {
      const x = parzenSample(l, rng);
      const score = parzenLogDensity(l, x) - parzenLogDensity(g, x);
      if (score > bestScore) [best, bestScore] = [x, score];
    }
    out[d.path] = fromInternal(d, best);
  }
  return out;
}
