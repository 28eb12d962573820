// fine-tune jobs: MNIST model → Fashion-MNIST with frozen features and a new head; L2-SP; errors.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectError, startService, submit, resultOf, waitForJob } from '../helpers.js';
import { gzipAll, mnistSlice, startIdxServer } from '../fixtures/idx-server.js';

const svc = await startService({ api: true, worker: true }, { OUTBOUND_ALLOW_PRIVATE: true });
const { app } = svc;

/** A tiny IDX set of 14×14 images: a dataset whose shape no MNIST model takes. */
function smallImages(count: number, side: number) {
  const images = Buffer.alloc(16 + count * side * side);
  images.writeUInt32BE(0x803, 0);
  images.writeUInt32BE(count, 4);
  images.writeUInt32BE(side, 8);
  images.writeUInt32BE(side, 12);
  for (let i = 16; i < images.length; i++) images[i] = (i * 7) % 256;
  const labels = Buffer.alloc(8 + count);
  labels.writeUInt32BE(0x801, 0);
  labels.writeUInt32BE(count, 4);
  for (let i = 0; i < count; i++) labels[8 + i] = i % 10;
  return { images, labels };
}
const tiny = smallImages(200, 14);
const server = await startIdxServer({
  mnist: gzipAll(await mnistSlice(3000, 300)),
  tiny: gzipAll({ 'train-images-idx3-ubyte': tiny.images, 'train-labels-idx1-ubyte': tiny.labels, 't10k-images-idx3-ubyte': tiny.images, 't10k-labels-idx1-ubyte': tiny.labels }),
});
after(async () => {
  await server.close();
  await svc.close();
});

/** Every weight of a saved model by name ("conv1/kernel"), as raw bytes. */
async function weights(modelId: string): Promise<Map<string, Buffer>> {
  const dir = path.join(svc.config.DATA_DIR, 'models', modelId);
  const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
  const bin = await readFile(path.join(dir, 'weights.bin'));
  const out = new Map<string, Buffer>();
  let offset = 0;
  for (const w of json.weightsManifest[0].weights) {
    const bytes = 4 * w.shape.reduce((a: number, b: number) => a * b, 1);
    out.set(w.name.replace(/_\d+(?=\/|$)/g, ''), bin.subarray(offset, offset + bytes));
    offset += bytes;
  }
  return out;
}

function distance(a: Map<string, Buffer>, b: Map<string, Buffer>, skip = (_: string) => false): number {
  let sum = 0;
  for (const [name, buf] of a) {
    const other = b.get(name);
    if (skip(name) || !other || other.length !== buf.length) continue;
    const x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    const y = new Float32Array(other.buffer.slice(other.byteOffset, other.byteOffset + other.length));
    for (let i = 0; i < x.length; i++) sum += (x[i]! - y[i]!) ** 2;
  }
  return Math.sqrt(sum);
}

let base = '';
let fashion = '';
let tinyDataset = '';
before(async () => {
  const [mnist, fm, small] = await Promise.all([
    submit(app, 'dataset-prep', { source: { url: server.url('mnist') }, seed: 1 }),
    submit(app, 'dataset-prep', { source: 'fashion-mnist', seed: 1 }),
    submit(app, 'dataset-prep', { source: { url: server.url('tiny') }, seed: 1 }),
  ]);
  for (const j of [mnist, fm, small]) assert.equal((await waitForJob(app, j.id)).status, 'succeeded');
  fashion = fm.id;
  tinyDataset = small.id;
  const train = await submit(app, 'train', { datasetId: mnist.id, architecture: 'keras-cnn', epochs: 2, batchSize: 32, seed: 1 });
  const done = await waitForJob(app, train.id, { timeoutMs: 300_000 });
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  base = train.id;
});

describe('fine-tune', () => {
  it('moves an MNIST model to Fashion-MNIST: frozen layers unchanged, a new head, lineage and metrics', async () => {
    const job = await submit(app, 'fine-tune', {
      baseModelId: base, datasetId: fashion, freeze: 'all-but-head', replaceHead: true,
      optimizer: { type: 'adam', learningRate: 0.01 }, epochs: 2, batchSize: 32, seed: 2, subset: { train: 3000, val: 300, test: 500 },
    });
    const done = await waitForJob(app, job.id, { timeoutMs: 300_000 });
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const r = resultOf(done, 'fine-tune');
    assert.deepEqual(r.frozenLayers, ['conv1', 'conv2', 'conv3', 'dense1']);
    assert.equal(r.headReplaced, true);
    assert.ok(r.before && r.after && r.delta, 'metrics before and after');
    assert.equal(r.after.count, 500);
    assert.ok(Math.abs(r.delta.accuracy - (r.after.accuracy - r.before.accuracy)) < 1e-12);
    assert.ok(r.after.accuracy > r.before.accuracy + 0.25, `Fashion-MNIST accuracy ${r.before.accuracy} → ${r.after.accuracy}`);

    const [b, f] = [await weights(base), await weights(job.id)];
    for (const name of b.keys()) {
      if (name.startsWith('head/')) assert.ok(!b.get(name)!.equals(f.get(name)!), `${name} should have trained`);
      else assert.ok(b.get(name)!.equals(f.get(name)!), `${name} changed although frozen`);
    }
    const model = (await app.inject(`/v1/models/${job.id}`)).json();
    assert.equal(model.parentModelId, base);
    assert.deepEqual(model.lineage.frozenLayers, r.frozenLayers);
    assert.equal(model.lineage.datasetId, fashion);
    const metrics = (await app.inject(`/v1/jobs/${job.id}/metrics`)).json().items;
    assert.equal(metrics.length, 2);
  });

  it('keeps the weights nearer the base model with a large L2-SP λ than without', async () => {
    const run = async (l2sp: number) => {
      const job = await submit(app, 'fine-tune', {
        baseModelId: base, datasetId: fashion, freeze: 'none', replaceHead: false, l2sp,
        optimizer: { type: 'adam', learningRate: 0.002 }, epochs: 1, batchSize: 32, seed: 3, subset: { train: 1000, val: 100, test: 100 },
      });
      const done = await waitForJob(app, job.id, { timeoutMs: 300_000 });
      assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
      return distance(await weights(base), await weights(job.id));
    };
    const free = await run(0);
    const anchored = await run(1);
    assert.ok(free > 0);
    assert.ok(anchored < free * 0.8, `L2-SP distance ${anchored} vs plain ${free}`);
  });

  it('refuses what cannot work, with clear codes', async () => {
    const post = (params: object) => app.inject({ method: 'POST', url: '/v1/jobs', payload: { type: 'fine-tune', params } });
    expectError(await post({ baseModelId: crypto.randomUUID(), datasetId: fashion }), 404, 'MODEL_NOT_FOUND');
    expectError(await post({ baseModelId: base, datasetId: fashion, replaceHead: false, numClasses: 5 }), 422, 'HEAD_INCOMPATIBLE');
    expectError(await post({ baseModelId: base, datasetId: tinyDataset }), 422, 'INPUT_SHAPE_MISMATCH');
    const job = await submit(app, 'fine-tune', { baseModelId: base, datasetId: fashion, freeze: 9, subset: { train: 64 } });
    const done = await waitForJob(app, job.id);
    assert.equal(done.status, 'failed');
    assert.equal(done.error!.code, 'FREEZE_TOO_MANY');
  });
});
