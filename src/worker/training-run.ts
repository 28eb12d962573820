// The run machinery shared by train and fine-tune jobs: load the dataset splits, train with progress,
// per-epoch metric rows and checkpoints (resuming from the last one after a crash), then evaluate,
// save the model with its chart, and record the Model row.
import { mkdir, writeFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Dataset } from '../generated/prisma/client.js';
import type * as tf from '../ml/tf.js';
import { loadSplit } from '../ml/data/files.js';
import { evaluate } from '../ml/evaluate.js';
import { disposeCheckpointTensors, loadCheckpoint, saveCheckpoint, saveModel } from '../ml/model-io.js';
import { trainingCurveSvg } from '../ml/chart.js';
import { backendName } from '../ml/backend.js';
import { train, type TrainOptions, type TrainLoopResult, type EpochMetrics } from '../ml/train.js';
import type { ImageSet, Normalization, SplitName } from '../ml/types.js';
import { AppError } from '../shared/errors.js';
import { trainingEpochs, trainingSamples } from '../shared/metrics.js';
import { toApiModel } from '../shared/model-rows.js';
import type { TrainResult } from '../jobs/contract.js';
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
  const [trainSet, val, test] = await Promise.all(
    (['train', 'val', 'test'] as const).map(async (s) => first(await loadSplit(dataset.path, s, norm), subset[s])),
  );
  return { dataset, normalization: norm, train: trainSet!, val: val!, test: test! };
}

// Deleted by runJob once the run's terminal status is committed (until then a rerun resumes from it).
export const checkpointDir = (ctx: JobContext) => path.join(ctx.config.DATA_DIR, 'checkpoints', ctx.id);
export const modelDir = (ctx: JobContext) => path.join(ctx.config.DATA_DIR, 'models', ctx.id);

/** A checkpoint left by an earlier attempt of this job, if any. */
export async function findCheckpoint(ctx: JobContext) {
  try {
    return await loadCheckpoint(checkpointDir(ctx));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') ctx.log.warn({ err }, 'checkpoint unreadable; starting over');
    return null;
  }
}

export interface RunOutcome extends TrainLoopResult {
  resumedFromEpoch: number;
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
  let result;
  try {
    result = await train(
      model,
      { train: data.train, val: data.val },
      { ...opts, startEpoch: resumedFromEpoch, initialState: resume ? { ...resume.state, optimizerWeights: resume.optimizerWeights } : undefined },
      {
        shouldStop: () => ctx.cancelled() || ctx.stopping(),
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
          await saveCheckpoint(checkpointDir(ctx), { model: current, optimizer, state });
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
  if (result.cancelled) {
    // Stopped by the shutdown of this worker, not by a cancel: the next worker resumes the job.
    if (!ctx.cancelled()) throw new Released();
  }
  return { ...result, resumedFromEpoch };
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir)) total += (await stat(path.join(dir, f))).size;
  return total;
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
 * Evaluates on the test split, saves model + chart under DATA_DIR/models/<jobId>/, records the row,
 * and returns the job's result.
 */
export async function finishModel(ctx: JobContext, input: SaveModelInput): Promise<TrainResult> {
  const { model, data, run } = input;
  ctx.progress({ percent: 99, stage: 'evaluate' });
  const test = await evaluate(model, data.test, { batchSize: 256 });
  const dir = modelDir(ctx);
  await mkdir(dir, { recursive: true });
  await saveModel(model, dir);
  const history = (await ctx.db.epochMetric.findMany({ where: { jobId: ctx.id }, orderBy: { epoch: 'asc' } })).map(({ jobId, createdAt, ...m }) => m);
  await writeFile(path.join(dir, 'training-curve.svg'), trainingCurveSvg(history as EpochMetrics[]));
  const backend = backendName();
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  const numClasses = model.outputs[0]!.shape[1] as number;
  const row = {
    jobId: ctx.id,
    datasetId: data.dataset.id,
    parentModelId: input.parentModelId ?? null,
    architecture: input.architecture,
    params: input.params,
    metrics: { test, epochsRun: run.epochsCompleted, bestEpoch: run.bestEpoch, stoppedEarly: run.stoppedEarly, trainSamplesPerSec: run.samplesPerSec } as object,
    lineage: { datasetId: data.dataset.id, jobId: ctx.id, parentModelId: input.parentModelId ?? null, ...input.lineage } as object,
    normalization: data.normalization as object,
    inputShape,
    numClasses,
    backend,
    path: dir,
    sizeBytes: BigInt(await dirSize(dir)),
  };
  const saved = await ctx.db.model.upsert({ where: { id: ctx.id }, create: { id: ctx.id, ...row }, update: row, include: { aliases: { select: { alias: true } } } });
  await ctx.webhooks?.publish('model.created', toApiModel(saved));
  return {
    modelId: ctx.id,
    test,
    backend,
    epochsRun: run.epochsCompleted,
    stoppedEarly: run.stoppedEarly,
    bestEpoch: run.bestEpoch,
    trainSamplesPerSec: Math.round(run.samplesPerSec),
    seconds: Math.round((performance.now() - input.startedAt) / 100) / 10,
    resumedFromEpoch: run.resumedFromEpoch,
  };
}
