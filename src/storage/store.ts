// The artifact store: every file a job writes or reads (datasets, checkpoints, models, prediction
// files) is an object under a key such as `models/<id>/weights.bin`. Two implementations share this
// interface: `fs` (files under DATA_DIR, the default: one machine needs nothing more) and `s3` (any
// S3-compatible service, so workers on many machines share only the bucket).
//
// Atomicity, as a reader sees it: a single object is never visible half-written (fs: written under a
// temporary name, then renamed; s3: a PutObject or multipart upload appears only when complete, and a
// stream of unknown hash goes under a temporary key first). An artifact made of several objects is
// committed by the object or database row written last (a dataset's manifest.json, a checkpoint's
// pointer, a model's registry row), so a reader never follows a reference into a partial set.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { AppError } from '../shared/errors.js';

export interface ObjectInfo {
  /** The key, relative to the store's root (no S3_PREFIX). */
  key: string;
  size: number;
  lastModified: Date;
  /** A strong validator of the content, usable as an HTTP ETag (quoted). */
  etag: string;
  /** Hex sha256 of the content when the store recorded it at write time (s3 always, for objects it wrote). */
  sha256?: string;
  contentType?: string;
}

export type Body = Buffer | Uint8Array | string | Readable;

export interface PutOptions {
  contentType?: string;
  /** putFile: the source file is scratch; the fs store may move it into place instead of copying. */
  move?: boolean;
}

export interface ArtifactStore {
  readonly kind: 'fs' | 's3';
  /** Where the objects live, for logs and messages: a directory or s3://bucket/prefix. */
  readonly location: string;
  /** Writes an object from a buffer, a string or a stream, replacing any previous one. */
  put(key: string, body: Body, opts?: PutOptions): Promise<ObjectInfo>;
  /** Writes a local file as an object. */
  putFile(key: string, file: string, opts?: PutOptions): Promise<ObjectInfo>;
  /** Reads an object as a stream; FILE_NOT_FOUND when there is none. */
  get(key: string): Promise<{ info: ObjectInfo; body: Readable }>;
  /** Copies an object to a local file (written atomically); FILE_NOT_FOUND when there is none. */
  getToFile(key: string, file: string): Promise<ObjectInfo>;
  /** An object's metadata, or null when there is none. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Every object whose key starts with `prefix`, sorted by key (sha256 is not listed). */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Deletes an object; a missing one is not an error. */
  delete(key: string): Promise<void>;
  /** Deletes every object under `prefix`; returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /** Throws STORE_UNAVAILABLE, with a message saying why, when the store cannot be written. */
  check(): Promise<void>;
  /** Where a key lives, for rows and logs: a file path, or an s3:// URL. */
  url(key: string): string;
  /** fs only: the local file of a key, so that readers on this machine need no copy. */
  localPath?(key: string): string;
  close(): Promise<void>;
}

/** Keys are relative, `/`-separated, without empty, `.` or `..` segments (they become file paths). */
export function assertKey(key: string): void {
  if (
    typeof key !== 'string' ||
    key.length === 0 ||
    key.length > 1000 ||
    key.startsWith('/') ||
    key.includes('\\') ||
    key.includes('\0') ||
    key.split('/').some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw new AppError('INVALID_KEY', `Not a valid artifact key: ${JSON.stringify(key)}`);
  }
}

/** Prefixes follow the key rules but may be empty or end with `/`. */
export function assertPrefix(prefix: string): void {
  if (prefix === '') return;
  assertKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

export const notFoundError = (key: string) => new AppError('FILE_NOT_FOUND', `No artifact ${key} in the store`);

export const unavailable = (location: string, why: string, details?: unknown) =>
  new AppError('STORE_UNAVAILABLE', `The artifact store ${location} is unavailable: ${why}`, details);

export const sha256Of = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

export async function sha256OfFile(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Reads a whole object (small ones: manifests, pointers, JSON). */
export async function getBuffer(store: ArtifactStore, key: string): Promise<Buffer> {
  const { body } = await store.get(key);
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function getJson<T>(store: ArtifactStore, key: string): Promise<T> {
  return JSON.parse((await getBuffer(store, key)).toString('utf8')) as T;
}
