// Streams an artifact from the store as a response: its length, an ETag (the content's sha256 where
// the store knows it), 304 for a matching If-None-Match, and `Cache-Control: immutable` for content
// that never changes once written (a model's files, a dataset's preview, a job's predictions). A
// missing object is a 404 FILE_NOT_FOUND (the row outlived its files), never a 500 from a stream.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../shared/errors.js';
import type { ArtifactStore } from '../storage/index.js';

export interface SendObjectOptions {
  type: string;
  /** The message of the 404 when the object is gone. */
  missing: string;
  /** The content never changes under this key: clients and proxies may keep it for a year. */
  immutable?: boolean;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';

export async function sendObject(req: FastifyRequest, reply: FastifyReply, store: ArtifactStore, key: string, opts: SendObjectOptions): Promise<FastifyReply> {
  let object: Awaited<ReturnType<ArtifactStore['get']>>;
  try {
    object = await store.get(key);
  } catch (err) {
    if ((err as AppError).code === 'FILE_NOT_FOUND') throw new AppError('FILE_NOT_FOUND', opts.missing);
    throw err;
  }
  const { info, body } = object;
  const etag = `"${info.etag}"`;
  reply.header('etag', etag).header('cache-control', opts.immutable ? IMMUTABLE : 'no-cache');
  const match = req.headers['if-none-match'];
  if (match?.split(',').some((t) => [etag, `W/${etag}`, '*'].includes(t.trim()))) {
    body.destroy();
    return reply.code(304).send();
  }
  return reply.type(opts.type).header('content-length', info.size).send(body);
}
