/**
 * When a failed delivery is tried again, as data: entry `n` is the wait before attempt `n + 1`
 * of a round, counted from the end of the attempt before it (the first entry from enqueueing).
 * A round has as many attempts as the schedule has entries; after the last fails the delivery
 * is a dead letter.
 */
export type RetrySchedule = readonly number[];

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts over about 27.6 hours. */
export const DEFAULT_RETRY_SCHEDULE: RetrySchedule = [0, 5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR];

/**
 * When attempt `attemptsMade + 1` of a round is due, given when the last one ended (or the
 * delivery was enqueued, for the first); undefined when the round is used up.
 */
export function nextAttemptAt(
  attemptsMade: number,
  lastAttemptEndedAt: number,
  schedule: RetrySchedule = DEFAULT_RETRY_SCHEDULE,
): number | undefined {
  const delay = schedule[attemptsMade];
  return delay === undefined ? undefined : lastAttemptEndedAt + delay;
}
