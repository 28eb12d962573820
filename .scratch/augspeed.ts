import seedrandom from 'seedrandom';
import { augmentBatch } from '../src/ml/data/augment.js';
const x = new Float32Array(64 * 784).map(() => Math.random());
for (const elastic of [null, { alpha: 8, sigma: 4 }]) {
  const t0 = performance.now();
  for (let b = 0; b < 200; b++) augmentBatch(x, 64, 28, 28, { rotationDeg: 10, shiftPx: 2, scale: [0.9, 1.1], elastic }, seedrandom(`a${b}`));
  console.log(elastic ? 'elastic' : 'affine', ((200 * 64) / ((performance.now() - t0) / 1000)).toFixed(0), 'images/s');
}
