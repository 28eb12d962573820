// Route group /v1/models: the model registry (trained models, lineage, aliases).
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError, notFound } from '../../shared/errors.js';
import { ALIAS_RE, RESERVED_ALIASES } from '../../shared/model-registry.js';
import type { Model as ModelRow } from '../../generated/prisma/client.js';
import { toApiModel as toApi } from '../../shared/model-rows.js';
import { afterCursor, pageOrder, toPage } from '../../shared/pagination.js';
import { IdParams, PageQuery, errors, page } from '../schemas.js';
import type { AppDeps } from '../app.js';
import { sendFile } from '../send-file.js';
import { audit } from '../audit.js';

const Model = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'Also the id of the train / fine-tune job that made it' }),
    architecture: Type.String(),
    datasetId: Type.String({ format: 'uuid' }),
    parentModelId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'The base model of a fine-tune' }),
    params: Type.Unknown({ description: 'Hyper-parameters of the job that trained it' }),
    metrics: Type.Unknown({ description: 'Test metrics: accuracy, loss, per-class precision/recall/F1, confusion matrix' }),
    lineage: Type.Unknown({ description: 'Dataset, job and parent model it came from; frozen layers of a fine-tune' }),
    normalization: Type.Unknown(),
    inputShape: Type.Array(Type.Integer()),
    numClasses: Type.Integer(),
    backend: Type.String(),
    sizeBytes: Type.Integer(),
    aliases: Type.Array(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Model', title: 'Model' },
);
const AliasParams = Type.Object({ alias: Type.String({ pattern: ALIAS_RE.source, description: 'lower-case letters, digits, - and _' }) });
const Alias = Type.Object({
  alias: Type.String(),
  modelId: Type.String({ format: 'uuid' }),
  updatedBy: Type.Union([Type.String(), Type.Null()], { description: 'The API key that last moved it' }),
  updatedAt: Type.String({ format: 'date-time' }),
});


/**
 * Deletes a model so that a failure at any step leaves the row and its files in agreement: the files
 * move to a tombstone first (one rename: on a read-only or failing disk nothing has changed yet), then
 * the row goes (if that fails the files move back), then the tombstone is removed (if that fails the
 * model is gone all the same and only unreferenced bytes are left under DATA_DIR/trash/).
 */
async function deleteModel(db: AppDeps['db'], dataDir: string, model: ModelRow, log: { error(o: object, m: string): void }) {
  const trash = path.join(dataDir, 'trash');
  const tomb = path.join(trash, `model-${model.id}-${randomUUID()}`);
  let moved = false;
  try {
    await mkdir(trash, { recursive: true });
    await rename(model.path, tomb);
    moved = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      log.error({ err, modelId: model.id }, 'model files cannot be moved: delete refused, nothing changed');
      throw new AppError('STORE_UNAVAILABLE', `The files of model ${model.id} cannot be removed (${(err as NodeJS.ErrnoException).code}); nothing was deleted`);
    }
    // Already gone from disk: only the row is left to delete.
  }
  try {
    await db.model.delete({ where: { id: model.id } });
  } catch (err) {
    if (moved) await rename(tomb, model.path).catch((e) => log.error({ err: e, modelId: model.id, tomb }, 'integrity error: model files left in the tombstone'));
    throw err;
  }
  if (moved) await rm(tomb, { recursive: true, force: true }).catch((err) => log.error({ err, tomb }, 'a deleted model\'s files could not be removed'));
}

export const modelsRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, { db, config, onModelChanged, webhooks }) => {
  app.addSchema(Model);
  const include = { aliases: { select: { alias: true } } } as const;

  app.get(
    '/v1/models',
    {
      schema: {
        operationId: 'listModels',
        tags: ['models'],
        summary: 'List models, newest first',
        querystring: Type.Object({
          architecture: Type.Optional(Type.String({ pattern: '^[a-z0-9-]{1,40}$' })),
          datasetId: Type.Optional(Type.String({ format: 'uuid' })),
          parentModelId: Type.Optional(Type.String({ format: 'uuid' })),
          ...PageQuery,
        }),
        response: { 200: page(Type.Ref('Model')), ...errors() },
      },
    },
    async (req) => {
      const { architecture, datasetId, parentModelId, limit, cursor } = req.query;
      const rows = await db.model.findMany({
        where: { architecture, datasetId, parentModelId, ...afterCursor(cursor) },
        orderBy: pageOrder,
        take: limit + 1,
        include,
      });
      return toPage(rows, limit, toApi);
    },
  );

  app.get(
    '/v1/models/:id',
    { schema: { operationId: 'getModel', tags: ['models'], summary: 'A model with its metrics and lineage', params: IdParams, response: { 200: Type.Ref('Model'), ...errors(404) } } },
    async (req) => toApi((await db.model.findUnique({ where: { id: req.params.id }, include })) ?? (await Promise.reject(notFound('Model', req.params.id, 'MODEL_NOT_FOUND')))),
  );

  // The model's files, so that clients can run it themselves: tf.loadLayersModel('<api>/v1/models/<id>/model.json')
  // fetches weights.bin from beside it, as the manifest names it.
  const FILES = [
    { name: 'model.json', operationId: 'getModelJson', type: 'application/json', summary: 'The model in TensorFlow.js layers format (topology and weights manifest)' },
    { name: 'weights.bin', operationId: 'getModelWeights', type: 'application/octet-stream', summary: 'The weights named by model.json' },
    { name: 'training-curve.svg', operationId: 'getModelTrainingCurve', type: 'image/svg+xml', summary: 'Loss and accuracy per epoch' },
  ];
  for (const file of FILES) {
    app.get(
      `/v1/models/:id/${file.name}`,
      { schema: { operationId: file.operationId, tags: ['models'], summary: file.summary, params: IdParams, response: { 200: Type.String({ description: file.type }), ...errors(404) } } },
      async (req, reply) => {
        const model = await db.model.findUnique({ where: { id: req.params.id } });
        if (!model) throw notFound('Model', req.params.id, 'MODEL_NOT_FOUND');
        return sendFile(reply, path.join(model.path, file.name), file.type, `Model ${model.id} has no ${file.name}`);
      },
    );
  }

  app.delete(
    '/v1/models/:id',
    {
      schema: {
        operationId: 'deleteModel',
        tags: ['models'],
        summary: 'Delete a model and its files',
        description: 'Refused (409 MODEL_HAS_ALIASES) while an alias points at it.',
        params: IdParams,
        response: { 204: Type.Null(), ...errors(404, 409, 503) },
      },
    },
    async (req, reply) => {
      const model = await db.model.findUnique({ where: { id: req.params.id }, include });
      if (!model) throw notFound('Model', req.params.id, 'MODEL_NOT_FOUND');
      if (model.aliases.length > 0) {
        throw new AppError('MODEL_HAS_ALIASES', `Aliases point at this model: ${model.aliases.map((a) => a.alias).join(', ')}; move or delete them first`);
      }
      await deleteModel(db, config.DATA_DIR, model, req.log);
      onModelChanged(model.id, 'deleted');
      await audit(db, req, 'model.delete', model.id, { architecture: model.architecture });
      await webhooks.publish('model.deleted', toApi(model));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/models/aliases/:alias',
    {
      schema: {
        operationId: 'getModelAlias',
        tags: ['models'],
        summary: 'Resolve an alias to its model',
        description: 'The built-in `latest` resolves to the newest model.',
        params: AliasParams,
        response: { 200: Type.Object({ alias: Type.String(), model: Type.Ref('Model') }), ...errors(404) },
      },
    },
    async (req) => {
      const { alias } = req.params;
      const model = RESERVED_ALIASES.includes(alias)
        ? await db.model.findFirst({ orderBy: pageOrder, include })
        : ((await db.modelAlias.findUnique({ where: { alias }, include: { model: { include } } }))?.model ?? null);
      if (!model) throw notFound('Alias', alias, 'ALIAS_NOT_FOUND');
      return { alias, model: toApi(model) };
    },
  );

  app.put(
    '/v1/models/aliases/:alias',
    {
      schema: {
        operationId: 'setModelAlias',
        tags: ['models'],
        summary: 'Point an alias (e.g. production) at a model',
        params: AliasParams,
        body: Type.Object({ modelId: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
        response: { 200: Alias, ...errors(404) },
      },
    },
    async (req) => {
      const { alias } = req.params;
      if (RESERVED_ALIASES.includes(alias)) throw new AppError('ALIAS_RESERVED', `"${alias}" is built in and always means the newest model`);
      const model = await db.model.findUnique({ where: { id: req.body.modelId } });
      if (!model) throw notFound('Model', req.body.modelId, 'MODEL_NOT_FOUND');
      const previous = await db.modelAlias.findUnique({ where: { alias } });
      const by = req.principal.id;
      const row = await db.modelAlias.upsert({ where: { alias }, create: { alias, modelId: model.id, updatedBy: by }, update: { modelId: model.id, updatedBy: by } });
      if (previous) onModelChanged(previous.modelId, 'alias-moved');
      await audit(db, req, 'alias.set', alias, { modelId: model.id, previous: previous?.modelId ?? null });
      const answer = { alias: row.alias, modelId: row.modelId, updatedBy: row.updatedBy, updatedAt: row.updatedAt.toISOString() };
      await webhooks.publish('model.alias_moved', { ...answer, previousModelId: previous?.modelId ?? null });
      return answer;
    },
  );

  app.delete(
    '/v1/models/aliases/:alias',
    { schema: { operationId: 'deleteModelAlias', tags: ['models'], summary: 'Remove an alias', params: AliasParams, response: { 204: Type.Null(), ...errors(404) } } },
    async (req, reply) => {
      const previous = await db.modelAlias.findUnique({ where: { alias: req.params.alias } });
      if (!previous) throw notFound('Alias', req.params.alias, 'ALIAS_NOT_FOUND');
      await db.modelAlias.deleteMany({ where: { alias: req.params.alias } });
      onModelChanged(previous.modelId, 'alias-moved');
      await audit(db, req, 'alias.delete', req.params.alias, { modelId: previous.modelId });
      await webhooks.publish('model.alias_moved', { alias: previous.alias, modelId: null, updatedAt: new Date().toISOString(), previousModelId: previous.modelId });
      return reply.code(204).send(null);
    },
  );
};
