// The `sweep` job type's params, result and progress: the schemas the contract registers.
import { Type, type Static } from '@sinclair/typebox';
import { ALGORITHMS } from './samplers.js';
import { SearchSpace } from './space.js';

/** The per-epoch metrics a sweep can optimise (columns of the metric rows). */
export const OBJECTIVE_METRICS = ['valAccuracy', 'valLoss', 'accuracy', 'loss'] as const;
export type ObjectiveMetric = (typeof OBJECTIVE_METRICS)[number];
export const TRIAL_TYPES = ['train', 'fine-tune'] as const;
export type TrialType = (typeof TRIAL_TYPES)[number];

/** A union of string literals whose static type is the union of the values (Type.Union over a mapped array types as never). */
const oneOf = <T extends string>(values: readonly T[], opts: object = {}) =>
  Type.Unsafe<T>(
    Type.Union(
      values.map((v) => Type.Literal(v)),
      opts,
    ),
  );

export const SweepParams = Type.Object(
  {
    trial: Type.Object(
      {
        type: oneOf(TRIAL_TYPES),
        params: Type.Record(Type.String(), Type.Unknown(), {
          description: 'Complete params of a job of that type; validated against its schema with every point of `space` put in',
        }),
      },
      { additionalProperties: false, description: 'The job each trial runs, before the searched values are put in' },
    ),
    space: SearchSpace,
    algorithm: oneOf(ALGORITHMS, {
      default: 'random',
      description:
        '`grid` runs every point of the `grid`/`choice` lists; `random` samples; `tpe` (Tree-structured Parzen Estimator) samples where the finished trials did well',
    }),
    maxTrials: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Default 10; a grid runs at most its points' })),
    maxParallel: Type.Integer({ minimum: 1, maximum: 64, default: 2, description: 'Trials running at once' }),
    maxFailedTrials: Type.Integer({
      minimum: 0,
      maximum: 1000,
      default: 3,
      description: 'More failed trials than this fail the sweep (TOO_MANY_FAILED_TRIALS)',
    }),
    objective: Type.Object(
      {
        metric: oneOf(OBJECTIVE_METRICS, { default: 'valAccuracy' }),
        goal: Type.Union([Type.Literal('maximize'), Type.Literal('minimize')], { default: 'maximize' }),
      },
      { additionalProperties: false, default: {}, description: "A per-epoch metric; a trial's objective is its value at the trial's last epoch" },
    ),
    earlyStopping: Type.Optional(
      Type.Object(
        {
          type: Type.Literal('asha'),
          gracePeriod: Type.Integer({ minimum: 1, default: 1, description: 'Epochs before the first comparison' }),
          reductionFactor: Type.Integer({ minimum: 2, maximum: 16, default: 3, description: 'Only the top 1/reductionFactor at a rung go on' }),
          keepStoppedModels: Type.Boolean({ default: false, description: 'Evaluate and keep the model of a trial stopped early (else it is dropped)' }),
        },
        {
          additionalProperties: false,
          description: 'ASHA: at gracePeriod × reductionFactor^k epochs, a trial goes on only if in the top 1/reductionFactor of the trials there before it',
        },
      ),
    ),
    seed: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 42, description: 'Makes the sequence of trials reproducible' }),
    promoteAlias: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_-]{0,62}$', description: 'Point this model alias at the best model at the end' })),
  },
  { additionalProperties: false, title: 'sweep params' },
);
export type SweepParams = Static<typeof SweepParams>;
export const DEFAULT_MAX_TRIALS = 10;

export const TRIAL_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;

export const Trial = Type.Object(
  {
    trialId: Type.String({ description: "The id of the trial's child job" }),
    index: Type.Integer({ description: '0-based order in which the sweep proposed it' }),
    params: Type.Record(Type.String(), Type.Unknown(), { description: 'The searched values: path → value' }),
    objective: Type.Union([Type.Number(), Type.Null()]),
    epochsRun: Type.Integer(),
    status: oneOf(TRIAL_STATUSES),
    stoppedEarly: Type.Boolean({ description: 'Stopped by ASHA (or by its own early stopping)' }),
    modelId: Type.Union([Type.String(), Type.Null()]),
    testAccuracy: Type.Union([Type.Number(), Type.Null()], { description: "The trial model's test accuracy (null without a model)" }),
  },
  { title: 'Trial' },
);
export type Trial = Static<typeof Trial>;

export const SweepResult = Type.Object(
  {
    leaderboard: Type.Array(Trial, { description: 'Every trial, best objective first (trials without one last)' }),
    best: Type.Union([Trial, Type.Null()], { description: 'The best trial that has a model' }),
    promotedAlias: Type.Union([Type.String(), Type.Null()]),
    trials: Type.Integer(),
    seconds: Type.Number(),
  },
  { title: 'sweep result' },
);
export type SweepResult = Static<typeof SweepResult>;

/**
 * What a sweep's progress adds to every job's (the contract composes the two); the counts appear once
 * its first step ran (before that its progress is `{percent: 0}`).
 */
export const SweepProgressFields = Type.Object({
  trials: Type.Optional(Type.Integer({ description: 'Trials the sweep runs in all' })),
  done: Type.Optional(Type.Integer({ description: 'Trials succeeded (those stopped early included)' })),
  running: Type.Optional(Type.Integer({ description: 'Trials queued or running' })),
  stopped: Type.Optional(Type.Integer({ description: 'Trials stopped early' })),
  failed: Type.Optional(Type.Integer()),
  bestObjective: Type.Optional(Type.Union([Type.Number(), Type.Null()], { description: 'Best objective so far (running trials included)' })),
  bestTrialId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type SweepProgress = Static<typeof SweepProgressFields> & { percent: number; stage?: string };
