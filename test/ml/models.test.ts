import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/ml/tf.js';
import { initBackend } from '../../src/ml/backend.js';
import {
  ARCHITECTURES, DEFAULT_ARCHITECTURE, HEAD_LAYER, SOFTMAX_LAYER, buildModel, countParams, isArchitecture,
} from '../../src/ml/models.js';

before(async () => {
  await initBackend();
});

test('ARCHITECTURES lists the five models and the default is the VGG-style CNN', () => {
  assert.deepEqual([...ARCHITECTURES], ['mlp', 'simple-cnn', 'keras-cnn', 'strong-cnn', 'vgg-cnn']);
  assert.equal(DEFAULT_ARCHITECTURE, 'vgg-cnn');
  assert.ok(isArchitecture('mlp'));
  assert.ok(!isArchitecture('resnet'));
});

for (const arch of ARCHITECTURES) {
  test(`${arch}: 28×28×1 in, probabilities over numClasses out, head + softmax last`, () => {
    const model = buildModel(arch, { numClasses: 7, seed: 3 });
    try {
      assert.deepEqual(model.inputs[0].shape, [null, 28, 28, 1]);
      assert.deepEqual(model.outputs[0].shape, [null, 7]);
      const names = model.layers.map((l) => l.name);
      assert.deepEqual(names.slice(-2), [HEAD_LAYER, SOFTMAX_LAYER]);
      assert.equal(new Set(names).size, names.length, 'layer names are unique');
      const head = model.getLayer(HEAD_LAYER);
      assert.equal(head.getConfig().activation, 'linear');
      const probs = tf.tidy(() => (model.predict(tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 1)) as tf.Tensor).arraySync() as number[][]);
      for (const row of probs) {
        assert.equal(row.length, 7);
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      }
    } finally {
      model.dispose();
    }
  });
}

test('layer structure of each architecture', () => {
  const layerSummary = (arch: (typeof ARCHITECTURES)[number]) => {
    const m = buildModel(arch, { numClasses: 10, seed: 1 });
    const s = m.layers.map((l) => `${l.getClassName()}:${l.outputShape.slice(1).join('x')}`);
    m.dispose();
    return s;
  };
  assert.deepEqual(layerSummary('mlp'), ['Flatten:784', 'Dense:128', 'Dense:64', 'Dense:10', 'Activation:10']);
  assert.deepEqual(layerSummary('simple-cnn'), [
    'Conv2D:24x24x10', 'MaxPooling2D:12x12x10', 'Conv2D:8x8x20', 'MaxPooling2D:4x4x20',
    'Flatten:320', 'Dense:50', 'Dense:10', 'Activation:10',
  ]);
  assert.deepEqual(layerSummary('keras-cnn'), [
    'Conv2D:26x26x32', 'MaxPooling2D:13x13x32', 'Conv2D:11x11x64', 'MaxPooling2D:5x5x64', 'Conv2D:3x3x64',
    'Flatten:576', 'Dense:64', 'Dense:10', 'Activation:10',
  ]);
  const strong = layerSummary('strong-cnn');
  assert.equal(strong.filter((s) => s.startsWith('BatchNormalization')).length, 3);
  assert.equal(strong.filter((s) => s.startsWith('Dropout')).length, 2);
  assert.deepEqual(strong.slice(0, 4), ['Conv2D:24x24x32', 'MaxPooling2D:12x12x32', 'BatchNormalization:12x12x32', 'Activation:12x12x32']);
  // 'same' 3×3 convolutions in pairs keep 28×28, then 14×14, before each pooling.
  assert.deepEqual(layerSummary('vgg-cnn').filter((s) => /^(Conv2D|MaxPooling2D|Dense|Dropout)/.test(s)), [
    'Conv2D:28x28x32', 'Conv2D:28x28x32', 'MaxPooling2D:14x14x32', 'Conv2D:14x14x64', 'Conv2D:14x14x64', 'MaxPooling2D:7x7x64',
    'Dropout:7x7x64', 'Dense:256', 'Dropout:256', 'Dense:10',
  ]);
});

test('parameter count of the mlp is 784·128+128 + 128·64+64 + 64·10+10', () => {
  const m = buildModel('mlp', { numClasses: 10 });
  assert.equal(countParams(m), 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10);
  m.dispose();
});

test('the same seed gives identical initial weights, another seed different ones', () => {
  const a = buildModel('keras-cnn', { numClasses: 10, seed: 11 });
  const b = buildModel('keras-cnn', { numClasses: 10, seed: 11 });
  const c = buildModel('keras-cnn', { numClasses: 10, seed: 12 });
  try {
    const wa = a.getWeights().map((t) => t.dataSync());
    const wb = b.getWeights().map((t) => t.dataSync());
    const wc = c.getWeights().map((t) => t.dataSync());
    for (const [i, w] of wa.entries()) assert.deepEqual(w, wb[i]);
    // Kernels (even indices here: kernel, bias, ...) differ with the seed; zero biases do not.
    assert.notDeepEqual(wa[0], wc[0]);
    // Two layers of one model never share a random stream: conv2's kernel is not a prefix copy of conv1's.
    assert.notDeepEqual(Array.from(wa[2].slice(0, 10)), Array.from(wa[0].slice(0, 10)));
  } finally {
    a.dispose(); b.dispose(); c.dispose();
  }
});

test('other input shapes and class counts are honoured; bad values are refused', () => {
  const m = buildModel('simple-cnn', { numClasses: 3, inputShape: [32, 32, 1], seed: 1 });
  assert.deepEqual(m.inputs[0].shape, [null, 32, 32, 1]);
  assert.deepEqual(m.outputs[0].shape, [null, 3]);
  m.dispose();
  assert.throws(() => buildModel('mlp', { numClasses: 1 }), /numClasses/);
  assert.throws(() => buildModel('nope' as never, { numClasses: 10 }), /unknown architecture/);
});
