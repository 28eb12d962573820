// Child process of native.test.ts: run with MNIST_NATIVE_ADDON pointing at a missing file, it shows
// what the service does without the addon (forcing native fails with the reason; auto picks wasm)
// and prints a seeded model's predictions for the parent to compare with the native backend's.
import { initBackend } from '../../src/ml/backend.js';
import { buildModel } from '../../src/ml/models.js';
import { predictProbs } from '../../src/ml/evaluate.js';
import { bands } from '../fixtures/bands.js';

const forced = await initBackend('native').then(
  () => 'loaded',
  (err: Error) => err.message,
);
const info = await initBackend('auto');
const model = buildModel('keras-cnn', { numClasses: 4, seed: 9 });
const probs = await predictProbs(model, bands(8, 4).images, 8);
console.log(JSON.stringify({ forced, backend: info.name, probs: Array.from(probs) }));
