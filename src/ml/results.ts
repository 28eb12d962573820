// The shapes of what src/ml computes and the job contract publishes (test metrics), as TypeBox schemas
// so that the contract documents them and the code types them from one declaration. Plain data: this
// file loads no TensorFlow, so the API can import it.
import { Type, type Static } from '@sinclair/typebox';

export const PerClassMetrics = Type.Object(
  {
    class: Type.Integer({ minimum: 0 }),
    precision: Type.Number({ minimum: 0, maximum: 1 }),
    recall: Type.Number({ minimum: 0, maximum: 1 }),
    f1: Type.Number({ minimum: 0, maximum: 1 }),
    support: Type.Integer({ minimum: 0, description: 'True samples of this class' }),
  },
  { title: 'Per-class metrics' },
);
export type PerClassMetrics = Static<typeof PerClassMetrics>;

export const EvaluationResult = Type.Object(
  {
    accuracy: Type.Number({ minimum: 0, maximum: 1 }),
    loss: Type.Number({ description: 'Mean categorical cross-entropy (probabilities clipped at 1e-7, as Keras)' }),
    count: Type.Integer({ minimum: 0 }),
    perClass: Type.Array(PerClassMetrics),
    confusionMatrix: Type.Array(Type.Array(Type.Integer({ minimum: 0 })), { description: 'confusionMatrix[true][predicted] counts' }),
  },
  { title: 'Test metrics' },
);
export type EvaluationResult = Static<typeof EvaluationResult>;

export const EpochMetrics = Type.Object(
  {
    epoch: Type.Integer({ minimum: 1, description: '1-based' }),
    loss: Type.Number({ description: "Mean cross-entropy over the epoch's batches (regularizer term not included)" }),
    accuracy: Type.Number(),
    valLoss: Type.Union([Type.Number(), Type.Null()]),
    valAccuracy: Type.Union([Type.Number(), Type.Null()]),
    learningRate: Type.Number(),
    seconds: Type.Number({ description: 'Wall time of the epoch including validation' }),
    samplesPerSec: Type.Number({ description: 'Training throughput of the epoch (validation excluded)' }),
  },
  { title: 'Epoch metrics' },
);
export type EpochMetrics = Static<typeof EpochMetrics>;
