// Checks of a job's parameters that a schema cannot express: sums, cross-field rules, and references
// to datasets and models that must exist and be ready. Run before a job is queued, so the client gets
// a 4xx at once instead of a job that fails later.
import type { Config } from '../shared/config.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { DatasetPrepParams, FineTuneParams, JobType, ParamsOf, PredictJobParams } from './contract.js';
import { resolveModel } from '../shared/model-registry.js';
import { checkOutboundUrl } from '../shared/outbound.js';
import { parseAllowedHosts } from '../shared/url-policy.js';
import { datasetPrepBytes, requireFreeSpace } from '../shared/disk.js';

async function requireDataset(db: Db, datasetId: string) {
  const dataset = await db.dataset.findUnique({ where: { id: datasetId } });
  if (dataset) return dataset;
  const job = await db.job.findUnique({ where: { id: datasetId } });
  if (job?.type === 'dataset_prep' && (job.status === 'queued' || job.status === 'running')) {
    throw new AppError('DATASET_NOT_READY', `Dataset ${datasetId} is still being prepared (job ${job.status})`);
  }
  throw new AppError('DATASET_NOT_FOUND', `No prepared dataset with id ${datasetId}`);
}

function checkDatasetPrep(p: DatasetPrepParams, allowedHosts: readonly string[], allowPrivate: boolean) {
  // A literal private address or `localhost` is refused here; names are checked again at connect time.
  if (typeof p.source === 'object') checkOutboundUrl(p.source.url, { allowPrivate, allowedHosts });
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

export type ChecksConfig = Pick<Config, 'DOWNLOAD_ALLOWED_HOSTS' | 'OUTBOUND_ALLOW_PRIVATE' | 'DATA_DIR' | 'DOWNLOAD_MAX_BYTES' | 'PREDICT_JOB_MAX_INPUTS'>;

const CHECKS: { [T in JobType]: (db: Db, config: ChecksConfig, p: ParamsOf<T>) => unknown } = {
  'dataset-prep': (_db, config, p) => {
    checkDatasetPrep(p, parseAllowedHosts(config.DOWNLOAD_ALLOWED_HOSTS), config.OUTBOUND_ALLOW_PRIVATE);
    return requireFreeSpace(config.DATA_DIR, datasetPrepBytes(p, config.DOWNLOAD_MAX_BYTES));
  },
  train: (db, _config, p) => requireDataset(db, p.datasetId),
  'fine-tune': (db, _config, p) => checkFineTune(db, p),
  predict: (db, config, p) => {
    if (p.inputs && p.inputs.length > config.PREDICT_JOB_MAX_INPUTS) {
      throw new AppError('TOO_MANY_INPUTS', `At most ${config.PREDICT_JOB_MAX_INPUTS} inline inputs per predict job; prepare a dataset for more`, { max: config.PREDICT_JOB_MAX_INPUTS });
    }
    return checkPredict(db, p);
  },
};

export async function checkJobParams<T extends JobType>(db: Db, config: ChecksConfig, type: T, params: ParamsOf<T>): Promise<void> {
  await CHECKS[type](db, config, params);
}
