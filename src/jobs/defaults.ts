// The training jobs' defaults, as plain data: the job contract's schemas take their defaults from
// here, and the dashboard's forms start from them without bundling the schemas (TypeBox).
import type { OptimizerType } from '../ml/catalog.js';

export interface TrainingDefaults {
  optimizer: OptimizerType;
  learningRate: number;
  epochs: number;
  batchSize: number;
  /** Cosine decay to 0 over the epochs. */
  schedule: 'cosine';
}
export const TRAIN_DEFAULTS: TrainingDefaults = { optimizer: 'adam', learningRate: 0.002, epochs: 10, batchSize: 64, schedule: 'cosine' };
export const FINE_TUNE_DEFAULTS: TrainingDefaults & { freeze: 'none'; l2sp: number } = { ...TRAIN_DEFAULTS, epochs: 5, freeze: 'none', l2sp: 0 };
