// The run machinery shared by train and fine-tune jobs: load the dataset splits, train with progress,
// per-epoch metric rows and checkpoints (resuming from the last one after a crash), then evaluate,
// save the model with its chart, and record the Model row. Every file goes through the artifact
// store: src/ml reads and writes local directories (scratch under DATA_DIR/tmp, or views of the
// local cache), which are uploaded to and materialized from the store.
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Dataset } from '../generated/prisma/client.js';
import type * as tf from '../ml/tf.js';
import { loadSplit } from '../ml/data/files.js';
import { calibrate, evaluate } from '../ml/evaluate.js';
import { disposeCheckpointTensors, loadCheckpoint, loadModel, saveCheckpoint, saveModel, type CheckpointInput } from '../ml/model-io.js';
import { trainingCurveSvg } from '../ml/chart.js';
import { backendName } from '../ml/backend.js';
import { train, type TrainOptions, type TrainLoopResult, type EpochMetrics } from '../ml/train.js';
import type { ImageSet, Normalization, SplitName } from '../ml/types.js';
import { AppError } from '../shared/errors.js';
import { trainingEpochs, trainingSamples } from '../shared/metrics.js';
import { toApiModel } from '../shared/model-rows.js';
import { AUGMENT_DEFAULTS, type OnlineAugmentParams, type TrainResult } from '../jobs/contract.js';
import type { OnlineAugment } from '../ml/data/augment.js';
import { trialGate, type GateDecision } from '../jobs/sweep/gate.js';
import { withRetry } from '../jobs/retry.js';
import { openGeneration, putDir, saveGeneration } from '../storage/dirs.js';
import { checkpointPrefix, datasetPrefix, modelPrefix } from '../storage/keys.js';
import type { ObjectInfo } from '../storage/index.js';
import { Released, type JobContext } from './job-context.js';

export interface RunData {
  dataset: Dataset;
  normalization: Normalization;
  train: ImageSet;
  val: ImageSet;
  test: ImageSet;
}

const first = (set: ImageSet, n: number | undefined): ImageSet => {
  if (!n || n >= set.count) return set;
  const px = set.height * set.width;
  return { ...set, count: n, images: set.images.subarray(0, n * px), labels: set.labels.subarray(0, n) };
};

/**
 * Loads a dataset's splits normalized the way `normalization` says (the dataset's own by default;
 * a fine-tune or a bulk predict passes the model's, so inputs look as they did in training).
 */
export async function loadRunData(
  ctx: JobContext,
  datasetId: string,
  subset: Partial<Record<SplitName, number>> = {},
  normalization?: Normalization,
): Promise<RunData> {
  const dataset = await ctx.db.dataset.findUnique({ where: { id: datasetId } });
  if (!dataset) throw new AppError('DATASET_NOT_FOUND', `No prepared dataset with id ${datasetId}`);
  const norm = normalization ?? (dataset.manifest as unknown as { normalization: Normalization }).normalization;
  // A view of the dataset in the local cache (downloaded once per machine), read into memory.
  const view = await ctx.artifacts.cache.materialize(datasetPrefix(datasetId));
  try {
    const [trainSet, val, test] = await Promise.all(
      (['train', 'val', 'test'] as const).map(async (s) => first(await loadSplit(view.dir, s, norm), subset[s])),
    );
    return { dataset, normalization: norm, train: trainSet!, val: val!, test: test! };
  } finally {
    await view.release();
  }
}

/** A registered model's network, read through the local artifact cache. */
export async function loadStoredModel(ctx: JobContext, modelId: string): Promise<tf.LayersModel> {
  const view = await ctx.artifacts.cache.materialize(modelPrefix(modelId));
  try {
    return await loadModel(view.dir);
  } finally {
    await view.release();
  }
}

/** The job's `augment` parameter with the defaults filled in (null: none). */
export function onlineAugment(param: OnlineAugmentParams | undefined): OnlineAugment | null {
  if (param === false) return null;
  return { ...AUGMENT_DEFAULTS, ...(param ?? {}) } as OnlineAugment;
}


/** A fresh scratch directory of this job under DATA_DIR/tmp (the caller removes it). */
const scratch = (ctx: JobContext, what: string) => path.join(ctx.config.DATA_DIR, 'tmp', `${what}-${ctx.id}-${randomUUID().slice(0, 8)}`);

/** A checkpoint left by an earlier attempt of this job (on any machine), if any. */
export async function findCheckpoint(ctx: JobContext) {
  try {
    const view = await openGeneration(ctx.artifacts.store, ctx.artifacts.cache, checkpointPrefix(ctx.id));
    if (!view) return null;
    try {
      return await loadCheckpoint(view.dir);
    } finally {
      await view.release();
    }
  } catch (err) {
    ctx.log.warn({ err }, 'checkpoint unreadable; starting over');
    return null;
  }
}

/** Writes the checkpoint locally, then to the store as a new generation replacing the last one. */
async function storeCheckpoint(ctx: JobContext, input: CheckpointInput) {
  const dir = scratch(ctx, 'checkpoint');
  try {
    await saveCheckpoint(dir, input);
    await saveGeneration(ctx.artifacts.store, checkpointPrefix(ctx.id), dir, { move: true });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface RunOutcome extends TrainLoopResult {
  resumedFromEpoch: number;
  /** The epochs the run was asked for (it may have run fewer: early stopping, a sweep's stop). */
  epochsPlanned: number;
  /** Set when the run is a sweep's trial that the sweep stopped early (ASHA, or its stop flag). */
  stoppedBySweep?: GateDecision;
}

/**
 * Trains `model` with progress, a metric row and a checkpoint per epoch. The metric row is written
 * before the checkpoint: a crash between the two re-runs that epoch, which overwrites its row, so a
 * job never ends with a missing or a duplicate epoch.
 */
export async function trainWithCheckpoints(
  ctx: JobContext,
  model: tf.LayersModel,
  data: RunData,
  opts: TrainOptions,
  resume: Awaited<ReturnType<typeof findCheckpoint>>,
): Promise<RunOutcome> {
  const resumedFromEpoch = resume?.state.epoch ?? 0;
  if (resume) ctx.log.info({ epoch: resumedFromEpoch }, 'resuming from checkpoint');
  const t0 = performance.now();
  const batchesPerEpoch = Math.ceil(data.train.count / opts.batchSize);
  const totalBatches = (opts.epochs - resumedFromEpoch) * batchesPerEpoch;
  let done = 0;
  let result: TrainLoopResult;
  // A sweep's trial asks its sweep after every epoch whether to go on (src/jobs/sweep/gate.ts).
  const gate = await trialGate(ctx.db, ctx.id);
  let stoppedBySweep: GateDecision | undefined;
  try {
    result = await train(
      model,
      { train: data.train, val: data.val },
      { ...opts, startEpoch: resumedFromEpoch, initialState: resume ? { ...resume.state, optimizerWeights: resume.optimizerWeights } : undefined },
      {
        // A sweep's stop is seen before the next epoch's first batch: the weights stay those of the epoch.
        shouldStop: () => ctx.cancelled() || ctx.stopping() || !!stoppedBySweep,
        onBatch: (b) => {
          done++;
          const elapsed = (performance.now() - t0) / 1000;
          const eta = done > 0 ? (elapsed / done) * (totalBatches - done) : null;
          ctx.progress({
            percent: 100 * ((b.epoch - 1) * b.batches + b.batch) / (opts.epochs * b.batches),
            stage: 'train',
            epoch: b.epoch,
            epochs: opts.epochs,
            batch: b.batch,
            batches: b.batches,
            samplesPerSec: Math.round(b.samplesPerSec),
            etaSeconds: eta === null ? null : Math.round(eta),
          });
        },
        onEpochEnd: async (m: EpochMetrics, state, { model: current, optimizer }) => {
          const row = {
            loss: m.loss,
            accuracy: m.accuracy,
            valLoss: m.valLoss,
            valAccuracy: m.valAccuracy,
            learningRate: m.learningRate,
            seconds: m.seconds,
            samplesPerSec: m.samplesPerSec,
          };
          await ctx.recordEpoch({ epoch: m.epoch, ...row });
          if (gate && m.epoch < opts.epochs) {
            const decision = await gate(m.epoch);
            if (decision.stop) {
              // No checkpoint: a crash from here re-runs this epoch, which takes the same decision.
              stoppedBySweep = decision;
              ctx.log.info({ epoch: m.epoch }, 'trial stopped early by its sweep');
              return;
            }
          }
          await storeCheckpoint(ctx, { model: current, optimizer, state });
          trainingEpochs.inc({ type: ctx.type });
          trainingSamples.inc({ type: ctx.type }, data.train.count);
          ctx.log.info({ epoch: m.epoch, loss: m.loss, valAccuracy: m.valAccuracy, seconds: Math.round(m.seconds) }, 'epoch done');
        },
      },
    );
  } finally {
    // train() copied what it needs from the checkpoint's tensors.
    if (resume) disposeCheckpointTensors(resume);
  }
  if (stoppedBySweep && !ctx.cancelled()) {
    return { ...result, cancelled: false, stoppedEarly: true, resumedFromEpoch, epochsPlanned: opts.epochs, stoppedBySweep };
  }
  if (result.cancelled) {
    // Stopped by the shutdown of this worker, not by a cancel: the next worker resumes the job.
    if (!ctx.cancelled()) throw new Released();
  }
  return { ...result, resumedFromEpoch, epochsPlanned: opts.epochs };
}

export interface SaveModelInput {
  model: tf.LayersModel;
  data: RunData;
  architecture: string;
  params: object;
  run: RunOutcome;
  parentModelId?: string;
  lineage?: object;
  /** performance.now() when the job started, for the result's `seconds`. */
  startedAt: number;
}

/**
 * Evaluates on the test split, saves model + chart under models/<jobId>/ in the store, then records
 * the row (so a model appears only once its files are complete), and returns the job's result.
 */
export async function finishModel(ctx: JobContext, input: SaveModelInput): Promise<TrainResult> {
  const { model, data, run } = input;
  if (run.stoppedBySweep && !run.stoppedBySweep.keepModel) {
    // A trial its sweep stopped early, whose model the sweep does not keep: nothing to evaluate or
    // save (its checkpoint goes once the terminal state is committed, as every run's does).
    return {
      modelId: null,
      test: null,
      backend: backendName(),
      epochsRun: run.epochsCompleted,
      stoppedEarly: true,
      bestEpoch: run.bestEpoch,
      trainSamplesPerSec: Math.round(run.samplesPerSec),
      seconds: Math.round((performance.now() - input.startedAt) / 100) / 10,
      resumedFromEpoch: run.resumedFromEpoch,
    };
  }
  // The epoch counter stays on the line: a follower that polls only now still sees how far it got.
  ctx.progress({ percent: 99, stage: 'evaluate', epoch: run.epochsCompleted, epochs: run.epochsPlanned });
  // Temperature scaling on the validation split, folded into the head: the saved model's
  // probabilities are calibrated wherever it runs.
  const calibration = data.val.count > 0 ? await calibrate(model, data.val) : null;
  const test = await evaluate(model, data.test, { batchSize: 256 });
  const dir = scratch(ctx, 'model');
  await mkdir(dir, { recursive: true });
  let files: ObjectInfo[] = [];
  try {
    await saveModel(model, dir);
    // The run's end waits out a short Postgres outage in place, as its epoch rows do: handed back to
    // the queue instead, the finished training would be loaded again only to be saved again.
    const rows = await withRetry('training history', () => ctx.db.epochMetric.findMany({ where: { jobId: ctx.id }, orderBy: { epoch: 'asc' } }), { logger: ctx.log, signal: ctx.signal });
    const history = rows.map(({ jobId, createdAt, ...m }) => m);
    await writeFile(path.join(dir, 'training-curve.svg'), trainingCurveSvg(history as EpochMetrics[]));
    files = await putDir(ctx.artifacts.store, dir, modelPrefix(ctx.id), { last: 'model.json', move: true });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const backend = backendName();
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  const numClasses = model.outputs[0]!.shape[1] as number;
  const row = {
    jobId: ctx.id,
    datasetId: data.dataset.id,
    parentModelId: input.parentModelId ?? null,
    architecture: input.architecture,
    params: input.params,
    metrics: { test, calibration, epochsRun: run.epochsCompleted, bestEpoch: run.bestEpoch, stoppedEarly: run.stoppedEarly, trainSamplesPerSec: run.samplesPerSec } as object,
    lineage: { datasetId: data.dataset.id, jobId: ctx.id, parentModelId: input.parentModelId ?? null, ...input.lineage } as object,
    normalization: data.normalization as object,
    inputShape,
    numClasses,
    backend,
    path: ctx.artifacts.store.url(modelPrefix(ctx.id)),
    sizeBytes: BigInt(files.reduce((n, f) => n + f.size, 0)),
  };
  const saved = await withRetry('model row', () => ctx.db.model.upsert({ where: { id: ctx.id }, create: { id: ctx.id, ...row }, update: row, include: { aliases: { select: { alias: true } } } }), {
    logger: ctx.log,
    signal: ctx.signal,
  });
  await ctx.webhooks?.publish('model.created', toApiModel(saved));
  return {
    modelId: ctx.id,
    test,
    calibration,
    backend,
    epochsRun: run.epochsCompleted,
    stoppedEarly: run.stoppedEarly,
    bestEpoch: run.bestEpoch,
    trainSamplesPerSec: Math.round(run.samplesPerSec),
    seconds: Math.round((performance.now() - input.startedAt) / 100) / 10,
    resumedFromEpoch: run.resumedFromEpoch,
  };
}
