// The MNIST recipe's pixel steps, shared by the server and the dashboard's build: the module stays
// importable by both (no imports at all), the browser's 20×20 fit size is sharp's, and the web code
// holds no copy of the steps.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { centreByMass, findDigit, fitSize, MNIST_PIXELS } from '../../src/serving/mnist-recipe.ts';

const MODULE = path.resolve('src/serving/mnist-recipe.ts');

describe('mnist-recipe', () => {
  it('imports nothing, so the web build can compile it (no Node, sharp or TensorFlow)', async () => {
    const src = await readFile(MODULE, 'utf8');
    assert.doesNotMatch(src, /^\s*(import|export)\s[^;]*\sfrom\s/m);
    assert.doesNotMatch(src, /\b(require|import)\s*\(/);
    assert.doesNotMatch(src, /\b(Buffer|process|document|window)\./);
  });

  it('the web code uses it and keeps no copy of its steps', async () => {
    const files = (await readdir('web/src', { recursive: true })).filter((f) => /\.tsx?$/.test(f));
    const sources = await Promise.all(files.map(async (f) => [f, await readFile(path.join('web/src', f), 'utf8')] as const));
    for (const [f, s] of sources) assert.doesNotMatch(s, /function (flattenToGray|extractInk|inkBox|centreByMass|percentile)\b/, `web/src/${f} copies a step`);
    assert.ok(sources.some(([, s]) => s.includes("from '../../src/serving/mnist-recipe.ts'")));
  });

  it('fits a box into 20×20 at the size sharp fit inside makes', async () => {
    for (let w = 1; w <= 100; w += 3) {
      for (const h of [1, 7, 19, 20, 21, 33, 64, 150, 280]) {
        const out = await sharp(Buffer.alloc(w * h, 200), { raw: { width: w, height: h, channels: 1 } })
          .resize({ width: 20, height: 20, fit: 'inside', kernel: 'lanczos3' })
          .raw()
          .toBuffer({ resolveWithObject: true });
        assert.deepEqual(fitSize({ width: w, height: h }), { width: out.info.width, height: out.info.height }, `${w}×${h}`);
      }
    }
    assert.deepEqual(fitSize({ width: 88, height: 33 }), { width: 20, height: 7 }); // 7.5 rounds down, as sharp does
  });

  it('finds dark ink on a light background and centres it by mass, peak 1', () => {
    // 60×40 RGBA, white, with a dark 10×20 bar at x 5..14, y 10..29.
    const w = 60;
    const h = 40;
    const rgba = new Uint8ClampedArray(w * h * 4).fill(255);
    for (let y = 10; y < 30; y++) for (let x = 5; x < 15; x++) rgba.set([20, 20, 20, 255], (y * w + x) * 4);
    const digit = findDigit(rgba, w, h)!;
    assert.deepEqual(digit.box, { left: 5, top: 10, width: 10, height: 20 });
    assert.equal(digit.ink[15 * w + 8], 255);
    assert.equal(digit.ink[0], 0);
    const px = centreByMass(new Uint8Array(10 * 20).fill(255), 10, 20, 1)!;
    assert.equal(px.length, MNIST_PIXELS);
    assert.equal(Math.max(...px), 1);
    // Centre of mass (4.5, 9.5) moved to (14,14): columns 10..19, rows 5..24.
    assert.equal(px[5 * 28 + 10], 1);
    assert.equal(px[24 * 28 + 19], 1);
    assert.equal(px[5 * 28 + 9], 0);
    assert.equal(px[4 * 28 + 10], 0);
    assert.equal(findDigit(new Uint8ClampedArray(w * h * 4).fill(255), w, h), undefined); // blank
  });
});
