// The web dashboard: the built files of web/ (`npm run web:build`, run by `npm ci`) under /ui/, with
// history routing (a client route such as /ui/jobs/<id> is answered with index.html), and / → /ui/.
// Open without an API key (the /ui prefix and / are `open` in src/api/auth.ts): the page asks for a key.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

export const UI_DIR = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

export const uiRoutes: FastifyPluginAsync = async (app) => {
  const hide = { schema: { hide: true } };
  app.get('/', hide, async (_req, reply) => reply.redirect('/ui/'));
  app.get('/ui', hide, async (_req, reply) => reply.redirect('/ui/'));

  if (!existsSync(`${UI_DIR}index.html`)) {
    app.get('/ui/*', hide, async (_req, reply) =>
      reply.code(404).send({ error: { code: 'UI_NOT_BUILT', message: 'The web UI is not built: run `npm run web:build`' } }),
    );
    return;
  }
  const index = await readFile(`${UI_DIR}index.html`);
  await app.register(fastifyStatic, {
    root: UI_DIR,
    prefix: '/ui/',
    wildcard: false, // one route per built file; the wildcard below answers the client routes
    index: false,
    decorateReply: false,
    // Vite names assets by content hash, so they never change under a name.
    setHeaders: (reply, file) => reply.header('cache-control', file.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'),
  });
  const sendIndex = async (_req: unknown, reply: FastifyReply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(index);
  app.get('/ui/', hide, sendIndex);
  app.get('/ui/*', hide, async (req, reply) => {
    // A missing file (it has an extension) is a 404, not the app: a stale asset must not load HTML.
    if (/\.[a-z0-9]+$/i.test(req.url.split('?')[0]!)) {
      return reply.code(404).send({ error: { code: 'ROUTE_NOT_FOUND', message: `No file ${req.url.split('?')[0]}` } });
    }
    return sendIndex(req, reply);
  });
};
