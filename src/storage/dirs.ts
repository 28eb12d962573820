// Artifacts made of several files (a dataset, a model, a checkpoint) move between a local directory,
// where src/ml reads and writes them, and a prefix of the store. The file that commits the set is
// uploaded last, so that a reader who finds it finds the rest.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { getJson } from './store.js';
import type { ArtifactStore, ObjectInfo } from './store.js';
import type { ArtifactCache, View } from './cache.js';

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.jsonl': 'application/x-ndjson',
};
export const contentTypeOf = (name: string) => CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream';

async function filesUnder(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await filesUnder(dir, r)));
    else if (e.isFile()) out.push(r);
  }
  return out.sort();
}

/**
 * Uploads every file of `dir` under `prefix` (ending with `/`), `last` after all the others. `move`:
 * `dir` is scratch, and the fs store renames its files into place. Returns the objects written.
 */
export async function putDir(store: ArtifactStore, dir: string, prefix: string, opts: { last?: string; move?: boolean } = {}): Promise<ObjectInfo[]> {
  const { last, move } = opts;
  const files = await filesUnder(dir);
  const put = (f: string) => store.putFile(prefix + f, path.join(dir, f), { contentType: contentTypeOf(f), move });
  const infos = await Promise.all(files.filter((f) => f !== last).map(put));
  if (last && files.includes(last)) infos.push(await put(last));
  return infos;
}

/**
 * A set of files replaced as a whole, such as a run's checkpoint: each save goes under a fresh
 * `prefix/<generation>/`, then the pointer `prefix/current.json` names it, then older generations are
 * deleted. A reader follows the pointer, so it sees one complete generation or none, whatever crashed
 * where.
 */
export const POINTER = 'current.json';

export async function saveGeneration(store: ArtifactStore, prefix: string, dir: string, opts: { move?: boolean } = {}): Promise<string> {
  const generation = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  await putDir(store, dir, `${prefix}${generation}/`, opts);
  await store.put(prefix + POINTER, JSON.stringify({ generation }), { contentType: 'application/json' });
  // Older generations, and any a crash left half-written, go once the pointer has moved on.
  const stale = new Set((await store.list(prefix)).map((o) => o.key.slice(prefix.length).split('/')[0]!).filter((g) => g !== POINTER && g !== generation));
  await Promise.all([...stale].map((g) => store.deletePrefix(`${prefix}${g}/`)));
  return generation;
}

/** The current generation under `prefix` as a local directory, or null when there is none. */
export async function openGeneration(store: ArtifactStore, cache: ArtifactCache, prefix: string): Promise<View | null> {
  const pointer = await getJson<{ generation: string }>(store, prefix + POINTER).catch((err) => {
    if ((err as { code?: string }).code === 'FILE_NOT_FOUND') return null;
    throw err;
  });
  if (!pointer) return null;
  return cache.materialize(`${prefix}${pointer.generation}/`);
}
