// Optimizer construction, learning-rate schedules, and the small fixes tfjs-core's optimizers need
// to be driven by a custom loop (changing the rate between epochs, disposing without leaks).
import type { OptimizerType } from './catalog.js';
import * as tf from './tf.js';

export type OptimizerSpec =
  | { type: 'sgd'; learningRate: number }
  | { type: 'momentum'; learningRate: number; momentum?: number; nesterov?: boolean }
  | { type: 'adam'; learningRate: number; beta1?: number; beta2?: number; epsilon?: number };

export type ScheduleSpec =
  | { type: 'constant' }
  /** Multiply the rate by `gamma` every `stepSize` epochs. */
  | { type: 'step'; stepSize: number; gamma: number }
  /** Cosine decay from the base rate (epoch 0) towards `minLearningRate` (after the last epoch). */
  | { type: 'cosine'; minLearningRate?: number };

type SpecOf<T extends OptimizerType> = Extract<OptimizerSpec, { type: T }>;
/** One factory per optimizer of the catalog (a new one there must be added here to compile). */
const OPTIMIZER_FACTORIES: { [T in OptimizerType]: (spec: SpecOf<T>) => tf.Optimizer } = {
  sgd: (s) => tf.train.sgd(s.learningRate),
  momentum: (s) => tf.train.momentum(s.learningRate, s.momentum ?? 0.9, s.nesterov ?? false),
  adam: (s) => tf.train.adam(s.learningRate, s.beta1 ?? 0.9, s.beta2 ?? 0.999, s.epsilon ?? 1e-7),
};

export function createOptimizer(spec: OptimizerSpec): tf.Optimizer {
  if (!(spec.learningRate > 0) || !Number.isFinite(spec.learningRate)) {
    throw new Error(`learningRate must be a positive number, got ${spec.learningRate}`);
  }
  const factory = OPTIMIZER_FACTORIES[spec.type] as ((s: OptimizerSpec) => tf.Optimizer) | undefined;
  if (!factory) throw new Error(`unknown optimizer ${(spec as { type: string }).type}`);
  return factory(spec);
}

/** Rate for a 0-based epoch out of `epochs`. */
export function learningRateAt(
  schedule: ScheduleSpec | undefined,
  baseRate: number,
  epoch: number,
  epochs: number,
): number {
  if (!schedule || schedule.type === 'constant') return baseRate;
  if (schedule.type === 'step') {
    if (!(schedule.stepSize >= 1)) throw new Error('step schedule needs stepSize ≥ 1');
    return baseRate * schedule.gamma ** Math.floor(epoch / schedule.stepSize);
  }
  if (schedule.type === 'cosine') {
    const min = schedule.minLearningRate ?? 0;
    const t = epochs > 0 ? Math.min(epoch / epochs, 1) : 0;
    return min + ((baseRate - min) * (1 + Math.cos(Math.PI * t))) / 2;
  }
  throw new Error(`unknown schedule ${(schedule as { type: string }).type}`);
}

// tfjs-core exposes setLearningRate only on SGD (and Momentum, its subclass, which keeps the rate
// in a cached scalar `c`); Adam reads its plain `learningRate` field on every step.
interface RateHolder {
  learningRate: number;
  setLearningRate?: (lr: number) => void;
  c?: tf.Tensor;
}

export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as RateHolder;
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

export function getLearningRate(optimizer: tf.Optimizer): number {
  return (optimizer as unknown as RateHolder).learningRate;
}

/** Disposes every tensor an optimizer holds (MomentumOptimizer.dispose forgets SGD's `c`). */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  const c = (optimizer as unknown as RateHolder).c;
  optimizer.dispose();
  if (c && !c.isDisposed) c.dispose();
}
