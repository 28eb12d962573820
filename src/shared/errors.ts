// Errors with a stable machine-readable `code`, shared by every layer: the API answers them (the HTTP
// status of a code is chosen in one table, src/api/http-errors.ts), the worker records them as the
// `error` of a failed job. No layer but the API knows about HTTP.

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }

  toJSON(): ErrorBody {
    return { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) };
  }
}

export const notFound = (what: string, id: string, code = 'NOT_FOUND') => new AppError(code, `${what} ${id} was not found`);

/** Any thrown value as an error body: errors carrying a string `code` keep it, the rest are INTERNAL. */
export function toErrorBody(err: unknown, fallbackCode = 'INTERNAL'): ErrorBody {
  if (err instanceof AppError) return err.toJSON();
  const e = err as { code?: unknown; message?: unknown; details?: unknown };
  const code = typeof e?.code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(e.code) ? e.code : fallbackCode;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return { code, message, ...(e?.details === undefined ? {} : { details: e.details }) };
}
