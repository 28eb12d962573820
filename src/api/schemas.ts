// Response schemas shared by several route groups.
import { Type, type TSchema } from '@sinclair/typebox';

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code, e.g. VALIDATION_FAILED' }),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { $id: 'ErrorResponse', title: 'Error' },
);
export const errorRef = Type.Ref('ErrorResponse');

/** Common error answers of a route: 400 plus the given statuses. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries([400, ...statuses].map((s) => [s, errorRef]));
}

export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

/** The Job schema of the contract (src/jobs/contract.ts), registered once by the app. */
export const jobRef = Type.Ref('Job');

export const PageQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page' })),
};

export function page(item: TSchema) {
  return Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });
}
