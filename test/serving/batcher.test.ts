import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BatcherClosedError, MicroBatcher, OverloadedError, type RunBatch } from '../../src/serving/batcher.ts';

const ROW = 4; // values per row, small so expectations are easy to read

/** A fake model: each output row is [first value of the input row, sum of the row]. */
function recordingRun() {
  const calls: number[] = [];
  const run: RunBatch = async (batch, rows) => {
    calls.push(rows);
    const out = new Float32Array(rows * 2);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < ROW; j++) s += batch[r * ROW + j];
      out[r * 2] = batch[r * ROW];
      out[r * 2 + 1] = s;
    }
    return out;
  };
  return { run, calls };
}

const row = (id: number) => Float32Array.of(id, 1, 1, 1);

/** A promise settled from outside, to hold a run() open without sleeping. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An echo model (one output row per input row) whose every run() call waits until released. */
function heldRun() {
  const calls: number[] = [];
  const gates: ReturnType<typeof deferred<void>>[] = [];
  const run: RunBatch = async (batch, rows) => {
    calls.push(rows);
    const gate = deferred<void>();
    gates.push(gate);
    await gate.promise;
    return batch.slice();
  };
  return { run, calls, release: (call: number) => gates[call].resolve() };
}

describe('MicroBatcher', () => {
  it('serves 50 concurrent single-row calls with a few run() calls, each caller getting its own row', async () => {
    const { run, calls } = recordingRun();
    const b = new MicroBatcher({ run, rowSize: ROW, maxBatch: 16, windowMs: 2 });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => b.predict(row(i))));
    for (let i = 0; i < 50; i++) assert.deepEqual([...results[i]], [i, i + 3]);
    assert.ok(calls.length <= 5, `run() called ${calls.length} times`);
    assert.equal(calls.reduce((a, c) => a + c, 0), 50);
    assert.ok(calls.every((c) => c <= 16));
    const { busyMs, ...counts } = b.stats();
    assert.deepEqual(counts, { batches: calls.length, rows: 50, maxRows: 16, queuedRows: 0 });
    assert.ok(busyMs >= 0);
  });

  it('waits for the window before sending a partial batch', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { run, calls } = recordingRun();
    const b = new MicroBatcher({ run, rowSize: ROW, maxBatch: 64, windowMs: 3 });
    const pending = [b.predict(row(1)), b.predict(row(2)), b.predict(row(3))];
    t.mock.timers.tick(2);
    assert.equal(calls.length, 0);
    t.mock.timers.tick(1);
    assert.deepEqual(calls, [3]);
    assert.deepEqual((await Promise.all(pending)).map((r) => r[0]), [1, 2, 3]);
  });

  it('sends a full batch at once, without waiting for the window', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { run, calls } = recordingRun();
    const b = new MicroBatcher({ run, rowSize: ROW, maxBatch: 4, windowMs: 1000 });
    const pending = [1, 2, 3, 4].map((i) => b.predict(row(i)));
    assert.deepEqual(calls, [4]);
    await Promise.all(pending);
  });

  it('queues rows while a run is busy and sends them together when it ends', async () => {
    const { run, calls, release } = heldRun();
    const b = new MicroBatcher({ run, rowSize: ROW, maxBatch: 64, windowMs: 0 });
    const first = b.predict(row(0));
    await new Promise<void>((r) => setImmediate(r)); // let the window (0 ms) close: first batch runs
    assert.deepEqual(calls, [1]);
    const later = Array.from({ length: 10 }, (_, i) => b.predict(row(i + 1)));
    assert.deepEqual(calls, [1], 'nothing else runs while the first batch is busy');
    release(0);
    await first;
    assert.deepEqual(calls, [1, 10]);
    release(1);
    const outs = await Promise.all([first, ...later]);
    for (const [i, o] of outs.entries()) assert.deepEqual([...o], [...row(i)]);
  });

  it('by default sends a lone row on the next event-loop turn, with the rows of the same turn', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] }); // a timer-based window would never fire
    const { run, calls } = recordingRun();
    const b = new MicroBatcher({ run, rowSize: ROW, maxBatch: 64 });
    const pending = [b.predict(row(1)), b.predict(row(2))];
    assert.deepEqual(calls, []);
    assert.deepEqual((await Promise.all(pending)).map((r) => r[0]), [1, 2]);
    assert.deepEqual(calls, [2]);
  });

  it('with two slots, splits waiting rows into fair shares that run side by side', async () => {
    const { run, calls, release } = heldRun();
    const b = new MicroBatcher({ run, rowSize: ROW, maxBatch: 64, maxInFlight: 2 });
    // 64 rows in one turn: two batches of 32 start together, not one of 64 with a slot left idle.
    const first = Array.from({ length: 64 }, (_, i) => b.predict(row(i)));
    assert.deepEqual(calls, [32, 32]);
    // While both run, 20 more queue; when one run ends they leave at once: the share of 20 waiting
    // plus 32 still running over two slots is 26, so all 20 go together.
    const second = Array.from({ length: 20 }, (_, i) => b.predict(row(100 + i)));
    assert.deepEqual(calls, [32, 32], 'both slots are busy');
    release(0);
    await Promise.all(first.slice(0, 32));
    assert.deepEqual(calls, [32, 32, 20]);
    release(1);
    release(2);
    const outs = await Promise.all([...first, ...second]);
    for (const [i, o] of outs.entries()) assert.equal(o[0], i < 64 ? i : 100 + i - 64);
    assert.equal(b.stats().maxRows, 32);
  });

  it('splits a request bigger than maxBatch and reassembles it in order', async () => {
    const { run, calls } = recordingRun();
    const b = new MicroBatcher({ run, rowSize: ROW, maxBatch: 8, windowMs: 0 });
    const x = new Float32Array(20 * ROW);
    for (let r = 0; r < 20; r++) x[r * ROW] = r;
    const [big, small] = await Promise.all([b.predict(x, 20), b.predict(row(99))]);
    assert.equal(big.length, 40);
    for (let r = 0; r < 20; r++) assert.equal(big[r * 2], r);
    assert.equal(small[0], 99);
    assert.ok(calls.every((c) => c <= 8));
    assert.equal(calls.reduce((a, c) => a + c, 0), 21);
  });

  it('rejects every caller of a failed batch, and the next batch still works', async () => {
    let fail = true;
    const { run } = recordingRun();
    const b = new MicroBatcher({
      rowSize: ROW,
      maxBatch: 64,
      windowMs: 0,
      run: async (batch, rows) => {
        if (fail) throw new Error('model exploded');
        return run(batch, rows);
      },
    });
    const results = await Promise.allSettled([1, 2, 3].map((i) => b.predict(row(i))));
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.equal((r as PromiseRejectedResult).reason.message, 'model exploded');
    }
    fail = false;
    assert.equal((await b.predict(row(7)))[0], 7);
  });

  it('rejects a run() result whose size does not match the rows', async () => {
    const b = new MicroBatcher({ rowSize: ROW, windowMs: 0, run: async () => new Float32Array(3) });
    await assert.rejects(Promise.all([b.predict(row(1)), b.predict(row(2))]), /returned 3 values for 2 rows/);
  });

  it('refuses malformed rows and sheds load beyond maxQueueRows', async () => {
    const { run } = recordingRun();
    const b = new MicroBatcher({ run, rowSize: ROW, maxBatch: 64, windowMs: 5, maxQueueRows: 3 });
    await assert.rejects(b.predict(new Float32Array(5)), RangeError);
    const ok = [b.predict(row(1)), b.predict(row(2)), b.predict(row(3))];
    await assert.rejects(b.predict(row(4)), OverloadedError);
    assert.equal((await Promise.all(ok)).length, 3);
  });

  it('close() runs what is queued, then refuses new rows', async () => {
    const { run, calls } = recordingRun();
    const b = new MicroBatcher({ run, rowSize: ROW, maxBatch: 64, windowMs: 10_000 });
    const queued = [b.predict(row(1)), b.predict(row(2))];
    await b.close(); // would hang on the 10 s window if close() did not send the batch itself
    assert.deepEqual(calls, [2]);
    assert.deepEqual((await Promise.all(queued)).map((r) => r[0]), [1, 2]);
    await assert.rejects(b.predict(row(3)), BatcherClosedError);
  });
});
