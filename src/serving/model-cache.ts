// LRU cache of loaded models, keyed by model id (aliases are resolved by the caller). Bounded by
// entry count and optionally by bytes; concurrent get()s of one id share one load; evicted values
// are disposed. Generic so the predictor can cache a model together with its batcher.

export interface ModelCacheOptions<T> {
  load: (id: string) => Promise<T>;
  /** Most entries kept (loading ones included). */
  maxEntries: number;
  /** Most bytes kept, as measured by sizeOf; loading entries count once loaded. Default unbounded. */
  maxBytes?: number;
  sizeOf?: (value: T) => number;
  /** Frees an evicted or invalidated value. Default: calls value.dispose() when there is one. */
  dispose?: (value: T, id: string) => void | Promise<void>;
  /** Told about a failed dispose, which is otherwise swallowed (eviction must not fail a get()). */
  onDisposeError?: (err: unknown, id: string) => void;
}

/** get() on a closed cache, or a load that finished after close(). */
export class CacheClosedError extends Error {
  readonly code = 'CACHE_CLOSED';
  constructor() {
    super('model cache is closed');
    this.name = 'CacheClosedError';
  }
}

interface Entry<T> {
  promise: Promise<T>;
  value?: T;
  loaded: boolean;
  bytes: number;
}

function defaultDispose(value: unknown): void {
  const d = (value as { dispose?: unknown } | null)?.dispose;
  if (typeof d === 'function') d.call(value);
}

export class ModelCache<T> {
  private readonly opts: ModelCacheOptions<T>;
  /** Map order is recency order: oldest first. */
  private readonly entries = new Map<string, Entry<T>>();
  private totalBytes = 0;
  private closed = false;
  private disposals = new Set<Promise<void>>();

  constructor(opts: ModelCacheOptions<T>) {
    if (!(Number.isInteger(opts.maxEntries) && opts.maxEntries > 0)) throw new RangeError('maxEntries must be a positive integer');
    this.opts = opts;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Bytes held by loaded entries, as measured by sizeOf. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Ids cached or loading, least recently used first. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** The loaded value for `id` without loading it or changing its recency. */
  peek(id: string): T | undefined {
    const entry = this.entries.get(id);
    return entry?.loaded ? entry.value : undefined;
  }

  /** The loaded value for `id`, loading it once however many callers ask at the same time. */
  get(id: string): Promise<T> {
    if (this.closed) return Promise.reject(new CacheClosedError());
    const hit = this.entries.get(id);
    if (hit) {
      this.entries.delete(id);
      this.entries.set(id, hit);
      return hit.promise;
    }
    const entry: Entry<T> = { promise: undefined as unknown as Promise<T>, loaded: false, bytes: 0 };
    entry.promise = Promise.resolve()
      .then(() => this.opts.load(id))
      .then(
        (value) => {
          if (this.entries.get(id) !== entry) {
            // Invalidated (or the cache closed) while loading: this value is stale, so free it and
            // answer with a fresh load, which also reports a model that has since been deleted.
            this.disposeValue(value, id);
            return this.get(id);
          }
          entry.value = value;
          entry.loaded = true;
          entry.bytes = this.opts.sizeOf?.(value) ?? 0;
          this.totalBytes += entry.bytes;
          this.evict();
          return value;
        },
        (err: unknown) => {
          // A failed load is not cached: the next get() tries again.
          if (this.entries.get(id) === entry) this.entries.delete(id);
          throw err;
        },
      );
    this.entries.set(id, entry);
    this.evict();
    return entry.promise;
  }

  /** Drops `id` (disposing it once loaded); a load in progress is redone for its waiters. */
  invalidate(id: string): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.remove(id, entry);
    return true;
  }

  /** Disposes everything and refuses further get()s; resolves when every dispose has finished. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [id, entry] of [...this.entries]) this.remove(id, entry);
    await Promise.all(this.disposals);
  }

  private remove(id: string, entry: Entry<T>): void {
    this.entries.delete(id);
    if (entry.loaded) {
      this.totalBytes -= entry.bytes;
      this.disposeValue(entry.value as T, id);
    }
  }

  /**
   * Evicts least recently used loaded entries until within bounds. The most recently used entry is
   * never evicted (it is being handed to a caller), nor are loading ones, so the bounds may be
   * exceeded briefly.
   */
  private evict(): void {
    const maxBytes = this.opts.maxBytes ?? Infinity;
    if (this.entries.size <= this.opts.maxEntries && this.totalBytes <= maxBytes) return;
    const ids = [...this.entries.keys()];
    for (let i = 0; i < ids.length - 1; i++) {
      if (this.entries.size <= this.opts.maxEntries && this.totalBytes <= maxBytes) break;
      const entry = this.entries.get(ids[i])!;
      if (entry.loaded) this.remove(ids[i], entry);
    }
  }

  private disposeValue(value: T, id: string): void {
    const dispose = this.opts.dispose ?? defaultDispose;
    const p = (async () => {
      try {
        await dispose(value, id);
      } catch (err) {
        this.opts.onDisposeError?.(err, id);
      }
    })();
    this.disposals.add(p);
    void p.finally(() => this.disposals.delete(p));
  }
}
