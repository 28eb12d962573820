// What a prediction answers, declared once as TypeBox schemas (the route's response schema and the
// OpenAPI document are these) with the TypeScript types derived from them. No HTTP and no
// TensorFlow, so the API, the job contract and the bulk predict job can all import it.
import { Type, type Static } from '@sinclair/typebox';
import { argmax } from '../ml/metrics.js';

export const Prediction = Type.Object(
  {
    class: Type.Integer({ minimum: 0 }),
    probabilities: Type.Array(Type.Number({ minimum: 0, maximum: 1 }), { description: 'One per class, summing to 1' }),
  },
  { title: 'Prediction' },
);
export type Prediction = Static<typeof Prediction>;

export const PredictAnswer = Type.Object(
  {
    modelId: Type.String({ format: 'uuid' }),
    predictions: Type.Array(Prediction, { description: 'One per input, in order' }),
  },
  { title: 'Predict answer' },
);
export type PredictAnswer = Static<typeof PredictAnswer>;

/** One line of a bulk predict job's JSON-lines file: the input's index, its prediction and, from a labelled dataset, its label. */
export const PredictionRecord = Type.Object(
  {
    index: Type.Integer({ minimum: 0 }),
    ...Prediction.properties,
    label: Type.Optional(Type.Integer({ minimum: 0, description: 'The true class, when the inputs came from a labelled dataset' })),
  },
  { title: 'Prediction record' },
);
export type PredictionRecord = Static<typeof PredictionRecord>;

/** The predictions of the n rows of an n×numClasses probability matrix (row-major). */
export function toPredictions(probabilities: Float32Array, n: number, numClasses: number): Prediction[] {
  const out: Prediction[] = [];
  for (let i = 0; i < n; i++) {
    const row = Array.from(probabilities.subarray(i * numClasses, (i + 1) * numClasses));
    out.push({ class: argmax(row), probabilities: row });
  }
  return out;
}
