// The queue UI: bull-board at /admin/queues, over every job queue and the webhook deliveries.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyPluginAsync } from 'fastify';
import type { AppDeps } from '../app.js';

export const QUEUE_UI_PATH = '/admin/queues';

export const queueUiRoutes: FastifyPluginAsync<AppDeps> = async (app, { queues, webhooks }) => {
  // Admin role only: /admin/queues is in src/api/auth.ts's PREFIX_ROLES.
  // bull-board's own routes (its UI and its JSON API) are not part of this service's contract.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
  });
  const adapter = new FastifyAdapter();
  adapter.setBasePath(QUEUE_UI_PATH);
  createBullBoard({
    queues: [...Object.values(queues), webhooks.queue].filter(Boolean).map((q) => new BullMQAdapter(q)),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'mnist-jobs queues' } },
  });
  await app.register(adapter.registerPlugin(), { prefix: QUEUE_UI_PATH });
};
