// Synchronous predictions: POST /v1/predict and its short alias POST /predict.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../../shared/errors.js';
import { ModelRef, PredictInput } from '../../jobs/contract.js';
import { errors } from '../schemas.js';
import { predictGate } from '../limits.js';
import type { AppDeps } from '../app.js';
import { PredictAnswer } from '../../serving/answer.js';

/** The narrow door through which the API reaches TensorFlow (implemented in src/serving). */
export interface PredictService {
  predict(modelRef: string, inputs: unknown[]): Promise<PredictAnswer>;
  /** Images admitted and not answered yet (the admission gate adds those still arriving). */
  admitted(): number;
}

const Body = Type.Object(
  { model: Type.Optional(ModelRef), inputs: Type.Array(PredictInput, { description: 'One or more inputs (at most PREDICT_MAX_INPUTS, default 256)' }) },
  { additionalProperties: false },
);

export const predictRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, { predict, config }) => {
  const schema = {
    operationId: 'predict',
    tags: ['predict'],
    summary: 'Predict the class of each input',
    description:
      'An input is 784 numbers in [0,1], a 28×28 array of 0–255 integers, or a base64 PNG/JPEG of a digit of any size (made into MNIST form: grayscale, ink white on black, fitted into 20×20 and centred by mass in 28×28). Concurrent requests are micro-batched.',
    body: Body,
    response: { 200: PredictAnswer, ...errors(404, 413, 422, 503) },
  };
  const handler = async (req: { body: { model?: string; inputs: unknown[] } }) => {
    const { model = 'latest', inputs } = req.body;
    if (inputs.length === 0) throw new AppError('INPUTS_EMPTY', 'inputs must hold at least one input');
    if (inputs.length > config.PREDICT_MAX_INPUTS) {
      throw new AppError('TOO_MANY_INPUTS', `At most ${config.PREDICT_MAX_INPUTS} inputs per request; use a predict job for bulk`);
    }
    return predict.predict(model, inputs);
  };
  // Admission before the body is read (503 OVERLOADED at once), and a body limit of its own.
  const gate = predictGate(config, () => predict.admitted());
  const opts = { bodyLimit: config.PREDICT_BODY_LIMIT_BYTES, onRequest: gate.onRequest, preHandler: gate.preHandler };
  app.post('/v1/predict', { ...opts, schema }, handler);
  app.post('/predict', { ...opts, schema: { ...schema, operationId: 'predictShort', summary: 'Alias of POST /v1/predict' } }, handler);
};
