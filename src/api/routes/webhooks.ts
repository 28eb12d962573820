// Route group /v1/webhooks: register receivers of events, see each delivery attempt, send a test.
import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Webhook as WebhookRow } from '../../generated/prisma/client.js';
import { notFound } from '../../shared/errors.js';
import { WEBHOOK_EVENTS, newSecret } from '../../webhooks/events.js';
import { checkWebhookUrl } from '../../webhooks/outbound.js';
import { outboundPolicy } from '../../shared/outbound.js';
import { afterCursor, pageOrder, toPage } from '../../shared/pagination.js';
import { IdParams, PageQuery, errors, page } from '../schemas.js';
import type { AppDeps } from '../app.js';

type EventName = (typeof WEBHOOK_EVENTS)[number];
const Event = Type.Unsafe<EventName>(Type.Union(WEBHOOK_EVENTS.map((e) => Type.Literal(e))));
const Webhook = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    url: Type.String(),
    events: Type.Array(Event),
    description: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Webhook', title: 'Webhook' },
);
const CreatedWebhook = Type.Object({
  id: Type.String({ format: 'uuid' }),
  url: Type.String(),
  events: Type.Array(Event),
  description: Type.Union([Type.String(), Type.Null()]),
  secret: Type.String({ description: 'whsec_…: verifies the webhook-signature of every delivery (Standard Webhooks). Shown once.' }),
  createdAt: Type.String({ format: 'date-time' }),
});
const Delivery = Type.Object({
  id: Type.String({ format: 'uuid' }),
  messageId: Type.String({ description: 'The webhook-id header: the same on every attempt of one message' }),
  event: Type.String(),
  attempt: Type.Integer({ minimum: 1 }),
  statusCode: Type.Union([Type.Integer(), Type.Null()], { description: "The receiver's answer; null when it gave none" }),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Why the attempt failed: timed out, ECONNREFUSED, …' }),
  durationMs: Type.Integer(),
  nextRetryAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'When the next attempt is due; null after success or the last attempt',
  }),
  createdAt: Type.String({ format: 'date-time' }),
});

const toApi = (w: WebhookRow) => ({ id: w.id, url: w.url, events: w.events as EventName[], description: w.description, createdAt: w.createdAt.toISOString() });

export const webhooksRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, { config, db, webhooks }) => {
  app.addSchema(Webhook);
  const getWebhook = async (id: string) => (await db.webhook.findUnique({ where: { id } })) ?? Promise.reject(notFound('Webhook', id, 'WEBHOOK_NOT_FOUND'));

  app.post(
    '/v1/webhooks',
    {
      schema: {
        operationId: 'createWebhook',
        tags: ['webhooks'],
        summary: 'Register a webhook',
        description: `Events are POSTed to \`url\` as \`{type, timestamp, data}\` with Standard Webhooks signatures; \`data\` is the job or model as GET returns it. Events: ${WEBHOOK_EVENTS.join(', ')}.`,
        body: Type.Object(
          {
            url: Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2000 }),
            events: Type.Array(Event, { minItems: 1, uniqueItems: true }),
            description: Type.Optional(Type.String({ maxLength: 500 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: CreatedWebhook, ...errors() },
      },
    },
    async (req, reply) => {
      const { url, events, description } = req.body;
      checkWebhookUrl(url, outboundPolicy(config));
      const row = await db.webhook.create({ data: { id: randomUUID(), url, events: events as string[], description, secret: newSecret() } });
      return reply
        .code(201)
        .header('location', `/v1/webhooks/${row.id}`)
        .send({ ...toApi(row), secret: row.secret });
    },
  );

  app.get(
    '/v1/webhooks',
    {
      schema: {
        operationId: 'listWebhooks',
        tags: ['webhooks'],
        summary: 'List webhooks, newest first',
        querystring: Type.Object(PageQuery),
        response: { 200: page(Type.Ref('Webhook')), ...errors() },
      },
    },
    async (req) => {
      const rows = await db.webhook.findMany({ where: afterCursor(req.query.cursor), orderBy: pageOrder, take: req.query.limit + 1 });
      return toPage(rows, req.query.limit, toApi);
    },
  );

  app.get(
    '/v1/webhooks/:id',
    {
      schema: { operationId: 'getWebhook', tags: ['webhooks'], summary: 'A webhook', params: IdParams, response: { 200: Type.Ref('Webhook'), ...errors(404) } },
    },
    async (req) => toApi(await getWebhook(req.params.id)),
  );

  app.delete(
    '/v1/webhooks/:id',
    {
      schema: {
        operationId: 'deleteWebhook',
        tags: ['webhooks'],
        summary: 'Delete a webhook (its pending deliveries are dropped)',
        params: IdParams,
        response: { 204: Type.Null(), ...errors(404) },
      },
    },
    async (req, reply) => {
      const { count } = await db.webhook.deleteMany({ where: { id: req.params.id } });
      if (count === 0) throw notFound('Webhook', req.params.id, 'WEBHOOK_NOT_FOUND');
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/webhooks/:id/test',
    {
      schema: {
        operationId: 'testWebhook',
        tags: ['webhooks'],
        summary: 'Send a webhook.test event to this webhook',
        params: IdParams,
        response: { 202: Type.Object({ messageId: Type.String() }), ...errors(404) },
      },
    },
    async (req, reply) => {
      const hook = await getWebhook(req.params.id);
      const [messageId] = await webhooks.publish(
        'webhook.test',
        { webhookId: hook.id, message: 'This is a test event from mnist-jobs' },
        { onlyWebhookId: hook.id },
      );
      if (!messageId) throw new Error('the test event could not be queued');
      return reply.code(202).send({ messageId });
    },
  );

  app.get(
    '/v1/webhooks/:id/deliveries',
    {
      schema: {
        operationId: 'listWebhookDeliveries',
        tags: ['webhooks'],
        summary: 'Delivery attempts of this webhook, newest first',
        params: IdParams,
        querystring: Type.Object(PageQuery),
        response: { 200: page(Delivery), ...errors(404) },
      },
    },
    async (req) => {
      const hook = await getWebhook(req.params.id);
      const rows = await db.webhookDelivery.findMany({
        where: { webhookId: hook.id, ...afterCursor(req.query.cursor) },
        orderBy: pageOrder,
        take: req.query.limit + 1,
        include: { message: { select: { event: true } } },
      });
      return toPage(rows, req.query.limit, (d) => ({
        id: d.id,
        messageId: d.messageId,
        event: d.message.event,
        attempt: d.attempt,
        statusCode: d.statusCode,
        error: d.error,
        durationMs: d.durationMs,
        nextRetryAt: d.nextRetryAt?.toISOString() ?? null,
        createdAt: d.createdAt.toISOString(),
      }));
    },
  );
};
