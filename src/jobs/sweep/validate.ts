// Checks of a sweep's params that its schema cannot express, run before the sweep is queued: the
// space against the trial type's schema, a grid's size, and the trial's own params.
import { AppError } from '../../shared/errors.js';
import { JOB_CONTRACT, type ParamsOf } from '../contract.js';
import { parseJobParams } from '../params.js';
import type { SweepParams, TrialType } from './params.js';
import { applyAssignment, gridPoints, validateSpace, type Assignment } from './space.js';

/** Why `params` are not valid params of a `type` job, or null. */
function problems(type: TrialType, params: unknown): string | null {
  try {
    parseJobParams(type, params);
    return null;
  } catch (err) {
    if (err instanceof AppError) return err.message;
    throw err;
  }
}

/** The params of a sweep's trial at `assignment`, parsed as the child job is submitted. */
export function trialParams<T extends TrialType>(type: T, params: object, assignment: Assignment): ParamsOf<T> {
  return parseJobParams(type, applyAssignment(params, assignment, JOB_CONTRACT[type].params));
}

/** Throws INVALID_SEARCH_SPACE naming what is wrong; returns one valid point of the space. */
export function validateSweep(p: SweepParams): Assignment {
  const point = validateSpace(p.space, p.trial.type, JOB_CONTRACT[p.trial.type].params, p.trial.params, (params) => problems(p.trial.type, params));
  if (p.algorithm === 'grid') gridPoints(p.space);
  return point;
}
