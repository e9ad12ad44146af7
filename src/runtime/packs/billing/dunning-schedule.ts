import { BillingConfigError } from './errors';
import { durationMs } from './durations';
import type { DeclineClass, DunningSchedule, DunningStep } from './types';

/**
 * The retry strategy of the billing architecture note, key for key:
 *
 *     soft_decline:   intervals [0h, 24h, 72h, 168h], max_attempts 4
 *     hard_decline:   intervals [],                   max_attempts 0
 *     expired_method: intervals [0h, 48h, 120h],      max_attempts 3, fallback request_update_via_portal
 *
 * `on_exhausted` is ours. Soft declines cancel when the retries run out, as the note's
 * transition matrix says (past_due → canceled on exhausted retries). Hard declines are
 * "immediate suspension" in the note and expired methods fall back to the portal: both leave
 * the subscription `unpaid` (access suspended, account kept) so a new card can still revive it.
 */
export const DEFAULT_DUNNING_SCHEDULE: DunningSchedule = {
  soft_decline: { intervals: ['0h', '24h', '72h', '168h'], max_attempts: 4, on_exhausted: 'cancel' },
  hard_decline: { intervals: [], max_attempts: 0, on_exhausted: 'mark_unpaid' },
  expired_method: { intervals: ['0h', '48h', '120h'], max_attempts: 3, fallback: 'request_update_via_portal', on_exhausted: 'mark_unpaid' },
};

const CLASSES: readonly DeclineClass[] = ['soft_decline', 'hard_decline', 'expired_method'];

/** Refuses a schedule that could not be followed: bad durations, intervals out of order, too few intervals. */
export function checkDunningSchedule(schedule: DunningSchedule): DunningSchedule {
  for (const declineClass of CLASSES) {
    const entry = schedule[declineClass];
    if (entry === undefined) throw new BillingConfigError(`The dunning schedule has no entry for ${declineClass}.`);
    const offsets = entry.intervals.map(durationMs);
    if (!Number.isInteger(entry.max_attempts) || entry.max_attempts < 0) {
      throw new BillingConfigError(`${declineClass}.max_attempts must be a whole number ≥ 0; got ${entry.max_attempts}.`);
    }
    if (entry.max_attempts > offsets.length) {
      throw new BillingConfigError(`${declineClass} allows ${entry.max_attempts} attempts but lists ${offsets.length} intervals.`);
    }
    for (let index = 1; index < offsets.length; index++) {
      if (offsets[index]! < offsets[index - 1]!) throw new BillingConfigError(`${declineClass}.intervals must not go back in time.`);
    }
    if (entry.on_exhausted !== 'cancel' && entry.on_exhausted !== 'mark_unpaid') {
      throw new BillingConfigError(`${declineClass}.on_exhausted must be cancel or mark_unpaid.`);
    }
  }
  return schedule;
}

/**
 * What the schedule says after a failed charge: `retriesSoFar` retries have been made since the
 * first failure at `firstFailedAt`. Retry n runs at firstFailedAt + intervals[n-1]; a class
 * with `max_attempts: 0` (hard declines) is exhausted at once and never retried.
 */
export function nextDunningStep(schedule: DunningSchedule, declineClass: DeclineClass, retriesSoFar: number, firstFailedAt: number): DunningStep {
  const entry = schedule[declineClass];
  if (retriesSoFar >= entry.max_attempts) {
    return { kind: 'exhausted', onExhausted: entry.on_exhausted, fallback: entry.fallback ?? null };
  }
  return { kind: 'retry', retry: retriesSoFar + 1, at: firstFailedAt + durationMs(entry.intervals[retriesSoFar]!) };
}
