// The MNIST recipe of src/serving/inputs.ts, in the browser: grayscale (alpha flattened onto the
// background that contrasts with the ink) → invert when dark on light → stretch contrast → crop to the
// ink's bounding box → fit into 20×20 → paste into 28×28 centred by mass, brightest pixel 1.
// The playground sends these 784 values, so the image it shows is exactly the one the model sees.
// (The server fits with sharp's lanczos3, the browser with its high-quality canvas scaling: a drawn
// digit comes out within a few grey levels of the server's version.)

const SIDE = 28;
const FIT = 20;
const CENTRE = 14;
const MIN_CONTRAST = 24;
const INK_THRESHOLD = Math.round(0.1 * 255);

export function toMnistPixels(source: CanvasImageSource, w: number, h: number): Float32Array | null {
  const work = document.createElement('canvas');
  work.width = w;
  work.height = h;
  const ctx = work.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(source, 0, 0, w, h);
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const ink = extractInk(flattenToGray(rgba, w * h), w, h);
  if (!ink) return null;
  const box = inkBox(ink, w, h);
  if (!box) return null;

  // Crop the ink and fit it into 20×20, keeping its aspect ratio.
  const crop = document.createElement('canvas');
  crop.width = box.width;
  crop.height = box.height;
  const cctx = crop.getContext('2d')!;
  const img = cctx.createImageData(box.width, box.height);
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const v = ink[(box.top + y) * w + box.left + x]!;
      img.data.set([v, v, v, 255], (y * box.width + x) * 4);
    }
  }
  cctx.putImageData(img, 0, 0);
  const scale = FIT / Math.max(box.width, box.height);
  const pw = Math.max(1, Math.min(FIT, Math.round(box.width * scale)));
  const ph = Math.max(1, Math.min(FIT, Math.round(box.height * scale)));
  const fit = document.createElement('canvas');
  fit.width = pw;
  fit.height = ph;
  const fctx = fit.getContext('2d', { willReadFrequently: true })!;
  fctx.imageSmoothingEnabled = true;
  fctx.imageSmoothingQuality = 'high';
  fctx.drawImage(crop, 0, 0, pw, ph);
  const patch = fctx.getImageData(0, 0, pw, ph).data;
  return centreByMass(patch, pw, ph);
}

function flattenToGray(rgba: Uint8ClampedArray, n: number): Uint8Array {
  const gray = new Uint8Array(n);
  let sumA = 0;
  let sumGA = 0;
  let translucent = false;
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const g = 0.299 * rgba[j]! + 0.587 * rgba[j + 1]! + 0.114 * rgba[j + 2]!;
    const a = rgba[j + 3]!;
    gray[i] = g + 0.5;
    sumA += a;
    sumGA += g * a;
    if (a !== 255) translucent = true;
  }
  if (!translucent) return gray;
  const bg = sumA > 0 && sumGA / sumA < 128 ? 255 : 0;
  for (let i = 0, j = 3; i < n; i++, j += 4) {
    const a = rgba[j]! / 255;
    gray[i] = gray[i]! * a + bg * (1 - a) + 0.5;
  }
  return gray;
}

function percentile(hist: Uint32Array, count: number, q: number): number {
  const target = Math.max(1, Math.ceil(q * count));
  let acc = 0;
  for (let v = 0; v < 256; v++) {
    acc += hist[v]!;
    if (acc >= target) return v;
  }
  return 255;
}

function extractInk(gray: Uint8Array, w: number, h: number): Uint8Array | undefined {
  const hist = new Uint32Array(256);
  for (const g of gray) hist[g]!++;
  let lo = 0;
  while (hist[lo] === 0) lo++;
  let hi = 255;
  while (hist[hi] === 0) hi--;
  const ring = Math.max(1, Math.floor(Math.min(w, h) / SIDE));
  const borderHist = new Uint32Array(256);
  let borderCount = 0;
  for (let y = 0; y < h; y++) {
    const edgeRow = y < ring || y >= h - ring;
    for (let x = 0; x < w; x++) {
      if (edgeRow || x < ring || x >= w - ring) {
        borderHist[gray[y * w + x]!]!++;
        borderCount++;
      }
    }
  }
  const bg = percentile(borderHist, borderCount, 0.5);
  const invert = bg - lo > hi - bg;
  const contrast = invert ? bg - lo : hi - bg;
  if (contrast < MIN_CONTRAST) return undefined;
  const noiseQ = invert ? percentile(borderHist, borderCount, 0.1) : percentile(borderHist, borderCount, 0.9);
  const noise = Math.min(Math.abs(noiseQ - bg), Math.floor(contrast * 0.3));
  const scale = 255 / (contrast - noise);
  const ink = new Uint8Array(gray.length);
  for (let i = 0; i < gray.length; i++) {
    const d = (invert ? bg - gray[i]! : gray[i]! - bg) - noise;
    ink[i] = d <= 0 ? 0 : Math.min(255, d * scale + 0.5);
  }
  return ink;
}

function inkBox(ink: Uint8Array, w: number, h: number) {
  let x0 = w;
  let x1 = -1;
  let y0 = h;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (ink[y * w + x]! >= INK_THRESHOLD) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  if (x1 < 0) return undefined;
  return { left: x0, top: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

function centreByMass(patch: Uint8ClampedArray, pw: number, ph: number): Float32Array | null {
  let mass = 0;
  let mx = 0;
  let my = 0;
  let peak = 0;
  for (let y = 0; y < ph; y++) {
    for (let x = 0; x < pw; x++) {
      const v = patch[(y * pw + x) * 4]!;
      mass += v;
      mx += v * x;
      my += v * y;
      if (v > peak) peak = v;
    }
  }
  if (mass === 0) return null;
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  const ox = clamp(Math.round(CENTRE - mx / mass), SIDE - pw);
  const oy = clamp(Math.round(CENTRE - my / mass), SIDE - ph);
  const out = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < ph; y++) {
    for (let x = 0; x < pw; x++) out[(oy + y) * SIDE + ox + x] = patch[(y * pw + x) * 4]! / peak;
  }
  return out;
}
