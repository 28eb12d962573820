// fine-tune: start from a trained model, freeze its leading layers, optionally give it a new head,
// train on another dataset (optionally with the L2-SP pull towards the base weights, and gradual
// unfreezing), and report the test metrics before and after.
import { evaluate } from '../../ml/evaluate.js';
import { prepareFineTune, l2spRegularizer, setTrainable } from '../../ml/finetune.js';
import { loadModel } from '../../ml/model-io.js';
import type { Normalization } from '../../ml/types.js';
import { AppError } from '../../shared/errors.js';
import type { FineTuneResult } from '../../jobs/contract.js';
import type { Processor } from '../../jobs/registry.js';
import type { EvaluationResult } from '../../ml/results.js';
import { findCheckpoint, finishModel, loadRunData, trainWithCheckpoints, type RunOutcome } from '../training-run.js';

export const fineTune: Processor<'fine-tune'> = async (ctx) => {
  const p = ctx.params;
  const t0 = performance.now();
  ctx.progress({ percent: 0, stage: 'load' });
  const baseRow = await ctx.db.model.findUnique({ where: { id: p.baseModelId } });
  if (!baseRow) throw new AppError('MODEL_NOT_FOUND', `No model with id ${p.baseModelId}`);
  // Inputs are normalized as the base model saw them in its own training.
  const data = await loadRunData(ctx, p.datasetId, p.subset, baseRow.normalization as unknown as Normalization);
  const numClasses = p.numClasses ?? data.dataset.numClasses;
  const base = await loadModel(baseRow.path);
  const disposables: { dispose(): void }[] = [base];
  try {
    const before: EvaluationResult | null = baseRow.numClasses === numClasses ? await evaluate(base, data.test, { batchSize: 256 }) : null;
    const prepared = await prepareFineTune(base, { freeze: p.freeze, replaceHead: p.replaceHead, numClasses, seed: p.seed });
    const resume = await findCheckpoint(ctx);
    let model = prepared.model;
    if (resume) {
      // The checkpoint holds the fine-tuned weights (new head included); the freezing is re-applied.
      model.dispose();
      model = resume.model;
      setTrainable(model, prepared.frozenLayers, false);
    }
    disposables.push(model);
    const regularizer = p.l2sp > 0 ? l2spRegularizer(model, base, p.l2sp, { exclude: prepared.newLayers }) : undefined;
    if (regularizer) disposables.push(regularizer);
    const common = {
      batchSize: p.batchSize,
      schedule: p.schedule,
      earlyStopping: p.earlyStopping,
      seed: p.seed,
      regularizer: regularizer?.loss,
    };
    const opt = (learningRate: number) => ({ ...p.optimizer, learningRate });

    let run: RunOutcome | undefined;
    const phaseOne = p.unfreezeAfter !== undefined && p.unfreezeAfter < p.epochs ? p.unfreezeAfter : p.epochs;
    if ((resume?.state.epoch ?? 0) < phaseOne || phaseOne === p.epochs) {
      run = await trainWithCheckpoints(ctx, model, data, { ...common, epochs: phaseOne, optimizer: p.optimizer }, resume);
      if (run.cancelled) return undefined;
    }
    if (phaseOne < p.epochs) {
      // Gradual unfreezing: everything trains from here on, at a tenth of the rate.
      setTrainable(model, prepared.frozenLayers, true);
      const again = await findCheckpoint(ctx);
      run = await trainWithCheckpoints(ctx, model, data, { ...common, epochs: p.epochs, optimizer: opt(p.optimizer.learningRate / 10) }, again);
      if (run.cancelled) return undefined;
    }
    if (!run) throw new Error('fine-tune ran no training phase');
    const saved = await finishModel(ctx, {
      model,
      data,
      architecture: baseRow.architecture,
      params: p,
      run: run,
      parentModelId: baseRow.id,
      lineage: { frozenLayers: prepared.frozenLayers, headReplaced: prepared.headReplaced, unfreezeAfter: p.unfreezeAfter ?? null, l2sp: p.l2sp },
      startedAt: t0,
    });
    const result: FineTuneResult = {
      ...saved,
      baseModelId: baseRow.id,
      frozenLayers: prepared.frozenLayers,
      headReplaced: prepared.headReplaced,
      before,
      after: saved.test,
      delta: before ? { accuracy: saved.test.accuracy - before.accuracy, loss: saved.test.loss - before.loss } : null,
    };
    return result;
  } finally {
    for (const d of disposables) d.dispose();
  }
};
