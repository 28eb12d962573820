import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ashaStopAt, rungs, type RungValue } from '../../../src/jobs/sweep/asha.js';

test('rungs at gracePeriod × η^k below the trial epochs', () => {
  assert.deepEqual(rungs({ gracePeriod: 1, reductionFactor: 3, maxEpochs: 10 }), [1, 3, 9]);
  assert.deepEqual(rungs({ gracePeriod: 1, reductionFactor: 3, maxEpochs: 9 }), [1, 3]);
  assert.deepEqual(rungs({ gracePeriod: 2, reductionFactor: 2, maxEpochs: 9 }), [2, 4, 8]);
  assert.deepEqual(rungs({ gracePeriod: 5, reductionFactor: 2, maxEpochs: 5 }), []);
});

const cfg = { gracePeriod: 1, reductionFactor: 3, maxEpochs: 9 };
const v = (trialId: string, epoch: number, value: number, at: number): RungValue => ({ trialId, epoch, value, at });

test('the first arrival goes on; later ones only in the top third of those there before them', () => {
  // Arrivals at rung 1 in order a (0.5), b (0.4), c (0.9), d (0.6), e (0.3), f (0.95), g (0.7).
  const values = [v('a', 1, 0.5, 1), v('b', 1, 0.4, 2), v('c', 1, 0.9, 3), v('d', 1, 0.6, 4), v('e', 1, 0.3, 5), v('f', 1, 0.95, 6), v('g', 1, 0.7, 7)];
  const stop = (id: string) => ashaStopAt(cfg, 'maximize', id, values);
  assert.equal(stop('a'), null); // n=1: alone, goes on
  assert.equal(stop('b'), 1); // n=2: rank 1, top ⌈2/3⌉ = 1 → stops
  assert.equal(stop('c'), null); // best so far
  assert.equal(stop('d'), null); // n=4: rank 1 (only c is better), 1·3 < 4 → goes on
  assert.equal(stop('e'), 1); // n=5: rank 4
  assert.equal(stop('f'), null);
  assert.equal(stop('g'), null); // n=7: rank 2 (c, f), 2·3 < 7

  // Rung 3: the survivors arrive in order c, a, f, g.
  const more = [...values, v('c', 3, 0.95, 10), v('a', 3, 0.55, 11), v('f', 3, 0.97, 12), v('g', 3, 0.8, 13)];
  const stop3 = (id: string) => ashaStopAt(cfg, 'maximize', id, more);
  assert.equal(stop3('c'), null);
  assert.equal(stop3('a'), 3);
  assert.equal(stop3('f'), null);
  assert.equal(stop3('g'), 3); // n=4, rank 2
  // A decision never changes when later trials arrive: b stays stopped at 1, c goes on.
  assert.equal(stop3('b'), 1);
  // Not at a rung yet: no decision.
  assert.equal(ashaStopAt(cfg, 'maximize', 'z', [v('z', 2, 0, 1)]), null);
});

test('minimize compares the other way; ties go on', () => {
  const values = [v('a', 1, 0.5, 1), v('b', 1, 0.6, 2), v('c', 1, 0.4, 3), v('d', 1, 0.4, 4)];
  assert.equal(ashaStopAt(cfg, 'minimize', 'b', values), 1);
  assert.equal(ashaStopAt(cfg, 'minimize', 'c', values), null);
  assert.equal(ashaStopAt(cfg, 'minimize', 'd', values), null); // tie with c: rank 0
  // Same arrival time: ordered by trial id, so every process decides alike.
  const same = [v('b', 1, 0.5, 1), v('a', 1, 0.6, 1)];
  assert.equal(ashaStopAt(cfg, 'minimize', 'a', same), null);
  assert.equal(ashaStopAt(cfg, 'minimize', 'b', same), null);
});
