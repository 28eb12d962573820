// Checks of a job's parameters that a schema cannot express: sums, cross-field rules, and references
// to datasets and models that must exist and be ready. Run before a job is queued, so the client gets
// a 4xx at once instead of a job that fails later.
import type { Config } from '../shared/config.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { DatasetPrepParams, FineTuneParams, JobType, ParamsOf, PredictJobParams } from './contract.js';
import { resolveModel } from '../shared/model-registry.js';
import { hostAllowed, parseAllowedHosts } from '../shared/url-policy.js';

async function requireDataset(db: Db, datasetId: string) {
  const dataset = await db.dataset.findUnique({ where: { id: datasetId } });
  if (dataset) return dataset;
  const job = await db.job.findUnique({ where: { id: datasetId } });
  if (job?.type === 'dataset_prep' && (job.status === 'queued' || job.status === 'running')) {
    throw new AppError('DATASET_NOT_READY', `Dataset ${datasetId} is still being prepared (job ${job.status})`);
  }
  throw new AppError('DATASET_NOT_FOUND', `No prepared dataset with id ${datasetId}`);
}

function checkDatasetPrep(p: DatasetPrepParams, allowedHosts: readonly string[]) {
  if (typeof p.source === 'object') {
    const url = new URL(p.source.url); // an http(s) URI: the schema checked it
    if (!hostAllowed(url, allowedHosts)) {
      throw new AppError('URL_HOST_NOT_ALLOWED', `Datasets may not be fetched from ${url.hostname} (allowed: ${allowedHosts.join(', ')})`);
    }
  }
  if (typeof p.split === 'object') {
    const { train, val, test } = p.split;
    if (Math.abs(train + val + test - 1) > 1e-6) {
      throw new AppError('INVALID_SPLIT', `split ratios must sum to 1 (got ${train + val + test})`, { split: p.split });
    }
    if (train <= 0) throw new AppError('INVALID_SPLIT', 'split.train must be greater than 0', { split: p.split });
  }
  if (p.augment && p.augment.scale[0] > p.augment.scale[1]) {
    throw new AppError('INVALID_AUGMENT', 'augment.scale must be [min, max] with min ≤ max');
  }
}

async function checkFineTune(db: Db, p: FineTuneParams) {
  const base = await db.model.findUnique({ where: { id: p.baseModelId } });
  if (!base) throw new AppError('MODEL_NOT_FOUND', `No model with id ${p.baseModelId}`);
  const dataset = await requireDataset(db, p.datasetId);
  const [h, w] = base.inputShape as number[];
  if (dataset.height !== h || dataset.width !== w) {
    throw new AppError('INPUT_SHAPE_MISMATCH', `Dataset images are ${dataset.height}×${dataset.width}, the model takes ${h}×${w}`);
  }
  const classes = p.numClasses ?? dataset.numClasses;
  if (!p.replaceHead && classes !== base.numClasses) {
    throw new AppError(
      'HEAD_INCOMPATIBLE',
      `The base model's head has ${base.numClasses} classes, the fine-tune needs ${classes}; set replaceHead: true`,
    );
  }
}

async function checkPredict(db: Db, p: PredictJobParams) {
  if ((p.inputs === undefined) === (p.dataset === undefined)) {
    throw new AppError('INVALID_PARAMS', 'Give exactly one of `inputs` or `dataset`');
  }
  await resolveModel(db, p.model);
  if (p.dataset) await requireDataset(db, p.dataset.datasetId);
}

const CHECKS: { [T in JobType]: (db: Db, config: Pick<Config, 'DOWNLOAD_ALLOWED_HOSTS'>, p: ParamsOf<T>) => unknown } = {
  'dataset-prep': (_db, config, p) => checkDatasetPrep(p, parseAllowedHosts(config.DOWNLOAD_ALLOWED_HOSTS)),
  train: (db, _config, p) => requireDataset(db, p.datasetId),
  'fine-tune': (db, _config, p) => checkFineTune(db, p),
  predict: (db, _config, p) => checkPredict(db, p),
};

export async function checkJobParams<T extends JobType>(db: Db, config: Pick<Config, 'DOWNLOAD_ALLOWED_HOSTS'>, type: T, params: ParamsOf<T>): Promise<void> {
  await CHECKS[type](db, config, params);
}
