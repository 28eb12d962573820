// Route group /v1/api-keys (admin): run-time keys. The secret is answered once, at creation; only its
// keyed hash is stored. Revoking takes effect on the next request everywhere (keys are not cached).
import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiKey as ApiKeyRow } from '../../generated/prisma/client.js';
import { notFound } from '../../shared/errors.js';
import { ROLES, hashSecret, newSecret, type Auth } from '../auth.js';
import { audit } from '../audit.js';
import { afterCursor, pageOrder, toPage } from '../../shared/pagination.js';
import { IdParams, PageQuery, errors, page } from '../schemas.js';
import type { AppDeps } from '../app.js';

const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)), { description: 'read < predict < submit < admin; each includes the ones before' });
const ApiKey = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    role: RoleSchema,
    createdBy: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Updated at most once a minute' }),
    revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { $id: 'ApiKey', title: 'ApiKey' },
);
const CreatedKey = Type.Intersect([Type.Ref('ApiKey'), Type.Object({ secret: Type.String({ description: 'Shown this once: send it as Authorization: Bearer <secret>' }) })]);

const toApi = (k: ApiKeyRow) => ({
  id: k.id,
  name: k.name,
  role: k.role,
  createdBy: k.createdBy,
  createdAt: k.createdAt.toISOString(),
  lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
  revokedAt: k.revokedAt?.toISOString() ?? null,
});

export const apiKeysRoutes: FastifyPluginAsyncTypebox<AppDeps & { auth: Auth }> = async (app, { db, config, auth }) => {
  app.addSchema(ApiKey);
  app.post(
    '/v1/api-keys',
    {
      schema: {
        operationId: 'createApiKey',
        tags: ['api-keys'],
        summary: 'Create an API key',
        description: 'Answers the secret once; store it, it cannot be shown again.',
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[\\p{L}\\p{N} ._:@/-]+$' }), role: RoleSchema },
          { additionalProperties: false },
        ),
        response: { 201: CreatedKey, ...errors(401, 403) },
      },
    },
    async (req, reply) => {
      const secret = newSecret();
      const row = await db.apiKey.create({
        data: { id: randomUUID(), name: req.body.name, role: req.body.role, secretHash: hashSecret(secret, config.API_KEY_PEPPER), createdBy: req.principal.id },
      });
      auth.keyCreated();
      await audit(db, req, 'api-key.create', row.id, { name: row.name, role: row.role });
      return reply.code(201).header('location', `/v1/api-keys/${row.id}`).send({ ...toApi(row), secret });
    },
  );

  app.get(
    '/v1/api-keys',
    {
      schema: { operationId: 'listApiKeys', tags: ['api-keys'], summary: 'List API keys (never their secrets), newest first', querystring: Type.Object(PageQuery), response: { 200: page(Type.Ref('ApiKey')), ...errors(401, 403) } },
    },
    async (req) => {
      const { limit, cursor } = req.query;
      const rows = await db.apiKey.findMany({ where: afterCursor(cursor), orderBy: pageOrder, take: limit + 1 });
      return toPage(rows, limit, toApi);
    },
  );

  app.delete(
    '/v1/api-keys/:id',
    {
      schema: { operationId: 'revokeApiKey', tags: ['api-keys'], summary: 'Revoke an API key, at once', params: IdParams, response: { 204: Type.Null(), ...errors(401, 403, 404) } },
    },
    async (req, reply) => {
      const { count } = await db.apiKey.updateMany({ where: { id: req.params.id, revokedAt: null }, data: { revokedAt: new Date() } });
      if (count === 0 && !(await db.apiKey.findUnique({ where: { id: req.params.id } }))) throw notFound('API key', req.params.id, 'API_KEY_NOT_FOUND');
      await audit(db, req, 'api-key.revoke', req.params.id);
      return reply.code(204).send(null);
    },
  );
};
