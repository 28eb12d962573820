import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CacheClosedError, ModelCache } from '../../src/serving/model-cache.ts';

/** A stand-in model that records whether it was disposed. */
class FakeModel {
  disposed = false;
  constructor(
    readonly id: string,
    readonly version: number,
    readonly bytes = 100,
  ) {}
  dispose() {
    this.disposed = true;
  }
}

function loaderOf(bytes: (id: string) => number = () => 100) {
  const loads: string[] = [];
  const load = async (id: string) => {
    loads.push(id);
    return new FakeModel(id, loads.filter((l) => l === id).length, bytes(id));
  };
  return { load, loads };
}

/** Lets queued microtasks and the disposals they start run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe('ModelCache', () => {
  it('shares one load between concurrent get()s of the same id', async () => {
    const { load, loads } = loaderOf();
    const cache = new ModelCache({ load, maxEntries: 2 });
    const got = await Promise.all([cache.get('a'), cache.get('a'), cache.get('a')]);
    assert.deepEqual(loads, ['a']);
    assert.ok(got[0] === got[1] && got[1] === got[2]);
    assert.equal(await cache.get('a'), got[0]);
    assert.deepEqual(loads, ['a']);
  });

  it('evicts the least recently used model by count and disposes it', async () => {
    const { load, loads } = loaderOf();
    const cache = new ModelCache({ load, maxEntries: 2 });
    const a = await cache.get('a');
    const b = await cache.get('b');
    await cache.get('a'); // a is now more recent than b
    const c = await cache.get('c');
    await settle();
    assert.deepEqual(cache.keys(), ['a', 'c']);
    assert.equal(b.disposed, true);
    assert.equal(a.disposed || c.disposed, false);
    await cache.get('b');
    assert.deepEqual(loads, ['a', 'b', 'c', 'b']);
  });

  it('evicts by bytes but never the model it is handing out', async () => {
    const { load } = loaderOf((id) => (id === 'big' ? 500 : 100));
    const cache = new ModelCache({ load, maxEntries: 10, maxBytes: 250, sizeOf: (m) => m.bytes });
    const a = await cache.get('a');
    const b = await cache.get('b');
    assert.equal(cache.bytes, 200);
    const big = await cache.get('big');
    await settle();
    assert.deepEqual(cache.keys(), ['big']);
    assert.equal(cache.bytes, 500);
    assert.ok(a.disposed && b.disposed && !big.disposed);
  });

  it('does not cache a failed load', async () => {
    let attempts = 0;
    const cache = new ModelCache({
      maxEntries: 2,
      load: async (id: string) => {
        if (++attempts === 1) throw new Error('disk on fire');
        return new FakeModel(id, attempts);
      },
    });
    await assert.rejects(cache.get('a'), /disk on fire/);
    assert.equal(cache.has('a'), false);
    assert.equal((await cache.get('a')).version, 2);
  });

  it('invalidate() disposes a loaded model and the next get() reloads it', async () => {
    const { load } = loaderOf();
    const cache = new ModelCache({ load, maxEntries: 2 });
    const first = await cache.get('a');
    assert.equal(cache.invalidate('a'), true);
    assert.equal(cache.invalidate('nope'), false);
    await settle();
    assert.equal(first.disposed, true);
    const second = await cache.get('a');
    assert.equal(second.version, 2);
  });

  it('invalidate() during a load hands waiters a fresh load and frees the stale one', async () => {
    const made: FakeModel[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const cache = new ModelCache({
      maxEntries: 2,
      load: async (id: string) => {
        const m = new FakeModel(id, made.length + 1);
        made.push(m);
        if (m.version === 1) await gate;
        return m;
      },
    });
    const waiting = cache.get('a');
    await settle(); // the first load has started
    cache.invalidate('a');
    release();
    const got = await waiting;
    await settle();
    assert.equal(got.version, 2);
    assert.equal(made[0].disposed, true);
    assert.equal(got.disposed, false);
  });

  it('close() disposes everything and refuses further get()s', async () => {
    const { load } = loaderOf();
    const disposedIds: string[] = [];
    const cache = new ModelCache({
      load,
      maxEntries: 3,
      dispose: async (m: FakeModel, id) => {
        await settle(); // an asynchronous dispose is awaited by close()
        disposedIds.push(id);
        m.dispose();
      },
    });
    const a = await cache.get('a');
    await cache.get('b');
    await cache.close();
    assert.deepEqual(disposedIds.sort(), ['a', 'b']);
    assert.equal(a.disposed, true);
    await assert.rejects(cache.get('a'), CacheClosedError);
  });
});
