// GET /v1/models/:id/misclassified: test images the model gets wrong, with their pixels, for the
// dashboard's grid. Runs the model through the predict service over the first `scan` images of its
// dataset's test split (read straight from the uncompressed IDX files) and keeps the answer per model.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError, notFound } from '../../shared/errors.js';
import { IdParams, errors } from '../schemas.js';
import type { AppDeps } from '../app.js';
import { getBuffer, type ArtifactStore } from '../../storage/index.js';
import { datasetPrefix } from '../../storage/keys.js';

const Query = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 48, description: 'Most images returned' })),
  scan: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 2000, description: 'Test images examined, from the first' })),
});
const Answer = Type.Object({
  modelId: Type.String({ format: 'uuid' }),
  datasetId: Type.String({ format: 'uuid' }),
  split: Type.Literal('test'),
  scanned: Type.Integer(),
  misclassified: Type.Integer({ description: 'How many of the scanned images the model gets wrong' }),
  items: Type.Array(
    Type.Object({
      index: Type.Integer({ description: 'Position in the test split' }),
      label: Type.Integer(),
      predicted: Type.Integer(),
      confidence: Type.Number({ description: 'Probability of the predicted class' }),
      pixels: Type.String({ description: 'base64 of height×width uint8 intensities, row-major, ink bright' }),
    }),
  ),
});
type AnswerT = typeof Answer.static;

/** Reads `n` images and labels from the start of a dataset's test split in the artifact store (IDX, 16- and 8-byte headers). */
async function readSplit(store: ArtifactStore, datasetId: string, n: number, side: number) {
  const read = async (file: string, header: number, bytes: number) => {
    const buf = await getBuffer(store, `${datasetPrefix(datasetId)}${file}`).catch(() => Promise.reject(new AppError('FILE_NOT_FOUND', `The dataset has no ${file}`)));
    const take = Math.min(n, buf.readUInt32BE(4));
    return { count: take, buf: buf.subarray(header, header + take * bytes) };
  };
  const images = await read('test-images.idx3-ubyte', 16, side);
  const labels = await read('test-labels.idx1-ubyte', 8, 1);
  return { count: Math.min(images.count, labels.count), images: images.buf, labels: labels.buf };
}

const CHUNK = 256;
const CACHE_SIZE = 16;

export const misclassifiedRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, { db, predict, store }) => {
  // Models never change after training, so an answer stays right until the model is deleted.
  const cache = new Map<string, AnswerT>();

  app.get(
    '/v1/models/:id/misclassified',
    {
      schema: {
        operationId: 'getModelMisclassified',
        tags: ['models'],
        summary: 'Test images the model misclassifies, with true and predicted class',
        params: IdParams,
        querystring: Query,
        response: { 200: Answer, ...errors(404) },
      },
    },
    async (req) => {
      const { id } = req.params;
      const { limit = 48, scan = 2000 } = req.query;
      const key = `${id}:${scan}`;
      let answer = cache.get(key);
      if (!answer) {
        const model = await db.model.findUnique({ where: { id } });
        if (!model) throw notFound('Model', id, 'MODEL_NOT_FOUND');
        const dataset = await db.dataset.findUnique({ where: { id: model.datasetId } });
        if (!dataset) throw notFound('Dataset', model.datasetId, 'DATASET_NOT_FOUND');
        const side = dataset.height * dataset.width;
        const { count, images, labels } = await readSplit(store, dataset.id, scan, side);
        const wrong: AnswerT['items'] = [];
        let misclassified = 0;
        for (let start = 0; start < count; start += CHUNK) {
          const inputs = [];
          for (let i = start; i < Math.min(count, start + CHUNK); i++) {
            inputs.push(Array.from(images.subarray(i * side, (i + 1) * side), (v) => v / 255));
          }
          const { predictions } = await predict.predict(model.id, inputs);
          predictions.forEach((p, k) => {
            const i = start + k;
            if (p.class === labels[i]) return;
            misclassified++;
            if (wrong.length < 200) {
              const pixels = Buffer.from(images.subarray(i * side, (i + 1) * side)).toString('base64');
              wrong.push({ index: i, label: labels[i]!, predicted: p.class, confidence: p.probabilities[p.class]!, pixels });
            }
          });
        }
        answer = { modelId: model.id, datasetId: dataset.id, split: 'test', scanned: count, misclassified, items: wrong };
        if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
        cache.set(key, answer);
      }
      return { ...answer, items: answer.items.slice(0, limit) };
    },
  );
};
