import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FormatRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { PredictAnswer, PredictionRecord, toPredictions, withConfidence } from '../../src/serving/answer.ts';

// TypeBox's Value checks only formats it is told about (Fastify's Ajv knows uuid on its own).
FormatRegistry.Set('uuid', (s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s));

describe('toPredictions', () => {
  it('turns n×classes probabilities into one prediction per row, the class being the argmax (lowest on a tie)', () => {
    const probs = Float32Array.of(0.1, 0.7, 0.2, 0.5, 0.5, 0, 0, 0.25, 0.75);
    const predictions = toPredictions(probs, 3, 3);
    assert.deepEqual(
      predictions.map((p) => p.class),
      [1, 0, 2],
    );
    assert.deepEqual(predictions[1]!.probabilities, [0.5, 0.5, 0]);
    assert.equal(predictions[0]!.probabilities[1], Math.fround(0.7));
    const answer = { modelId: '6f1c1f52-8f43-4f8e-9d37-2b9a1c3e4d5f', predictions: withConfidence(predictions, 0.8) };
    assert.ok(Value.Check(PredictAnswer, answer), 'an answer matches its own schema');
    assert.ok(Value.Check(PredictionRecord, { index: 4, ...predictions[2]!, label: 2 }));
    assert.equal(Value.Check(PredictAnswer, { ...answer, predictions: [{ class: -1, probabilities: [1] }] }), false);
  });
});
