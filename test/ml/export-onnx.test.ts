// The ONNX export of every architecture, run in onnxruntime-node, against the same model in
// TensorFlow.js on real MNIST test digits.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import * as tf from '../../src/ml/tf.js';
import { initBackend } from '../../src/ml/backend.js';
import { ARCHITECTURES, buildModel } from '../../src/ml/models.js';
import { train } from '../../src/ml/train.js';
import { exportOnnx, ONNX_OPSET, OnnxExportError, type SavedModelFiles } from '../../src/ml/export-onnx.js';
import { mnistImages } from '../fixtures/mnist-images.js';

/** model.json + weights.bin of a live model, as saveModel writes them. */
async function savedFiles(model: tf.LayersModel): Promise<SavedModelFiles> {
  let files: SavedModelFiles | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    const data = a.weightData as ArrayBuffer;
    files = { modelJson: { modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs as never }] }, weightData: new Uint8Array(data) };
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
  }));
  return files!;
}

const trainSet = mnistImages('train', 512);
const digits = mnistImages('t10k', 200);

before(async () => {
  await initBackend();
});

for (const arch of ARCHITECTURES) {
  test(`${arch}: the ONNX export gives the TF.js model's class on 200 test digits, probabilities within 1e-4`, async () => {
    const model = buildModel(arch, { numClasses: 10, seed: 5 });
    // Trained briefly, so that weights and batch-norm statistics are not their initial values.
    await train(model, { train: trainSet }, { epochs: 1, batchSize: 64, optimizer: { type: 'adam', learningRate: 0.002 }, seed: 5 });
    const bytes = exportOnnx(await savedFiles(model), { metadata: { numClasses: '10', normalization: '{"kind":"zero-one"}' } });
    const expected = tf.tidy(() => (model.predict(tf.tensor4d(digits.images, [digits.count, 28, 28, 1])) as tf.Tensor).dataSync());
    model.dispose();

    const decoded = onnxProto.onnx.ModelProto.decode(bytes);
    assert.ok(Number(decoded.opsetImport[0]!.version) >= 13 && ONNX_OPSET >= 13);
    assert.deepEqual(decoded.metadataProps.map((p) => p.key), ['numClasses', 'normalization']);

    const session = await ort.InferenceSession.create(bytes);
    assert.deepEqual(session.inputNames, ['input']);
    assert.deepEqual(session.outputNames, ['probabilities']);
    const out = await session.run({ input: new ort.Tensor('float32', digits.images, [digits.count, 28, 28, 1]) });
    const got = out.probabilities!;
    assert.deepEqual(got.dims, [digits.count, 10]);
    const probs = got.data as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < digits.count; i++) {
      const row = (a: ArrayLike<number>) => Array.from({ length: 10 }, (_, k) => a[i * 10 + k]!);
      const [e, g] = [row(expected), row(probs)];
      assert.equal(g.indexOf(Math.max(...g)), e.indexOf(Math.max(...e)), `digit ${i}`);
      for (let k = 0; k < 10; k++) maxDiff = Math.max(maxDiff, Math.abs(e[k]! - g[k]!));
    }
    assert.ok(maxDiff < 1e-4, `largest probability difference ${maxDiff}`);
    await session.release();
  });
}

test('a layer ONNX export does not know is refused with MODEL_NOT_EXPORTABLE', async () => {
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 10 }), tf.layers.leakyReLU(), tf.layers.softmax()] });
  const files = await savedFiles(model);
  model.dispose();
  assert.throws(() => exportOnnx(files), (err: unknown) => err instanceof OnnxExportError && err.code === 'MODEL_NOT_EXPORTABLE');
});
