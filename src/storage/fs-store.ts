// The `fs` artifact store: object `a/b/c` is the file DATA_DIR/a/b/c, as the layout has always been,
// so a single machine needs nothing more. A write goes to a temporary file under DATA_DIR/tmp/store
// and is renamed into place: a reader sees the old object or the new one, never half of one.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, constants, copyFile, mkdir, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  assertKey,
  assertPrefix,
  notFoundError,
  unavailable,
  type ArtifactStore,
  type Body,
  type ObjectInfo,
  type PutOptions,
} from './store.js';

const isMissing = (err: unknown) => ['ENOENT', 'ENOTDIR', 'EISDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

export class FsStore implements ArtifactStore {
  readonly kind = 'fs' as const;
  readonly location: string;
  private readonly tmpDir: string;

  constructor(readonly root: string) {
    this.location = path.resolve(root);
    this.tmpDir = path.join(this.location, 'tmp', 'store');
  }

  url(key: string): string {
    return path.join(this.location, key);
  }

  localPath(key: string): string {
    assertKey(key);
    return path.join(this.location, key);
  }

  private info(key: string, st: { size: number; mtime: Date; ino: number }, sha256?: string): ObjectInfo {
    // Size, inode and mtime change with every write (a write is a rename of a new file): a strong
    // validator without reading the file.
    const etag = `${st.size.toString(16)}-${st.ino.toString(16)}-${st.mtime.getTime().toString(16)}`;
    return { key, size: st.size, lastModified: st.mtime, etag, ...(sha256 ? { sha256 } : {}) };
  }

  /** Writes `body` to a temporary file, hashing on the way, and renames it onto `key`. */
  private async write(key: string, body: Body): Promise<ObjectInfo> {
    const final = this.localPath(key);
    const tmp = path.join(this.tmpDir, randomUUID());
    await mkdir(this.tmpDir, { recursive: true });
    const h = createHash('sha256');
    try {
      if (typeof body === 'string' || body instanceof Uint8Array) {
        h.update(body);
        await writeFile(tmp, body);
      } else {
        const hash = new Transform({
          transform(chunk, _enc, cb) {
            h.update(chunk as Buffer);
            cb(null, chunk);
          },
        });
        await pipeline(body, hash, createWriteStream(tmp));
      }
      await mkdir(path.dirname(final), { recursive: true });
      await rename(tmp, final);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return this.info(key, await stat(final), h.digest('hex'));
  }

  async put(key: string, body: Body): Promise<ObjectInfo> {
    assertKey(key);
    return this.write(key, body);
  }

  async putFile(key: string, file: string, opts: PutOptions = {}): Promise<ObjectInfo> {
    assertKey(key);
    const final = this.localPath(key);
    if (path.resolve(file) === final) return this.info(key, await stat(file));
    if (opts.move) {
      // Scratch files under DATA_DIR: a rename, as the layout always did, not a copy.
      await mkdir(path.dirname(final), { recursive: true });
      try {
        await rename(file, final);
        return this.info(key, await stat(final));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      }
    }
    return this.write(key, createReadStream(file));
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const st = await stat(this.localPath(key));
      return st.isFile() ? this.info(key, st) : null;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async get(key: string): Promise<{ info: ObjectInfo; body: Readable }> {
    const info = await this.head(key);
    if (!info) throw notFoundError(key);
    return { info, body: createReadStream(this.localPath(key)) };
  }

  async getToFile(key: string, file: string): Promise<ObjectInfo> {
    const info = await this.head(key);
    if (!info) throw notFoundError(key);
    const tmp = `${file}.tmp-${randomUUID()}`;
    await mkdir(path.dirname(file), { recursive: true });
    try {
      await copyFile(this.localPath(key), tmp);
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      if (isMissing(err)) throw notFoundError(key);
      throw err;
    }
    return info;
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertPrefix(prefix);
    // Walk only the directory the prefix names (`models/ab` walks models/ and filters).
    const dirKey = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const out: ObjectInfo[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(path.join(this.location, rel), { withFileTypes: true });
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      for (const e of entries) {
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (!key.startsWith(prefix) && !prefix.startsWith(`${key}/`)) continue;
        if (e.isDirectory()) await walk(key);
        else if (e.isFile() && key.startsWith(prefix)) {
          const st = await stat(path.join(this.location, key)).catch(() => null);
          if (st) out.push(this.info(key, st));
        }
      }
    };
    await walk(dirKey);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await unlink(this.localPath(key)).catch((err) => {
      if (!isMissing(err)) throw err;
    });
  }

  async deletePrefix(prefix: string): Promise<number> {
    const objects = await this.list(prefix);
    await Promise.all(objects.map((o) => this.delete(o.key)));
    // A prefix naming a directory (`checkpoints/<id>/`) takes the directory with it.
    if (prefix.endsWith('/')) await rm(path.join(this.location, prefix), { recursive: true, force: true });
    return objects.length;
  }

  async check(): Promise<void> {
    try {
      await mkdir(this.tmpDir, { recursive: true });
      await access(this.location, constants.W_OK);
    } catch (err) {
      throw unavailable(this.location, `${(err as Error).message} (DATA_DIR must be a writable directory)`);
    }
  }

  async close(): Promise<void> {}
}
