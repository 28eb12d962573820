// Micro-batching: concurrent predict calls are concatenated into one model call, because one call
// on 64 rows costs far less than 64 calls on one row (kernel dispatch and per-call overhead dominate
// small inputs). A batch leaves when `maxBatch` rows are queued, when the window since the first
// queued row closes, or, under load, as soon as the previous run finishes: rows that arrived while
// it ran have already waited, so the batch size grows with load instead of the latency.
// With several runs allowed at once (one per inference thread), a batch takes at most its share of
// the rows waiting or running: 64 queued rows and two threads make two batches of 32 that run side
// by side, not one of 64 that leaves the other thread idle.

export type RunBatch = (batch: Float32Array, rows: number) => Promise<Float32Array>;

export interface BatcherOptions {
  /** Runs the model on `rows` concatenated rows; resolves to rows × outputs values. */
  run: RunBatch;
  /** Values per input row (784 for MNIST). */
  rowSize: number;
  /** Most rows per run() call; bigger requests are split into pieces of this size. Default 64. */
  maxBatch?: number;
  /**
   * How long the first queued row waits for company when nothing is running. Default 0: it leaves
   * on the next event-loop turn with whatever arrived in this one. Under load batches form anyway
   * (rows queue while runs are busy), so a window only adds latency: measured with bench/predict.ts,
   * 2 ms took a lone client from ~1270 to ~310 requests/s and left 16 or 64 clients unchanged. While
   * another run is busy and a slot is free, rows leave at once too: waiting would idle a thread.
   */
  windowMs?: number;
  /**
   * run() calls allowed at once. Default 1: model calls are CPU-bound on the one JS thread; more
   * when run() hands the work to that many threads.
   */
  maxInFlight?: number;
  /** Rows allowed to wait; beyond it predict() fails fast with OverloadedError. Default unbounded. */
  maxQueueRows?: number;
  /** Told about every run() (rows, seconds inside it) and each request's wait before its run (seconds): metrics. */
  observe?: BatcherObserver;
}

export interface BatcherObserver {
  run(rows: number, seconds: number): void;
  waited(seconds: number): void;
}

/** predict() after close(): the caller should fetch a fresh batcher (e.g. the model was evicted). */
export class BatcherClosedError extends Error {
  readonly code = 'BATCHER_CLOSED';
  constructor() {
    super('batcher is closed');
    this.name = 'BatcherClosedError';
  }
}

/** The queue is full; callers should shed load (code OVERLOADED) rather than wait. */
export class OverloadedError extends Error {
  readonly code = 'OVERLOADED';
  constructor(queued: number, limit: number) {
    super(`prediction queue is full (${queued} rows waiting, limit ${limit})`);
    this.name = 'OverloadedError';
  }
}

export interface BatcherStats {
  /** run() calls made. */
  batches: number;
  /** Rows passed to run() in total. */
  rows: number;
  /** Largest batch so far. */
  maxRows: number;
  /** Time spent inside run() in total, ms (busyMs / batches = mean model call). */
  busyMs: number;
  /** Rows waiting now. */
  queuedRows: number;
}

interface Piece {
  x: Float32Array;
  rows: number;
  /** performance.now() when queued. */
  at: number;
  resolve(out: Float32Array): void;
  reject(err: unknown): void;
}

export class MicroBatcher {
  private readonly run: RunBatch;
  private readonly rowSize: number;
  private readonly maxBatch: number;
  private readonly windowMs: number;
  private readonly maxInFlight: number;
  private readonly maxQueueRows: number;
  private readonly observe: BatcherObserver | undefined;

  private queue: Piece[] = [];
  private queuedRows = 0;
  private inFlight = 0;
  private inFlightRows = 0;
  private timer: { kind: 'timeout'; handle: NodeJS.Timeout } | { kind: 'immediate'; handle: NodeJS.Immediate } | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly counters = { batches: 0, rows: 0, maxRows: 0, busyMs: 0 };

  constructor(opts: BatcherOptions) {
    this.run = opts.run;
    this.rowSize = opts.rowSize;
    this.maxBatch = opts.maxBatch ?? 64;
    this.windowMs = opts.windowMs ?? 0;
    this.maxInFlight = opts.maxInFlight ?? 1;
    this.maxQueueRows = opts.maxQueueRows ?? Infinity;
    this.observe = opts.observe;
    if (!(Number.isInteger(this.rowSize) && this.rowSize > 0)) throw new RangeError('rowSize must be a positive integer');
    if (!(Number.isInteger(this.maxBatch) && this.maxBatch > 0)) throw new RangeError('maxBatch must be a positive integer');
    if (!(this.windowMs >= 0)) throw new RangeError('windowMs must be >= 0');
    if (!(Number.isInteger(this.maxInFlight) && this.maxInFlight > 0)) throw new RangeError('maxInFlight must be a positive integer');
  }

  /**
   * Queues `rows` rows (x holds rows × rowSize values) and resolves to their rows × outputs results,
   * in order. The caller must not modify `x` until the promise settles.
   */
  predict(x: Float32Array, rows = x.length / this.rowSize): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new BatcherClosedError());
    if (!(Number.isInteger(rows) && rows > 0 && x.length === rows * this.rowSize)) {
      return Promise.reject(new RangeError(`expected ${rows} rows of ${this.rowSize} values, got ${x.length} values`));
    }
    if (this.queuedRows + rows > this.maxQueueRows) {
      return Promise.reject(new OverloadedError(this.queuedRows, this.maxQueueRows));
    }
    if (rows <= this.maxBatch) return new Promise((resolve, reject) => this.enqueue({ x, rows, at: performance.now(), resolve, reject }));

    // Large requests travel as several pieces, so they neither exceed maxBatch nor hold others back.
    const parts: Promise<Float32Array>[] = [];
    for (let r = 0; r < rows; r += this.maxBatch) {
      const n = Math.min(this.maxBatch, rows - r);
      const piece = x.subarray(r * this.rowSize, (r + n) * this.rowSize);
      parts.push(new Promise((resolve, reject) => this.enqueue({ x: piece, rows: n, at: performance.now(), resolve, reject })));
    }
    return Promise.all(parts).then((outs) => {
      const cols = outs[0].length / Math.min(this.maxBatch, rows);
      const all = new Float32Array(rows * cols);
      let offset = 0;
      for (const o of outs) {
        all.set(o, offset);
        offset += o.length;
      }
      return all;
    });
  }

  stats(): BatcherStats {
    return { ...this.counters, queuedRows: this.queuedRows };
  }

  /** Stops accepting rows; resolves once every queued row has run (they are sent without waiting). */
  close(): Promise<void> {
    this.closed = true;
    this.dispatch();
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private enqueue(p: Piece): void {
    this.queue.push(p);
    this.queuedRows += p.rows;
    if (this.queuedRows >= this.maxBatch) this.dispatch();
    else if (this.timer === undefined && this.inFlight < this.maxInFlight) this.startTimer();
  }

  private startTimer(): void {
    const fire = () => {
      this.timer = undefined;
      this.dispatch();
    };
    const wait = this.inFlight === 0 ? this.windowMs : 0;
    this.timer = wait === 0 ? { kind: 'immediate', handle: setImmediate(fire) } : { kind: 'timeout', handle: setTimeout(fire, wait) };
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    if (this.timer.kind === 'immediate') clearImmediate(this.timer.handle);
    else clearTimeout(this.timer.handle);
    this.timer = undefined;
  }

  private dispatch(): void {
    this.clearTimer();
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      // This batch's fair share of all the rows waiting or running (all of them when one run at a
      // time is allowed), at most maxBatch.
      const share = Math.min(this.maxBatch, Math.ceil((this.queuedRows + this.inFlightRows) / this.maxInFlight));
      // FIFO: take whole pieces while they fit; always at least one (every piece is ≤ maxBatch rows).
      let rows = this.queue[0].rows;
      let k = 1;
      while (k < this.queue.length && rows + this.queue[k].rows <= share) rows += this.queue[k++].rows;
      const pieces = this.queue.splice(0, k);
      this.queuedRows -= rows;
      void this.runBatch(pieces, rows);
    }
  }

  private async runBatch(pieces: Piece[], rows: number): Promise<void> {
    this.inFlight++;
    this.inFlightRows += rows;
    this.counters.batches++;
    this.counters.rows += rows;
    if (rows > this.counters.maxRows) this.counters.maxRows = rows;
    try {
      let batch: Float32Array;
      if (pieces.length === 1) {
        batch = pieces[0].x;
      } else {
        batch = new Float32Array(rows * this.rowSize);
        let offset = 0;
        for (const p of pieces) {
          batch.set(p.x, offset);
          offset += p.x.length;
        }
      }
      const started = performance.now();
      if (this.observe) for (const p of pieces) this.observe.waited((started - p.at) / 1000);
      const out = await this.run(batch, rows);
      const busyMs = performance.now() - started;
      this.counters.busyMs += busyMs;
      this.observe?.run(rows, busyMs / 1000);
      if (!(out instanceof Float32Array) || out.length === 0 || out.length % rows !== 0) {
        throw new Error(`run() returned ${out?.length} values for ${rows} rows`);
      }
      const cols = out.length / rows;
      if (pieces.length === 1) {
        pieces[0].resolve(out);
      } else {
        let row = 0;
        for (const p of pieces) {
          p.resolve(out.slice(row * cols, (row + p.rows) * cols));
          row += p.rows;
        }
      }
    } catch (err) {
      for (const p of pieces) p.reject(err);
    } finally {
      this.inFlight--;
      this.inFlightRows -= rows;
      this.afterRun();
    }
  }

  private afterRun(): void {
    if (this.queue.length > 0) {
      // Whatever queued during the run has waited at least that long: send it now.
      this.dispatch();
    } else if (this.inFlight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
