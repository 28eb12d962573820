// The local artifact cache of a process: objects read from a remote store are kept under
// DATA_DIR/cache/sha256/<hash>, keyed by their content's sha256 (artifacts never change once
// written, and the same bytes under two keys are kept once), bounded by ARTIFACT_CACHE_MAX_BYTES with
// the least recently used evicted. A worker that trains twice on one dataset downloads it once.
//
// Readers get a directory of hard links to cached files (`materialize`): a link keeps its file
// readable after eviction unlinks the cached name, so eviction never breaks a reader, and a view
// costs no copy. With the fs store there is nothing to cache: the store's own directory is the view.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, readdir, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../shared/errors.js';
import { notFoundError, type ArtifactStore, type ObjectInfo } from './store.js';

export interface CacheStats {
  hits: number;
  misses: number;
  /** Bytes downloaded from the store into the cache. */
  downloadedBytes: number;
  evictions: number;
  bytes: number;
  entries: number;
}

export interface View {
  /** A local directory holding the objects under the prefix, by their names relative to it. */
  dir: string;
  /** Removes the view (not the cached files). A no-op for the fs store's own directory. */
  release(): Promise<void>;
}

export class ArtifactCache {
  private readonly dir: string;
  private readonly viewsDir: string;
  /** hash → size and last use; a Map iterates in insertion order, so re-inserting on use keeps LRU order. */
  private readonly entries = new Map<string, { size: number; used: number }>();
  private total = 0;
  private readonly inflight = new Map<string, Promise<string>>();
  /** Hashes being linked into a view right now: never evicted under a reader's feet. */
  private readonly pinned = new Map<string, number>();
  private ready: Promise<void> | undefined;
  readonly stats: CacheStats = { hits: 0, misses: 0, downloadedBytes: 0, evictions: 0, bytes: 0, entries: 0 };

  constructor(
    readonly store: ArtifactStore,
    dataDir: string,
    readonly maxBytes: number,
  ) {
    this.dir = path.join(dataDir, 'cache', 'sha256');
    this.viewsDir = path.join(dataDir, 'tmp', 'views');
  }

  /** Indexes what earlier runs left in the cache, oldest use first (from the files' mtimes). */
  private init(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.dir, { recursive: true });
      const found: { hash: string; size: number; used: number }[] = [];
      for (const name of await readdir(this.dir)) {
        if (!/^[0-9a-f]{64}$/.test(name)) {
          await rm(path.join(this.dir, name), { force: true, recursive: true }); // an interrupted download
          continue;
        }
        const st = await stat(path.join(this.dir, name)).catch(() => null);
        if (st) found.push({ hash: name, size: st.size, used: st.mtimeMs });
      }
      found.sort((a, b) => a.used - b.used);
      for (const f of found) this.add(f.hash, f.size, f.used);
      await this.evict();
    })();
    return this.ready;
  }

  private add(hash: string, size: number, used = Date.now()) {
    const old = this.entries.get(hash);
    if (old) {
      this.total -= old.size;
      this.entries.delete(hash);
    }
    this.entries.set(hash, { size, used });
    this.total += size;
    this.refreshStats();
  }

  private refreshStats() {
    this.stats.bytes = this.total;
    this.stats.entries = this.entries.size;
  }

  private async evict(keep?: string): Promise<void> {
    for (const [hash, e] of this.entries) {
      if (this.total <= this.maxBytes) break;
      if (hash === keep || this.pinned.has(hash)) continue;
      this.entries.delete(hash);
      this.total -= e.size;
      this.stats.evictions++;
      await unlink(path.join(this.dir, hash)).catch(() => {});
    }
    this.refreshStats();
  }

  /**
   * Links (or copies) `key`'s content from the cache to `dest`, downloading it on a miss. `known`
   * (a head's info) spares a HEAD request.
   */
  async fetchTo(key: string, dest: string, known?: Pick<ObjectInfo, 'sha256' | 'etag'>): Promise<void> {
    await mkdir(path.dirname(dest), { recursive: true });
    if (this.store.localPath) return linkOrCopy(this.store.localPath(key), dest);
    await this.init();
    const info = known ?? (await this.store.head(key));
    if (!info) throw notFoundError(key);
    // Objects written by other tools have no sha256: they are cached under a hash of key and ETag.
    const hash = info.sha256 ?? createHash('sha256').update(`${key}\0${info.etag}`).digest('hex');
    this.pinned.set(hash, (this.pinned.get(hash) ?? 0) + 1);
    try {
      for (let attempt = 0; ; attempt++) {
        const file = await this.file(key, hash, info.sha256);
        try {
          return await linkOrCopy(file, dest);
        } catch (err) {
          // Evicted meanwhile by another process sharing this cache: fetch it again, once.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw err;
          this.forget(hash);
        }
      }
    } finally {
      const n = this.pinned.get(hash)! - 1;
      if (n === 0) this.pinned.delete(hash);
      else this.pinned.set(hash, n);
      // An object larger than the bound stays only while it is being linked.
      if (this.total > this.maxBytes) await this.evict();
    }
  }

  private forget(hash: string) {
    const e = this.entries.get(hash);
    if (!e) return;
    this.entries.delete(hash);
    this.total -= e.size;
    this.refreshStats();
  }

  /** The cached file of `hash`, downloading `key` on a miss (one download however many ask at once). */
  private async file(key: string, hash: string, sha256: string | undefined): Promise<string> {
    const file = path.join(this.dir, hash);
    const st = await stat(file).catch(() => null);
    if (st?.isFile()) {
      this.stats.hits++;
      this.add(hash, st.size);
      const now = new Date();
      await utimes(file, now, now).catch(() => {}); // the LRU order for the next process
      return file;
    }
    let pending = this.inflight.get(hash);
    if (!pending) {
      pending = this.download(key, hash, sha256).finally(() => this.inflight.delete(hash));
      this.inflight.set(hash, pending);
    }
    return pending;
  }

  private async download(key: string, hash: string, sha256: string | undefined): Promise<string> {
    this.stats.misses++;
    const file = path.join(this.dir, hash);
    const tmp = path.join(this.dir, `.tmp-${randomUUID()}`);
    const h = createHash('sha256');
    let size = 0;
    try {
      const { body } = await this.store.get(key);
      await pipeline(
        body,
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            h.update(chunk);
            size += chunk.length;
            cb(null, chunk);
          },
        }),
        createWriteStream(tmp),
      );
      const got = h.digest('hex');
      if (sha256 && got !== sha256) {
        throw new AppError('STORE_UNAVAILABLE', `Artifact ${key} arrived corrupted (sha256 ${got}, expected ${sha256})`);
      }
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    this.stats.downloadedBytes += size;
    this.add(hash, size);
    await this.evict(hash);
    return file;
  }

  /**
   * A local directory with every object under `prefix` (which ends with `/`), named by the rest of
   * its key: what src/ml's loaders read (a dataset, a model, a checkpoint). Release it when done.
   */
  async materialize(prefix: string): Promise<View> {
    if (!prefix.endsWith('/')) throw new Error(`materialize takes a prefix ending with /: ${prefix}`);
    if (this.store.localPath) {
      const dir = this.store.localPath(prefix.slice(0, -1));
      const st = await stat(dir).catch(() => null);
      if (!st?.isDirectory()) throw notFoundError(prefix);
      return { dir, release: async () => {} };
    }
    const objects = await this.store.list(prefix);
    if (objects.length === 0) throw notFoundError(prefix);
    const dir = path.join(this.viewsDir, randomUUID());
    try {
      await Promise.all(
        objects.map(async (o) => {
          // list() gives no sha256: head each object (the cache key), then link its cached file.
          await this.fetchTo(o.key, path.join(dir, o.key.slice(prefix.length)));
        }),
      );
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    return { dir, release: () => rm(dir, { recursive: true, force: true }) };
  }
}

async function linkOrCopy(src: string, dest: string): Promise<void> {
  await rm(dest, { force: true });
  try {
    await link(src, dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw err;
    await copyFile(src, dest); // another file system, or links not allowed
  }
}
