// The dataset pipeline's public surface. Typical use by the dataset-prep worker:
//   resolveSource (worker/sources.ts) → readIdxDataset → prepareDatasetAsync → writeDataset
// and by training / evaluation: readManifest, loadSplit.
export { DatasetError, isDatasetError, type DatasetErrorCode } from './errors.js';
export {
  decodeIdxImages,
  decodeIdxLabels,
  encodeIdxImages,
  encodeIdxLabels,
  readIdxDataset,
  readIdxImages,
  readIdxLabels,
  type RawDataset,
  type RawSplit,
  type SourceFiles,
} from './idx.js';
export { applyNormalization, checkNormalization, normalizePixels, pixelStats, type PixelStats } from './normalize.js';
export {
  prepareDataset,
  prepareDatasetAsync,
  resolvePrepareParams,
  type AugmentParams,
  type PrepareInput,
  type PrepareParams,
  type PrepareProgress,
  type PreparedDataset,
  type PreparedSplit,
  type QualityReport,
  type ResolvedPrepareParams,
  type SplitSpec,
} from './prepare.js';
export { loadSplit, loadSplitBytes, readManifest, writeDataset, type DatasetManifest, type WrittenDataset } from './files.js';
