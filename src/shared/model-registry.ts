// Naming models: by id, by the built-in alias `latest` (the newest model), or by a user alias.
import type { Model } from '../generated/prisma/client.js';
import type { Db } from './db.js';
import { AppError } from './errors.js';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const ALIAS_RE = /^[a-z][a-z0-9_-]{0,62}$/;
export const RESERVED_ALIASES = ['latest'];

export async function resolveModel(db: Db, ref: string): Promise<Model> {
  let model: Model | null = null;
  if (UUID_RE.test(ref)) {
    model = await db.model.findUnique({ where: { id: ref } });
  } else if (ref === 'latest') {
    model = await db.model.findFirst({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
  } else {
    model = (await db.modelAlias.findUnique({ where: { alias: ref }, include: { model: true } }))?.model ?? null;
  }
  if (!model) {
    throw new AppError('MODEL_NOT_FOUND', ref === 'latest' ? 'No model has been trained yet' : `No model with id or alias "${ref}"`);
  }
  return model;
}
