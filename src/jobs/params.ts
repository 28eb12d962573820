// parseJobParams: the one way raw job params become typed ones, used by the API at submit and by the
// worker when it runs a job. Defaults are applied first, then the result is validated, so a union
// branch never sees another branch's defaults (the bug Ajv had with `oneOf` schedules).
import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { Value, type ValueError } from '@sinclair/typebox/value';
import { AppError } from '../shared/errors.js';
import { JOB_CONTRACT, JOB_TYPES, type JobType, type ParamsOf } from './contract.js';

// TypeBox's Value checks only the formats registered with it.
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (v) => UUID_RE.test(v));
if (!FormatRegistry.Has('uri')) FormatRegistry.Set('uri', (v) => URL.canParse(v));
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (v) => !Number.isNaN(Date.parse(v)));

export const isJobType = (t: unknown): t is JobType => JOB_TYPES.includes(t as JobType);

export interface ParamIssue {
  path: string;
  message: string;
}

/** Validation issues of `value`; inside a tagged union, those of the branch its `type` names. */
export function explain(schema: TSchema, value: unknown): ParamIssue[] {
  const issues: ParamIssue[] = [];
  for (const e of Value.Errors(schema, value)) {
    issues.push(...explainOne(e));
    if (issues.length >= 10) break;
  }
  return issues;
}

function explainOne(e: ValueError): ParamIssue[] {
  const tag = (e.value as { type?: unknown } | null)?.type;
  const union = e.schema as Node;
  if (union.anyOf && union.discriminator && isObject(e.value)) {
    const branch = branchOf(union, tag);
    if (!branch) {
      const tags = union.anyOf.map((b) => (b as unknown as { properties: { type: { const: string } } }).properties.type.const);
      return [{ path: `${e.path}/type`, message: `must be one of ${tags.join(', ')}` }];
    }
    return explain(branch, e.value).map((i) => ({ path: e.path + i.path, message: i.message }));
  }
  return [{ path: e.path || '/', message: e.message }];
}

type Node = TSchema & { anyOf?: TSchema[]; properties?: Record<string, TSchema>; items?: TSchema | TSchema[]; discriminator?: unknown };
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const branchOf = (union: Node, tag: unknown) =>
  union.anyOf?.find((b) => (b as unknown as { properties?: { type?: { const?: unknown } } }).properties?.type?.const === tag);

/**
 * `value` with the schema's defaults filled in where a value is missing. Our own rather than
 * TypeBox's Value.Default, which merges an object default into a given object (a default cosine
 * schedule would lend its minLearningRate to a submitted `{type: 'constant'}`); here a default
 * applies only where nothing was given, and a tagged union fills in the branch its `type` names.
 */
export function withDefaults(schema: TSchema, value: unknown): unknown {
  const s = schema as Node;
  if (value === undefined && 'default' in s) value = structuredClone(s.default);
  if (s.anyOf) {
    if (s.discriminator) {
      const branch = isObject(value) ? branchOf(s, value.type) : undefined;
      return branch ? withDefaults(branch, value) : value;
    }
    for (const branch of s.anyOf) {
      const candidate = withDefaults(branch, structuredClone(value));
      if (Value.Check(branch, candidate)) return candidate;
    }
    return value;
  }
  if (s.properties && isObject(value)) {
    for (const [key, prop] of Object.entries(s.properties)) {
      const v = withDefaults(prop, value[key]);
      if (v !== undefined) value[key] = v;
    }
    return value;
  }
  if (s.items && !Array.isArray(s.items) && Array.isArray(value)) return value.map((v) => withDefaults(s.items as TSchema, v));
  return value;
}

/** Options asked for that are refused on purpose: the error says why, which a schema error would not. */
const REFUSED: Partial<Record<JobType, (raw: Record<string, unknown>) => AppError | undefined>> = {
  'dataset-prep': (raw) => {
    const augment = raw.augment;
    if (augment && typeof augment === 'object' && 'flip' in augment) {
      return new AppError('AUGMENT_FLIP_UNSUPPORTED', 'Flips are not offered: a mirrored digit is often another digit or no digit at all (2, 5, 7 …)');
    }
    return undefined;
  },
};

/** Raw params of a job of `type`, defaults filled in and validated; a VALIDATION_FAILED error otherwise. */
export function parseJobParams<T extends JobType>(type: T, raw: unknown): ParamsOf<T> {
  const schema = JOB_CONTRACT[type].params;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new AppError('VALIDATION_FAILED', 'params must be an object', [{ path: '/params', message: 'must be an object' }]);
  }
  const refused = REFUSED[type]?.(raw as Record<string, unknown>);
  if (refused) throw refused;
  const value = withDefaults(schema, structuredClone(raw));
  const issues = explain(schema, value);
  if (issues.length) {
    const first = issues[0]!;
    throw new AppError('VALIDATION_FAILED', `params${first.path === '/' ? '' : first.path} ${first.message}`, issues.map((i) => ({ ...i, path: `/params${i.path === '/' ? '' : i.path}` })));
  }
  return value as ParamsOf<T>;
}
