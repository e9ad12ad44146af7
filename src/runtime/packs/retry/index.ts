/**
 * The retry pack: `retry.waitWithBackoff`, a step that waits durably before the next try of a
 * loop ("Wait with backoff" in a retry loop), per a backoff schedule and the loop's iteration.
 */
import { backoffDelayMs, backoffProblems, exponentialBackoff, seededRandom, type BackoffSchedule } from '../../backoff';
import type { PackFactory } from '../../builtins';
import { definePack, defineStep, type HandlerContext, type StepDefinition } from '../../define';
import { durationMs } from '../../duration';
import type { JsonObject } from '../../types';

/** 1 s, doubling, at most an hour, with full jitter: the schedule when neither binding nor data gives one. */
export const DEFAULT_BACKOFF: BackoffSchedule = exponentialBackoff({ initial: '1s', rate: 2, max: '1h', jitter: 'full' });

export class BackoffScheduleError extends Error {
  override readonly name = 'BackoffScheduleInvalid';
}

/**
 * A step that sleeps before retry `n`, where `n` is the loop's iteration when the step is in a
 * loop (its visit count otherwise), for as long as `schedule` says; without one, as the
 * instance's `backoff` field says (a schedule, or a list of durations), else `DEFAULT_BACKOFF`.
 * Jitter is drawn from a generator seeded by the instance and node, so the wait comes out the
 * same when the step runs again after it, and in every process.
 */
export function waitWithBackoff(schedule?: BackoffSchedule): StepDefinition {
  return defineStep(async (context) => {
    const chosen = schedule ?? scheduleFromData(context) ?? DEFAULT_BACKOFF;
    const retry = context.loop?.iteration ?? context.visit;
    const delayMs = backoffDelayMs(chosen, retry, seededRandom(`${context.instanceId}:${context.node.id}`));
    if (delayMs > 0) await context.sleep(delayMs);
    // Recorded in the data: which retry the step waited for, and how long.
    return { backoffWait: { retry, delayMs } };
  });
}

export const createRetryPack: PackFactory = () => definePack('retry', { 'retry.waitWithBackoff': waitWithBackoff() });

function scheduleFromData(context: HandlerContext<JsonObject>): BackoffSchedule | undefined {
  const given = context.data['backoff'];
  if (given === undefined || given === null) return undefined;
  if (Array.isArray(given)) {
    const delaysMs = given.map((wait) => (typeof wait === 'number' || typeof wait === 'string' ? durationMs(wait) : undefined));
    if (delaysMs.length === 0 || delaysMs.some((ms) => ms === undefined)) {
      throw new BackoffScheduleError(`${context.node.id}: the instance's backoff ${JSON.stringify(given)} is not a list of durations such as ["5s", "5m", "1h"]`);
    }
    return { kind: 'intervals', delaysMs: delaysMs as number[] };
  }
  const problems = backoffProblems(given);
  if (problems.length > 0) throw new BackoffScheduleError(`${context.node.id}: the instance's backoff schedule is invalid: ${problems.join('; ')}`);
  return given as unknown as BackoffSchedule;
}
