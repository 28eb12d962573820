// Route group /v1/datasets: prepared datasets with their manifest, counts and statistics.
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Dataset as DatasetRow } from '../../generated/prisma/client.js';
import { notFound } from '../../shared/errors.js';
import { afterCursor, pageOrder, toPage } from '../../shared/pagination.js';
import { IdParams, PageQuery, errors, page } from '../schemas.js';
import type { AppDeps } from '../app.js';
import { sendFile } from '../send-file.js';

const Dataset = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'Also the id of the dataset-prep job that made it' }),
    name: Type.Union([Type.String(), Type.Null()]),
    source: Type.Unknown(),
    params: Type.Unknown(),
    counts: Type.Unknown({ description: 'Samples per split' }),
    stats: Type.Unknown({ description: 'Class distribution per split, pixel mean/std, duplicates, blank images' }),
    numClasses: Type.Integer(),
    height: Type.Integer(),
    width: Type.Integer(),
    sizeBytes: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Dataset', title: 'Dataset' },
);
const DatasetDetail = Type.Intersect([Type.Ref('Dataset'), Type.Object({ manifest: Type.Unknown() })]);

const toApi = (d: DatasetRow) => ({
  id: d.id,
  name: d.name,
  source: d.source,
  params: d.params,
  counts: d.counts,
  stats: d.stats,
  numClasses: d.numClasses,
  height: d.height,
  width: d.width,
  sizeBytes: Number(d.sizeBytes),
  createdAt: d.createdAt.toISOString(),
});

export const datasetsRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, { db }) => {
  app.addSchema(Dataset);
  const get = async (id: string) => (await db.dataset.findUnique({ where: { id } })) ?? Promise.reject(notFound('Dataset', id, 'DATASET_NOT_FOUND'));

  app.get(
    '/v1/datasets',
    {
      schema: {
        operationId: 'listDatasets',
        tags: ['datasets'],
        summary: 'List prepared datasets, newest first',
        querystring: Type.Object(PageQuery),
        response: { 200: page(Type.Ref('Dataset')), ...errors() },
      },
    },
    async (req) => {
      const { limit, cursor } = req.query;
      const rows = await db.dataset.findMany({ where: afterCursor(cursor), orderBy: pageOrder, take: limit + 1 });
      return toPage(rows, limit, toApi);
    },
  );

  app.get(
    '/v1/datasets/:id',
    { schema: { operationId: 'getDataset', tags: ['datasets'], summary: 'A prepared dataset with its manifest', params: IdParams, response: { 200: DatasetDetail, ...errors(404) } } },
    async (req) => {
      const d = await get(req.params.id);
      return { ...toApi(d), manifest: d.manifest };
    },
  );

  app.get(
    '/v1/datasets/:id/preview.png',
    {
      schema: {
        operationId: 'getDatasetPreview',
        tags: ['datasets'],
        summary: 'A grid of sample images per class',
        params: IdParams,
        response: { 200: Type.String({ description: 'image/png' }), ...errors(404) },
      },
    },
    async (req, reply) => {
      const d = await get(req.params.id);
      return sendFile(reply, path.join(d.path, 'preview.png'), 'image/png', `Dataset ${d.id} has no preview.png`);
    },
  );
};
