// Checks of a sweep's params that its schema cannot express, run before the sweep is queued: the
// space against the trial type's schema, a grid's size, and the trial's own params.
import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { AppError } from '../../shared/errors.js';
import { JOB_PARAMS } from '../../shared/jobs.js';
import type { SweepParams, TrialType } from './params.js';
import { gridPoints, validateSpace } from './space.js';

// TypeBox's Value.Check knows no formats until they are registered (the API's Ajv has its own).
if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (v) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v));
if (!FormatRegistry.Has('uri')) FormatRegistry.Set('uri', (v) => URL.canParse(v));

const schemaOf = (type: TrialType): TSchema => JOB_PARAMS[type];

/** Why `params` are not valid params of a `type` job (with defaults filled in), or null. */
function problems(type: TrialType, params: unknown): string | null {
  const schema = schemaOf(type);
  const full = Value.Default(schema, structuredClone(params));
  if (Value.Check(schema, full)) return null;
  return [...Value.Errors(schema, full)]
    .slice(0, 3)
    .map((e) => `${e.path || '/'}: ${e.message}`)
    .join('; ');
}

/** A trial's params with their defaults, as the child job is submitted; INVALID_PARAMS when not valid. */
export function trialParams(type: TrialType, params: unknown): Record<string, unknown> {
  const why = problems(type, params);
  if (why) throw new AppError('INVALID_PARAMS', `Invalid ${type} params for a trial: ${why}`);
  return Value.Default(schemaOf(type), structuredClone(params)) as Record<string, unknown>;
}

export function validateSweep(p: SweepParams): void {
  validateSpace(p.space, p.trial.type, schemaOf(p.trial.type), p.trial.params, (params) => problems(p.trial.type, params));
  if (p.algorithm === 'grid') gridPoints(p.space);
}
