// The MNIST recipe in the browser: the pixel steps are the server's own (src/serving/mnist-recipe.ts,
// compiled into this bundle), only the 20×20 fit is the canvas's high-quality scaling where the server
// uses sharp's lanczos3 (a drawn digit comes out within a few grey levels of the server's version;
// test/ui/dashboard.test.ts measures it). The playground sends these 784 values, so the image it
// shows is exactly the one the model sees.
import { centreByMass, findDigit, fitSize } from '../../src/serving/mnist-recipe.ts';

export function toMnistPixels(source: CanvasImageSource, w: number, h: number): Float32Array | null {
  const work = document.createElement('canvas');
  work.width = w;
  work.height = h;
  const ctx = work.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(source, 0, 0, w, h);
  const digit = findDigit(ctx.getImageData(0, 0, w, h).data, w, h);
  if (!digit) return null;
  const { ink, box } = digit;

  // The ink's bounding box as an opaque grey image, scaled into 20×20 keeping its aspect ratio.
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
  const size = fitSize(box);
  const fit = document.createElement('canvas');
  fit.width = size.width;
  fit.height = size.height;
  const fctx = fit.getContext('2d', { willReadFrequently: true })!;
  fctx.imageSmoothingEnabled = true;
  fctx.imageSmoothingQuality = 'high';
  fctx.drawImage(crop, 0, 0, size.width, size.height);
  return centreByMass(fctx.getImageData(0, 0, size.width, size.height).data, size.width, size.height, 4) ?? null;
}
