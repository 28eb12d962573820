import assert from 'node:assert/strict';
import { test } from 'node:test';
import seedrandom from 'seedrandom';
import { createSampler, randomPoint, type Observation } from '../../../src/jobs/sweep/samplers.js';
import { dimensions, type SearchSpace } from '../../../src/jobs/sweep/space.js';
import { tpeSuggest } from '../../../src/jobs/sweep/tpe.js';

const space: SearchSpace = {
  'optimizer.learningRate': { logUniform: [1e-4, 1e-1] },
  batchSize: { choice: [32, 64, 128] },
  epochs: { intUniform: [1, 4] },
  'x.y': { uniform: [-1, 1] },
};

test('grid runs exactly its points', () => {
  const s = createSampler('grid', { a: { grid: [1, 2, 3] }, b: { choice: ['p', 'q'] } }, { seed: 1, maxTrials: 100, goal: 'maximize' });
  assert.equal(s.trials, 6);
  const seen = Array.from({ length: s.trials }, (_, i) => JSON.stringify(s.sample(i, [])));
  assert.equal(new Set(seen).size, 6);
});

test('random: same seed → same trials, another seed → others; values inside their distributions', () => {
  const a = createSampler('random', space, { seed: 7, maxTrials: 20, goal: 'maximize' });
  const b = createSampler('random', space, { seed: 7, maxTrials: 20, goal: 'maximize' });
  const c = createSampler('random', space, { seed: 8, maxTrials: 20, goal: 'maximize' });
  const run = (s: typeof a) => Array.from({ length: 20 }, (_, i) => s.sample(i, []));
  assert.deepEqual(run(a), run(b));
  assert.notDeepEqual(run(a), run(c));
  for (const p of run(a)) {
    const lr = p['optimizer.learningRate'] as number;
    assert.ok(lr >= 1e-4 && lr <= 1e-1);
    assert.ok([32, 64, 128].includes(p.batchSize as number));
    assert.ok(Number.isInteger(p.epochs) && (p.epochs as number) >= 1 && (p.epochs as number) <= 4);
    assert.ok((p['x.y'] as number) >= -1 && (p['x.y'] as number) <= 1);
  }
  // Trial i does not depend on the trials before it: a resumed sweep proposes the same ones.
  assert.deepEqual(a.sample(13, []), run(b)[13]);
});

test('logUniform spreads over orders of magnitude; intUniform hits both ends', () => {
  const dims = dimensions({ lr: { logUniform: [1e-4, 1] }, n: { intUniform: [1, 3] } });
  const rng = seedrandom('x');
  const pts = Array.from({ length: 2000 }, () => randomPoint(dims, rng));
  const below1e2 = pts.filter((p) => (p.lr as number) < 1e-2).length / pts.length;
  assert.ok(Math.abs(below1e2 - 0.5) < 0.05, `share below 1e-2: ${below1e2}`);
  assert.deepEqual([...new Set(pts.map((p) => p.n))].sort(), [1, 2, 3]);
});

// A toy objective with its optimum at lr = 10^-2.5, batch 64: TPE must find that region more often
// than random search does with the same budget.
const toy = (p: Record<string, unknown>) => -((Math.log10(p['optimizer.learningRate'] as number) + 2.5) ** 2) - (p.batchSize === 64 ? 0 : 0.5);
const good = (p: Record<string, unknown>) => Math.abs(Math.log10(p['optimizer.learningRate'] as number) + 2.5) < 0.35 && p.batchSize === 64;

function runSweep(algorithm: 'random' | 'tpe', seed: number, n: number) {
  const s = createSampler(
    algorithm,
    { 'optimizer.learningRate': { logUniform: [1e-4, 1e-1] }, batchSize: { choice: [32, 64, 128] } },
    { seed, maxTrials: n, goal: 'maximize', startupTrials: 5 },
  );
  const finished: Observation[] = [];
  for (let i = 0; i < n; i++) {
    const a = s.sample(i, finished);
    finished.push({ assignment: a, objective: toy(a) });
  }
  return finished;
}

test('TPE concentrates on the good region of a toy objective (and is reproducible)', () => {
  let tpeGood = 0;
  let randomGood = 0;
  let tpeBest = 0;
  let randomBest = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const t = runSweep('tpe', seed, 30);
    const r = runSweep('random', seed, 30);
    tpeGood += t.slice(10).filter((o) => good(o.assignment)).length;
    randomGood += r.slice(10).filter((o) => good(o.assignment)).length;
    tpeBest += Math.max(...t.map((o) => o.objective));
    randomBest += Math.max(...r.map((o) => o.objective));
  }
  assert.ok(tpeGood > 2 * randomGood, `trials in the good region after 10: tpe ${tpeGood}, random ${randomGood}`);
  assert.ok(tpeBest > randomBest, `mean best: tpe ${tpeBest / 10}, random ${randomBest / 10}`);
  assert.deepEqual(runSweep('tpe', 3, 15), runSweep('tpe', 3, 15));
});

test('TPE minimizes as well: suggestions move towards low loss', () => {
  const dims = dimensions({ x: { uniform: [0, 10] } });
  const obs = Array.from({ length: 20 }, (_, i) => ({ assignment: { x: i / 2 }, loss: Math.abs(i / 2 - 2) }));
  const rng = seedrandom('m');
  const xs = Array.from({ length: 50 }, () => tpeSuggest(dims, obs, rng).x as number);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(Math.abs(mean - 2) < 1.5, `mean suggestion ${mean}`);
});
