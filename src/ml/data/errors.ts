// The one error type of the dataset pipeline. `code` is stable and machine readable: the worker
// copies it into the job's `error.code`, so callers can branch on it without parsing messages.

export type DatasetErrorCode =
  | 'IDX_BAD_MAGIC'
  | 'IDX_BAD_DTYPE'
  | 'IDX_BAD_DIMS'
  | 'IDX_TRUNCATED'
  | 'IDX_TRAILING_BYTES'
  | 'IDX_COUNT_MISMATCH'
  | 'IDX_SHAPE_MISMATCH'
  | 'GZIP_CORRUPT'
  | 'INVALID_SOURCE'
  | 'SOURCE_NOT_FOUND'
  | 'DOWNLOAD_FAILED'
  | 'DOWNLOAD_TOO_LARGE'
  | 'DOWNLOAD_TIMEOUT'
  | 'URL_HOST_NOT_ALLOWED'
  | 'CHECKSUM_MISMATCH'
  | 'INVALID_PARAMS'
  | 'INVALID_SPLIT'
  | 'INVALID_AUGMENT'
  | 'AUGMENT_FLIP_UNSUPPORTED'
  | 'EMPTY_DATASET'
  | 'CANCELLED'
  | 'MANIFEST_INVALID';

export class DatasetError extends Error {
  readonly code: DatasetErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: DatasetErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatasetError';
    this.code = code;
    if (details !== undefined) this.details = details;
  }
}

export function isDatasetError(err: unknown, code?: DatasetErrorCode): err is DatasetError {
  return err instanceof DatasetError && (code === undefined || err.code === code);
}
