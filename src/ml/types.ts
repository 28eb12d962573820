// Types shared by the ML modules (data, training, serving). Plain data, no TensorFlow objects.

import type { NormalizationKind } from './catalog.js';

export type { NormalizationKind };

/**
 * How raw uint8 pixels become model inputs. `mean` and `std` are the training split's pixel
 * statistics on the [0,1] scale; `standardize` uses them, the other kinds record them for reference.
 */
export interface Normalization {
  kind: NormalizationKind;
  mean: number;
  std: number;
}

/** One split held in memory: `images` is count×height×width pixels, row-major. */
export interface ImageSet {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

export { SPLITS, type SplitName } from './catalog.js';
