import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TrainParams } from '../../../src/jobs/contract.js';
import { parseJobParams } from '../../../src/jobs/params.js';
import { AppError } from '../../../src/shared/errors.js';
import { applyAssignment, dimensions, gridPoints, schemasAt, validateSpace, type SearchSpace } from '../../../src/jobs/sweep/space.js';

const trial = { datasetId: '00000000-0000-4000-8000-000000000000', architecture: 'mlp', epochs: 3 };
const check = (p: unknown) => {
  try {
    parseJobParams('train', p);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
};
const validate = (space: SearchSpace) => validateSpace(space, 'train', TrainParams, trial, check);
const codeAndPath = (fn: () => void) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError);
    return [err.code, (err.details as any).path, err.message];
  }
  assert.fail('no error');
};

test('paths walk objects, optionals and unions of the trial schema', () => {
  assert.equal(schemasAt(TrainParams, 'optimizer.learningRate').length, 3); // in each optimizer
  assert.equal(schemasAt(TrainParams, 'schedule.type').length, 3);
  assert.equal(schemasAt(TrainParams, 'earlyStopping.patience').length, 1);
  assert.equal(schemasAt(TrainParams, 'optimizer.nope').length, 0);
  assert.equal(schemasAt(TrainParams, 'batchSize.x').length, 0);
});

test('a valid space passes; an unknown path or an out-of-schema value is named', () => {
  validate({
    'optimizer.learningRate': { logUniform: [1e-4, 1e-1] },
    batchSize: { choice: [32, 64, 128] },
    'schedule.type': { choice: ['constant', 'step', 'cosine'] },
  });
  validate({ 'schedule.minLearningRate': { choice: [0, 1e-5] }, 'optimizer.type': { choice: ['sgd', 'momentum', 'adam'] } });
  const [code, path, message] = codeAndPath(() => validate({ 'optimizer.learnRate': { uniform: [0.1, 0.2] } }));
  assert.equal(code, 'INVALID_SEARCH_SPACE');
  assert.equal(path, 'optimizer.learnRate');
  assert.match(message, /optimizer\.learnRate/);
  assert.equal(codeAndPath(() => validate({ 'optimizer.learningRate': { uniform: [0.1, 20] } }))[1], 'optimizer.learningRate');
  assert.equal(codeAndPath(() => validate({ batchSize: { choice: [32, 'big'] } }))[1], 'batchSize');
  assert.equal(codeAndPath(() => validate({ batchSize: { intUniform: [8.5, 64] } }))[1], 'batchSize');
  assert.equal(codeAndPath(() => validate({ 'optimizer.learningRate': { logUniform: [0, 1] } }))[1], 'optimizer.learningRate');
  assert.equal(codeAndPath(() => validate({ epochs: { uniform: [3, 2] } }))[1], 'epochs');
});

test('assignments are set at their dotted paths without touching the original', () => {
  const p = applyAssignment(trial, { 'optimizer.learningRate': 0.01, batchSize: 32 });
  assert.deepEqual(p, { ...trial, optimizer: { learningRate: 0.01 }, batchSize: 32 });
  assert.equal((trial as any).optimizer, undefined);
  // With the schema, an object the trial leaves out takes the type of its default (a tagged union).
  assert.deepEqual(applyAssignment(trial, { 'optimizer.learningRate': 0.01 }, TrainParams), { ...trial, optimizer: { type: 'adam', learningRate: 0.01 } });
  assert.deepEqual(applyAssignment(trial, { 'schedule.type': 'step' }, TrainParams), { ...trial, schedule: { type: 'step' } });
  const given = { ...trial, optimizer: { type: 'sgd' } };
  assert.deepEqual(applyAssignment(given, { 'optimizer.learningRate': 0.1 }, TrainParams), { ...trial, optimizer: { type: 'sgd', learningRate: 0.1 } });
});

test('a grid is the cartesian product of its lists, in a fixed order', () => {
  const points = gridPoints({ batchSize: { grid: [32, 64] }, 'optimizer.learningRate': { grid: [0.1, 0.01, 0.001] } });
  assert.equal(points.length, 6);
  assert.equal(new Set(points.map((p) => JSON.stringify(p))).size, 6);
  assert.deepEqual(points[0], { batchSize: 32, 'optimizer.learningRate': 0.1 });
  assert.throws(() => gridPoints({ batchSize: { grid: [32] }, epochs: { intUniform: [1, 3] } }), /grid needs/);
  assert.deepEqual(
    dimensions({ b: { choice: [1] }, a: { uniform: [0, 1] } }).map((d) => d.path),
    ['a', 'b'],
  );
});
