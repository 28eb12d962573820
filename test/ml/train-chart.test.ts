import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainingCurveSvg, type CurvePoint } from '../../src/ml/chart.js';

const point = (epoch: number, loss: number, accuracy: number, valLoss: number | null, valAccuracy: number | null): CurvePoint =>
  ({ epoch, loss, accuracy, valLoss, valAccuracy });

/** Polyline point lists in document order: [train loss, val loss, train acc, val acc]. */
const polylines = (svg: string) =>
  [...svg.matchAll(/<polyline[^>]*points="([^"]+)"/g)].map((m) => m[1].split(' ').map((p) => p.split(',').map(Number)));

test('one line per series with one point per epoch, oriented the usual way', () => {
  const svg = trainingCurveSvg([point(1, 0.9, 0.7, 1.0, 0.65), point(2, 0.5, 0.85, 0.6, 0.8), point(3, 0.3, 0.9, 0.4, 0.88)]);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  const lines = polylines(svg);
  assert.equal(lines.length, 4);
  for (const l of lines) assert.equal(l.length, 3);
  const [trainLoss, , trainAcc] = lines;
  assert.ok(trainLoss[2][1] > trainLoss[0][1], 'falling loss goes down (SVG y grows downwards)');
  assert.ok(trainAcc[2][1] < trainAcc[0][1], 'rising accuracy goes up');
  // x grows with the epoch, and the right panel sits to the right of the left one.
  assert.ok(trainLoss[0][0] < trainLoss[1][0] && trainLoss[1][0] < trainLoss[2][0]);
  assert.ok(trainAcc[0][0] > trainLoss[2][0]);
  for (const label of ['train loss', 'val loss', 'train accuracy', 'val accuracy']) assert.ok(svg.includes(`>${label}<`), label);
});

test('no validation set, a single epoch, NaN values and an empty history still give a valid chart', () => {
  const noVal = trainingCurveSvg([point(1, 0.5, 0.8, null, null), point(2, 0.4, 0.85, null, null)]);
  assert.equal(polylines(noVal).length, 2);
  const single = trainingCurveSvg([point(1, 0.5, 0.8, 0.6, 0.75)]);
  assert.equal(polylines(single).length, 0);
  assert.equal((single.match(/<circle /g) ?? []).length, 4, 'a single epoch shows as markers');
  const withNaN = trainingCurveSvg([point(1, NaN, 0.8, 0.6, 0.75), point(2, 0.4, 0.85, 0.5, 0.8)]);
  assert.ok(!withNaN.includes('NaN'));
  const empty = trainingCurveSvg([]);
  assert.ok(!empty.includes('NaN') && !empty.includes('Infinity'));
  assert.match(empty, /<\/svg>/);
});
