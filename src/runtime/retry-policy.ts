import type { CatchRoute, RetryPolicy } from '../compiler/types';
import { backoffDelayMs, baseDelayMs, jitteredMs, seededRandom, type BackoffSchedule } from './backoff';

/** Matches every error in `errorEquals`, as in Amazon States Language. */
export const ALL_ERRORS = 'States.ALL';

export function matchesError(errorEquals: readonly string[], name: string): boolean {
  return errorEquals.includes(ALL_ERRORS) || errorEquals.includes(name);
}

/**
 * The retrier that handles an error: the first whose `errorEquals` matches, as in States
 * Language — when its attempts are used up, later retriers are not tried.
 */
export function retrierFor(policies: readonly RetryPolicy[], errorName: string): number {
  return policies.findIndex((p) => matchesError(p.errorEquals, errorName));
}

export function catchFor(routes: readonly CatchRoute[], errorName: string): CatchRoute | undefined {
  return routes.find((r) => matchesError(r.errorEquals, errorName));
}

/**
 * Milliseconds before retry number `retriesSoFar + 1`: the interval grown by the backoff
 * rate per earlier retry, capped by `maxDelaySeconds` (or the entry of `scheduleSeconds`),
 * then jittered with `random` in [0, 1) from the caller, keeping this deterministic. The core
 * keeps no previous delay, so decorrelated jitter replays its sequence from a generator seeded
 * by that draw: the delay has the distribution the stateful algorithm gives at that retry.
 */
export function retryDelayMs(policy: RetryPolicy, retriesSoFar: number, random: number): number {
  const schedule = backoffOf(policy);
  if (policy.jitterStrategy === 'DECORRELATED') return backoffDelayMs(schedule, retriesSoFar + 1, seededRandom(random * 2 ** 32));
  const jitter = policy.jitterStrategy === 'FULL' ? 'full' : policy.jitterStrategy === 'EQUAL' ? 'equal' : 'none';
  return jitteredMs(baseDelayMs(schedule, retriesSoFar + 1), jitter, random);
}

function backoffOf(policy: RetryPolicy): BackoffSchedule {
  const jitter = policy.jitterStrategy === 'DECORRELATED' ? 'decorrelated' : 'none';
  if (policy.scheduleSeconds !== undefined) return { kind: 'intervals', delaysMs: policy.scheduleSeconds.map((s) => Math.round(s * 1000)) };
  const schedule: BackoffSchedule = { kind: 'exponential', initialMs: policy.intervalSeconds * 1000, rate: policy.backoffRate, jitter };
  if (policy.maxDelaySeconds !== undefined) schedule.maxDelayMs = policy.maxDelaySeconds * 1000;
  return schedule;
}
