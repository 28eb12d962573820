// predict (bulk): run a model over inline inputs or a dataset split; write every prediction to
// DATA_DIR/predictions/<jobId>.jsonl and, where labels exist, report accuracy and a confusion matrix.
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { loadModel } from '../../ml/model-io.js';
import { predictProbs } from '../../ml/evaluate.js';
import { normalizePixels } from '../../ml/data/normalize.js';
import { accuracyFromConfusion, argmax, confusionMatrix } from '../../ml/metrics.js';
import type { Normalization } from '../../ml/types.js';
import { inputsToBatch } from '../../serving/inputs.js';
import type { Prediction, PredictionRecord } from '../../serving/answer.js';
import { AppError } from '../../shared/errors.js';
import { resolveModel } from '../../shared/model-registry.js';
import type { PredictJobResult } from '../../jobs/contract.js';
import type { Processor } from '../../jobs/registry.js';
import { loadRunData } from '../training-run.js';

/** Inline predictions are also returned in the result up to this many; the file always has them all. */
const INLINE_RESULT_LIMIT = 1000;
const CHUNK = 1024;

export const predictJob: Processor<'predict'> = async (ctx) => {
  const p = ctx.params;
  const t0 = performance.now();
  const row = await resolveModel(ctx.db, p.model);
  const norm = row.normalization as unknown as Normalization;
  const [h, w] = row.inputShape as number[];

  let images: Float32Array;
  let labels: Uint8Array | null = null;
  let count: number;
  ctx.progress({ percent: 0, stage: 'load' });
  if (p.dataset) {
    const data = await loadRunData(ctx, p.dataset.datasetId, { [p.dataset.split]: p.dataset.limit }, norm);
    const set = data[p.dataset.split];
    if (set.height !== h || set.width !== w) {
      throw new AppError('INPUT_SHAPE_MISMATCH', `Dataset images are ${set.height}×${set.width}, the model takes ${h}×${w}`);
    }
    ({ images, labels, count } = set);
  } else {
    count = p.inputs!.length;
    images = normalizePixels(await inputsToBatch(p.inputs!), norm);
  }

  const model = await loadModel(row.path);
  const numClasses = row.numClasses;
  const file = path.join(ctx.config.DATA_DIR, 'predictions', `${ctx.id}.jsonl`);
  await mkdir(path.dirname(file), { recursive: true });
  const out = createWriteStream(file);
  const predicted = labels ? new Uint32Array(count) : null;
  const inline: Prediction[] = [];
  try {
    for (let start = 0; start < count; start += CHUNK) {
      if (ctx.cancelled()) return undefined;
      const n = Math.min(CHUNK, count - start);
      const probs = await predictProbs(model, images.subarray(start * h * w, (start + n) * h * w), n);
      let text = '';
      for (let i = 0; i < n; i++) {
        const row = Array.from(probs.subarray(i * numClasses, (i + 1) * numClasses));
        const best = argmax(row);
        const label = labels ? labels[start + i]! : undefined;
        if (predicted) predicted[start + i] = best;
        if (!labels && inline.length < INLINE_RESULT_LIMIT) inline.push({ class: best, probabilities: row });
        const record: PredictionRecord = { index: start + i, class: best, probabilities: row, ...(label !== undefined ? { label } : {}) };
        text += `${JSON.stringify(record)}\n`;
      }
      if (!out.write(text)) await once(out, 'drain');
      ctx.progress({ percent: (100 * (start + n)) / count, stage: 'predict' });
    }
  } finally {
    out.end();
    await once(out, 'close');
    model.dispose();
  }
  const confusion = labels && predicted ? confusionMatrix(labels, predicted, numClasses, count) : null;
  const result: PredictJobResult = {
    modelId: row.id,
    count,
    predictionsFile: path.relative(ctx.config.DATA_DIR, file),
    ...(confusion ? { accuracy: accuracyFromConfusion(confusion), confusionMatrix: confusion } : { predictions: inline }),
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  };
  return result;
};
