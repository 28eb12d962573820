// Streams a file under DATA_DIR as a response, with its length; a file missing from disk is a 404
// with code FILE_NOT_FOUND (the row outlived its files), never a 500 from a failing stream.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyReply } from 'fastify';
import { AppError } from '../shared/errors.js';

export async function sendFile(reply: FastifyReply, file: string, type: string, missing: string): Promise<FastifyReply> {
  const size = await stat(file).then((st) => (st.isFile() ? st.size : undefined), () => undefined);
  if (size === undefined) throw new AppError('FILE_NOT_FOUND', missing);
  return reply.type(type).header('content-length', size).send(createReadStream(file));
}
