import type { CatchRoute, RetryPolicy } from '../compiler/types';

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
 * rate per earlier retry, capped by `maxDelaySeconds`, then with full jitter a uniform draw
 * between 0 and that (`random` in [0, 1) comes from the caller, keeping this deterministic).
 */
export function retryDelayMs(policy: RetryPolicy, retriesSoFar: number, random: number): number {
  let seconds = policy.intervalSeconds * policy.backoffRate ** retriesSoFar;
  if (policy.maxDelaySeconds !== undefined) seconds = Math.min(seconds, policy.maxDelaySeconds);
  const milliseconds = Math.round(seconds * 1000);
  return policy.jitterStrategy === 'FULL' ? Math.floor(random * milliseconds) : milliseconds;
}
