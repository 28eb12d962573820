// The search space of a sweep: dotted paths into a trial's params, each with a distribution, and
// its validation against the trial type's params schema before anything runs.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { AppError } from '../../shared/errors.js';

const Bounds = Type.Tuple([Type.Number(), Type.Number()], { description: '[low, high]' });
const Values = Type.Array(Type.Unknown(), { minItems: 1, maxItems: 1000 });

export const Distribution = Type.Union(
  [
    Type.Object({ choice: Values }, { additionalProperties: false, description: 'One of the values, equally likely' }),
    Type.Object({ grid: Values }, { additionalProperties: false, description: 'Every value in turn with `algorithm: grid`; a choice otherwise' }),
    Type.Object({ uniform: Bounds }, { additionalProperties: false, description: 'A number uniform in [low, high]' }),
    Type.Object({ logUniform: Bounds }, { additionalProperties: false, description: 'A number whose logarithm is uniform in [log low, log high]; low > 0' }),
    Type.Object({ intUniform: Bounds }, { additionalProperties: false, description: 'An integer uniform in [low, high], both included' }),
  ],
  {},
);
export type Distribution = Static<typeof Distribution>;

export const PATH_PATTERN = '^[A-Za-z][A-Za-z0-9]*(\\.[A-Za-z][A-Za-z0-9]*)*$';
export const SearchSpace = Type.Record(Type.String({ pattern: PATH_PATTERN }), Distribution, {
  minProperties: 1,
  maxProperties: 20,
  description: "Dotted paths into the trial's params (e.g. `optimizer.learningRate`), each with its distribution",
});
export type SearchSpace = Record<string, Distribution>;

/** A point of the space: path → value. */
export type Assignment = Record<string, unknown>;

export type Dimension =
  | { path: string; kind: 'categorical'; values: unknown[]; grid: boolean }
  | { path: string; kind: 'uniform' | 'logUniform' | 'intUniform'; low: number; high: number };

/** The space as a list of dimensions in a fixed (sorted) order, so sampling never depends on key order. */
export function dimensions(space: SearchSpace): Dimension[] {
  return Object.keys(space)
    .sort()
    .map((path): Dimension => {
      const d = space[path] as Record<string, unknown>;
      if ('choice' in d) return { path, kind: 'categorical', values: d.choice as unknown[], grid: false };
      if ('grid' in d) return { path, kind: 'categorical', values: d.grid as unknown[], grid: true };
      const kind = (['uniform', 'logUniform', 'intUniform'] as const).find((k) => k in d)!;
      const [low, high] = d[kind] as [number, number];
      return { path, kind, low, high };
    });
}

// ---- dotted paths ------------------------------------------------------------------------------

export function getPath(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const key of path.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** A deep copy of `obj` with `value` at `path` (intermediate objects are created as needed). */
export function withPath<T>(obj: T, path: string, value: unknown): T {
  const out = structuredClone(obj) as Record<string, unknown>;
  const keys = path.split('.');
  let cur = out;
  for (const key of keys.slice(0, -1)) {
    if (!cur[key] || typeof cur[key] !== 'object') cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]!] = value;
  return out as T;
}

/**
 * The trial's params with every value of the assignment put in place. Where a path goes through an
 * object the trial leaves out and `schema` makes it a union tagged by `type` (an optimizer, a
 * schedule), the new object gets the `type` of the schema's default: `optimizer.learningRate` alone
 * then means the default optimizer at that rate, and `schedule.type` alone a schedule of that type
 * with its own defaults.
 */
export function applyAssignment<T>(params: T, assignment: Assignment, schema?: TSchema): T {
  let out = params;
  for (const [path, value] of Object.entries(assignment)) {
    const keys = path.split('.');
    for (let i = 1; i < keys.length; i++) {
      const prefix = keys.slice(0, i).join('.');
      if (getPath(out, prefix) !== undefined || !schema) continue;
      const tagged = schemasAt(schema, prefix).find((s) => s.discriminator && (s.default as { type?: unknown } | undefined)?.type !== undefined);
      if (tagged) out = withPath(out, prefix, { type: (tagged.default as { type: unknown }).type });
    }
    out = withPath(out, path, value);
  }
  return out;
}

// ---- validation --------------------------------------------------------------------------------

/**
 * The schemas a dotted path can name inside `schema` (several where it crosses a union, e.g.
 * `schedule.type` exists in every schedule variant). Empty when the path names no parameter.
 */
export function schemasAt(schema: TSchema, path: string): TSchema[] {
  let current: TSchema[] = [schema];
  for (const key of path.split('.')) {
    const next: TSchema[] = [];
    const visit = (s: TSchema) => {
      if (Array.isArray(s.anyOf)) return s.anyOf.forEach(visit);
      if (Array.isArray(s.oneOf)) return s.oneOf.forEach(visit);
      if (s.type === 'object' && s.properties && key in s.properties) next.push(s.properties[key]);
    };
    current.forEach(visit);
    current = next;
    if (!current.length) return [];
  }
  return current;
}

/** Checks a candidate trial's params: null when valid, else why not. */
export type ParamsCheck = (params: unknown) => string | null;

const invalid = (message: string, details: Record<string, unknown>) => new AppError('INVALID_SEARCH_SPACE', message, details);

/**
 * The values of a dimension worth checking: every listed value, or both bounds of a range and, for
 * a continuous one, a fractional point inside (an integer parameter refuses it).
 */
function candidates(d: Dimension): unknown[] {
  if (d.kind === 'categorical') return d.values;
  if (d.kind === 'intUniform') return [d.low, d.high];
  return [d.low, d.high, d.low + (d.high - d.low) / Math.PI];
}

/**
 * Validates the space against the trial: each path must name a parameter of the trial type, and each
 * value the distribution can produce must make valid params (a range is checked at both bounds and
 * one fractional point: schema bounds are intervals, so the values between are valid too). Throws INVALID_SEARCH_SPACE
 * naming the path. `check` validates a whole candidate params object the way a submit would.
 * Returns one valid point (each dimension at its first value).
 */
export function validateSpace(space: SearchSpace, trialType: string, trialSchema: TSchema, trialParams: object, check: ParamsCheck): Assignment {
  const dims = dimensions(space);
  for (const d of dims) {
    if (!schemasAt(trialSchema, d.path).length) {
      throw invalid(`space: "${d.path}" is not a parameter of a ${trialType} job`, { path: d.path });
    }
    if (d.kind !== 'categorical') {
      const { low, high } = d;
      if (!Number.isFinite(low) || !Number.isFinite(high) || !(low < high)) {
        throw invalid(`space: "${d.path}" needs [low, high] with low < high (got [${low}, ${high}])`, { path: d.path });
      }
      if (d.kind === 'logUniform' && low <= 0) throw invalid(`space: "${d.path}" is logUniform and needs low > 0 (got ${low})`, { path: d.path });
      if (d.kind === 'intUniform' && (!Number.isInteger(low) || !Number.isInteger(high))) {
        throw invalid(`space: "${d.path}" is intUniform and needs integer bounds (got [${low}, ${high}])`, { path: d.path });
      }
    }
  }
  // Every other dimension at its first candidate; vary one dimension at a time over its candidates.
  const base: Assignment = Object.fromEntries(dims.map((d) => [d.path, candidates(d)[0]]));
  for (const d of dims) {
    for (const value of candidates(d)) {
      const why = check(applyAssignment(trialParams, { ...base, [d.path]: value }, trialSchema));
      if (why) {
        throw invalid(`space: ${JSON.stringify(value)} is not a valid value of "${d.path}" for a ${trialType} job: ${why}`, { path: d.path, value });
      }
    }
  }
  return base;
}

export const MAX_GRID_POINTS = 10_000;

/** The points of a grid search: the cartesian product of every dimension (each must be a list). */
export function gridPoints(space: SearchSpace): Assignment[] {
  const dims = dimensions(space);
  const continuous = dims.find((d) => d.kind !== 'categorical');
  if (continuous) {
    throw invalid(`space: "${continuous.path}" is a ${continuous.kind} range; algorithm grid needs \`grid\` or \`choice\` lists`, { path: continuous.path });
  }
  const size = dims.reduce((n, d) => n * (d as { values: unknown[] }).values.length, 1);
  if (size > MAX_GRID_POINTS) throw invalid(`space: the grid has ${size} points; at most ${MAX_GRID_POINTS}`, { size });
  let points: Assignment[] = [{}];
  for (const d of dims as Extract<Dimension, { kind: 'categorical' }>[]) {
    points = points.flatMap((p) => d.values.map((v) => ({ ...p, [d.path]: v })));
  }
  return points;
}
