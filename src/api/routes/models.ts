// Route group /v1/models: the model registry (trained models, lineage, aliases).
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError, notFound } from '../../shared/errors.js';
import { ALIAS_RE, RESERVED_ALIASES } from '../../shared/model-registry.js';
import { toApiModel as toApi } from '../../shared/model-rows.js';
import { afterCursor, pageOrder, toPage } from '../../shared/pagination.js';
import { IdParams, PageQuery, errors, page } from '../schemas.js';
import type { AppDeps } from '../app.js';
import { sendObject } from '../send-object.js';
import { modelPrefix } from '../../storage/keys.js';
import { getBuffer } from '../../storage/index.js';
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


export const modelsRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, { db, store, onModelChanged, webhooks }) => {
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
        // A model's files never change once its row exists: cacheable for good.
        return sendObject(req, reply, store, modelPrefix(model.id) + file.name, { type: file.type, immutable: true, missing: `Model ${model.id} has no ${file.name}` });
      },
    );
  }

  // ---- ONNX export (issue 16) ------------------------------------------------------------------
  // Converted from the saved files on each request (a few ms; no TensorFlow.js in the API), with the
  // model's provenance and input normalization in the ONNX metadata_props.
  app.get(
    '/v1/models/:id/model.onnx',
    {
      schema: {
        operationId: 'getModelOnnx',
        tags: ['models'],
        summary: 'The model as ONNX (opset 13): input float32 [N,28,28,1] normalized as metadata `normalization` says, output probabilities [N, classes]',
        params: IdParams,
        response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'application/octet-stream (ONNX ModelProto)' }), ...errors(404, 422) },
      },
    },
    async (req, reply) => {
      const model = await db.model.findUnique({ where: { id: req.params.id } });
      if (!model) throw notFound('Model', req.params.id, 'MODEL_NOT_FOUND');
      const { exportOnnx, OnnxExportError } = await import('../../ml/export-onnx.js');
      const read = (name: string) => getBuffer(store, `${modelPrefix(model.id)}${name}`).catch(() => Promise.reject(new AppError('FILE_NOT_FOUND', `Model ${model.id} has no ${name}`)));
      const modelJson = JSON.parse((await read('model.json')).toString('utf8'));
      const shards = await Promise.all((modelJson.weightsManifest as { paths: string[] }[]).flatMap((g) => g.paths).map((p) => read(p.split('/').pop() ?? p)));
      const calibration = (model.metrics as { calibration?: { temperature?: number } } | null)?.calibration;
      let bytes: Uint8Array;
      try {
        bytes = exportOnnx({ modelJson, weightData: Buffer.concat(shards) }, {
          docString: `mnist-jobs model ${model.id} (${model.architecture})`,
          metadata: {
            modelId: model.id,
            jobId: model.jobId,
            datasetId: model.datasetId,
            architecture: model.architecture,
            normalization: JSON.stringify(model.normalization),
            classes: JSON.stringify(Array.from({ length: model.numClasses }, (_, i) => i)),
            inputShape: JSON.stringify(model.inputShape),
            ...(calibration?.temperature ? { temperature: String(calibration.temperature) } : {}),
          },
        });
      } catch (err) {
        if (err instanceof OnnxExportError) throw new AppError(err.code, err.message);
        throw err;
      }
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${model.id}.onnx"`)
        .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
  );

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
      // The row goes only once the files are gone (in one transaction): a store that cannot delete
      // (a read-only disk, a bucket away) leaves row and files as they were and answers 503.
      await db.$transaction(async (tx) => {
        await tx.model.delete({ where: { id: model.id } });
        try {
          await store.deletePrefix(modelPrefix(model.id));
        } catch (err) {
          req.log.error({ err, modelId: model.id }, 'model files cannot be deleted: delete refused');
          throw new AppError('STORE_UNAVAILABLE', `The files of model ${model.id} cannot be removed; nothing was deleted`);
        }
      });
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
