// sweep: a hyper-parameter search whose trials are child train / fine-tune jobs. The processor holds
// no state of its own: every half second it reads its children and their metric rows from Postgres,
// and from them alone decides what to do (start trials up to maxParallel, stop trials ASHA has
// stopped, fail after too many failures, finish). A sweep picked up again after its worker died or
// shut down therefore carries on where it was: the trials it proposes are reproducible from the seed
// (see samplers.ts) and ASHA's decisions from the metric rows (see asha.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../../shared/errors.js';
import { ashaStopAt, rungs } from '../../jobs/sweep/asha.js';
import { ashaSetup, rungValues } from '../../jobs/sweep/gate.js';
import { DEFAULT_MAX_TRIALS, type SweepParams, type SweepResult } from '../../jobs/sweep/params.js';
import { createSampler, type Observation } from '../../jobs/sweep/samplers.js';
import { bestTrial, leaderboard, progressOf } from '../../jobs/sweep/trials.js';
import { loadTrials, type Child } from '../../jobs/sweep/load.js';
import type { JobContext, Processor } from '../../jobs/registry.js';
import type { TrialJobs } from '../../jobs/sweep/trial-jobs.js';
import { Released } from '../job-context.js';

const POLL_MS = 500;
const ACTIVE = ['queued', 'running'];

export function sweepProcessor(jobs: TrialJobs): Processor<'sweep'> {
  return async (ctx) => {
    const p = ctx.params;
    const t0 = performance.now();
    const { metric, goal } = p.objective;
    const sampler = createSampler(p.algorithm, p.space, { seed: p.seed, maxTrials: p.maxTrials ?? DEFAULT_MAX_TRIALS, goal });
    const stopAll = async (children: Child[]) => {
      for (const c of children) if (ACTIVE.includes(c.status)) await jobs.cancel(c.id);
    };

    let children: Child[];
    for (;;) {
      children = await loadTrials(ctx.db, ctx.id, p.space, metric);
      if (ctx.cancelled()) {
        await stopAll(children);
        return undefined;
      }
      const failed = children.filter((c) => c.status === 'failed');
      if (failed.length > p.maxFailedTrials) {
        await stopAll(children);
        throw new AppError('TOO_MANY_FAILED_TRIALS', `${failed.length} trials failed (maxFailedTrials ${p.maxFailedTrials})`, {
          failed: failed.map((c) => ({ trialId: c.id, error: c.error })),
        });
      }
      await stopMissed(ctx, jobs, p, children);

      // Start trials until maxParallel run at once.
      let active = children.filter((c) => ACTIVE.includes(c.status)).length;
      while (active < p.maxParallel && children.length < sampler.trials) {
        const finished: Observation[] = children
          .filter((c) => c.status === 'succeeded' && c.lastObjective !== null)
          .map((c) => ({ assignment: c.assignment, objective: c.lastObjective! }));
        const index = children.length;
        const assignment = sampler.sample(index, finished);
        await jobs.create(ctx.id, index, p.trial.type, p.trial.params, assignment);
        children = await loadTrials(ctx.db, ctx.id, p.space, metric);
        active++;
      }
      ctx.progress(progressOf(children, sampler.trials, goal));
      if (children.length >= sampler.trials && children.every((c) => !ACTIVE.includes(c.status))) break;
      // A sweep holds nothing in memory: on shutdown it goes back to the queue and the next worker
      // carries on from the rows.
      if (ctx.stopping()) throw new Released();
      await sleep(POLL_MS, undefined, { signal: ctx.signal }).catch(() => {});
    }

    const board = leaderboard(children, goal);
    const best = bestTrial(board);
    if (p.promoteAlias) {
      if (!best) throw new AppError('NO_SUCCESSFUL_TRIAL', `No trial produced a model to point alias ${p.promoteAlias} at`);
      await jobs.promoteAlias(p.promoteAlias, best.modelId!);
    }
    const result: SweepResult = {
      leaderboard: board,
      best,
      promotedAlias: p.promoteAlias && best ? p.promoteAlias : null,
      trials: children.length,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    };
    return result;
  };
}

/**
 * The trials take ASHA's decisions themselves at each rung (gate.ts). A trial that went past a rung
 * it should have stopped at (its decision was missed, e.g. it resumed from a later checkpoint) is
 * asked to stop now, at the end of its current epoch.
 */
async function stopMissed(ctx: JobContext<'sweep'>, jobs: TrialJobs, p: SweepParams, children: Child[]) {
  const running = children.filter((c) => c.status === 'running' && !c.stopRequested && c.epochs > 0);
  if (!running.length || !p.earlyStopping) return;
  const setups = new Map(running.map((c) => [c.id, ashaSetup(p, c.params.epochs ?? 1)!]));
  const epochs = [...new Set([...setups.values()].flatMap((s) => rungs(s.asha)))];
  const values = await rungValues(ctx.db, ctx.id, p.objective.metric, epochs);
  for (const c of running) {
    const setup = setups.get(c.id)!;
    const stopAt = ashaStopAt(setup.asha, setup.goal, c.id, values);
    if (stopAt !== null && c.epochs > stopAt) {
      ctx.log.info({ trialId: c.id, rung: stopAt, epochs: c.epochs }, 'trial went past a rung ASHA stops it at; asking it to stop');
      await jobs.requestStop(c.id);
    }
  }
}
