import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import seedrandom from 'seedrandom';
import { allocateStratified, largestRemainder, makeRng, stratifiedSplit } from '../../src/ml/data/split.js';

describe('stratified allocation', () => {
  test('largest remainder hits the total exactly', () => {
    assert.deepEqual(largestRemainder(10, [0.55, 0.45]), [6, 4]);
    assert.deepEqual(largestRemainder(70000, [0.8, 0.1, 0.1]), [56000, 7000, 7000]);
    assert.deepEqual(largestRemainder(7, [1 / 3, 1 / 3, 1 / 3]), [3, 2, 2]);
  });

  test('fuzz: exact split totals, exact class totals, every cell within one of its share', () => {
    const rnd = seedrandom('fuzz');
    for (let trial = 0; trial < 500; trial++) {
      const K = 1 + Math.floor(rnd() * 12);
      const counts = Array.from({ length: K }, () => Math.floor(rnd() * (rnd() < 0.3 ? 5 : 3000)));
      const raw = [rnd() + 0.01, rnd() < 0.2 ? 0 : rnd(), rnd() < 0.2 ? 0 : rnd()];
      const sum = raw.reduce((a, b) => a + b, 0);
      const ratios = raw.map((r) => r / sum);
      const cells = allocateStratified(counts, ratios);
      const total = counts.reduce((a, b) => a + b, 0);
      const targets = largestRemainder(total, ratios);
      cells.forEach((row, c) => {
        assert.equal(row.reduce((a, b) => a + b, 0), counts[c], `class total, trial ${trial}`);
        row.forEach((v, s) => {
          assert.ok(v >= 0 && Math.abs(v - counts[c]! * ratios[s]!) < 1 + 1e-9, `cell ${c},${s} = ${v}, trial ${trial}`);
          if (ratios[s] === 0) assert.equal(v, 0);
        });
      });
      for (const [s, t] of targets.entries()) assert.equal(cells.reduce((a, row) => a + row[s]!, 0), t, `split total, trial ${trial}`);
    }
  });

  test('stratifiedSplit partitions the indices, reproducibly from the seed', () => {
    const labels = Uint8Array.from({ length: 503 }, (_, i) => (i * 7) % 5);
    const a = stratifiedSplit(labels, 5, [0.7, 0.2, 0.1], makeRng(3, 'split'));
    const b = stratifiedSplit(labels, 5, [0.7, 0.2, 0.1], makeRng(3, 'split'));
    const c = stratifiedSplit(labels, 5, [0.7, 0.2, 0.1], makeRng(4, 'split'));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a[1], c[1]);
    const all = [...a[0]!, ...a[1]!, ...a[2]!].sort((x, y) => x - y);
    assert.deepEqual(all, Array.from({ length: 503 }, (_, i) => i));
    assert.deepEqual(a.map((x) => x.length), [352, 101, 50]);
    for (const split of a) for (let i = 1; i < split.length; i++) assert.ok(split[i - 1]! < split[i]!);
  });
});
