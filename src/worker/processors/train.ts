// train: build (or resume) a model, train it on a prepared dataset, evaluate and record it.
import { buildModel } from '../../ml/models.js';
import type { Processor } from '../../jobs/registry.js';
import { findCheckpoint, finishModel, loadRunData, trainWithCheckpoints } from '../training-run.js';

export const train: Processor<'train'> = async (ctx) => {
  const p = ctx.params;
  const t0 = performance.now();
  ctx.progress({ percent: 0, stage: 'load' });
  const data = await loadRunData(ctx, p.datasetId, p.subset);
  const numClasses = data.dataset.numClasses;
  const resume = await findCheckpoint(ctx);
  const model = resume?.model ?? buildModel(p.architecture, { inputShape: [data.dataset.height, data.dataset.width, 1], numClasses, seed: p.seed });
  try {
    const run = await trainWithCheckpoints(
      ctx,
      model,
      data,
      {
        epochs: p.epochs,
        batchSize: p.batchSize,
        optimizer: p.optimizer,
        schedule: p.schedule,
        earlyStopping: p.earlyStopping,
        seed: p.seed,
      },
      resume,
    );
    if (run.cancelled) return undefined;
    return await finishModel(ctx, { model, data, architecture: p.architecture, params: p, run, startedAt: t0 });
  } finally {
    model.dispose();
  }
};
