/**
 * Backoff schedules: how long to wait before each retry, as plain JSON, and the pure functions
 * that turn a schedule and a retry number into a delay. Jitter draws always come from the
 * caller, so the same draws give the same delays: in tests, and in the engine, where a durable
 * wait must come out the same when its handler runs again after the wait.
 *
 * Retries count from 1: retry 1 is the second attempt. An interval list gives the wait before
 * each retry in turn, and its last wait again for any retry past its end.
 */
import type { Duration } from './define';
import { durationMs } from './duration';

/**
 * `full`: anywhere from 0 to the delay; `equal`: half the delay plus up to the other half;
 * `decorrelated`: from the initial delay up to three times the previous one, capped (the
 * three strategies of the AWS Architecture Blog's "Exponential Backoff And Jitter").
 */
export type Jitter = 'none' | 'full' | 'equal' | 'decorrelated';

/** The jitters that need one draw and no previous delay. */
export type SimpleJitter = Exclude<Jitter, 'decorrelated'>;

export type BackoffSchedule =
  | { kind: 'fixed'; delayMs: number; jitter?: SimpleJitter }
  | { kind: 'exponential'; initialMs: number; rate: number; maxDelayMs?: number; jitter?: Jitter }
  | { kind: 'intervals'; delaysMs: number[]; jitter?: SimpleJitter };

/** The same wait before every retry. */
export function fixedBackoff(delay: Duration, jitter: SimpleJitter = 'none'): BackoffSchedule {
  return checked({ kind: 'fixed', delayMs: requireDuration(delay, 'a fixed backoff'), jitter });
}

/** `initial`, then `rate` times longer before each further retry, never more than `max`. */
export function exponentialBackoff(options: { initial: Duration; rate?: number; max?: Duration; jitter?: Jitter }): BackoffSchedule {
  const schedule: BackoffSchedule = {
    kind: 'exponential',
    initialMs: requireDuration(options.initial, 'the initial delay of an exponential backoff'),
    rate: options.rate ?? 2,
    jitter: options.jitter ?? 'none',
  };
  if (options.max !== undefined) schedule.maxDelayMs = requireDuration(options.max, 'the maximum delay of an exponential backoff');
  return checked(schedule);
}

/** Explicit waits before retry 1, 2, …: `intervalBackoff(['0h', '24h', '72h', '168h'])`. */
export function intervalBackoff(delays: readonly Duration[], jitter: SimpleJitter = 'none'): BackoffSchedule {
  return checked({ kind: 'intervals', delaysMs: delays.map((d, i) => requireDuration(d, `wait ${i + 1} of an interval backoff`)), jitter });
}

/** The wait before retry `retry` (1 for the first), before any jitter. */
export function baseDelayMs(schedule: BackoffSchedule, retry: number): number {
  const index = Math.max(1, Math.floor(retry)) - 1;
  switch (schedule.kind) {
    case 'fixed':
      return schedule.delayMs;
    case 'exponential': {
      const grown = schedule.initialMs * schedule.rate ** index;
      return Math.round(schedule.maxDelayMs === undefined ? grown : Math.min(grown, schedule.maxDelayMs));
    }
    case 'intervals':
      return schedule.delaysMs[Math.min(index, schedule.delaysMs.length - 1)] ?? 0;
  }
}

/** A delay with one-draw jitter applied; `draw` is in [0, 1). */
export function jitteredMs(delayMs: number, jitter: SimpleJitter, draw: number): number {
  switch (jitter) {
    case 'none':
      return delayMs;
    case 'full':
      return Math.floor(draw * delayMs);
    case 'equal':
      return Math.floor(delayMs / 2 + draw * (delayMs / 2));
  }
}

/**
 * The waits before retries 1 to `count`. A jittered schedule takes one draw from `random` per
 * retry, in order, so a generator seeded the same way gives the same sequence every time.
 */
export function backoffDelays(schedule: BackoffSchedule, count: number, random: () => number): number[] {
  const delays: number[] = [];
  const jitter = schedule.jitter ?? 'none';
  if (jitter !== 'decorrelated') {
    for (let retry = 1; retry <= count; retry++) {
      const base = baseDelayMs(schedule, retry);
      delays.push(jitter === 'none' ? base : jitteredMs(base, jitter, random()));
    }
    return delays;
  }
  // Decorrelated jitter grows from the previous wait, not the retry number: min(cap, U(base, 3 × previous)).
  const base = baseDelayMs(schedule, 1);
  const cap = schedule.kind === 'exponential' && schedule.maxDelayMs !== undefined ? schedule.maxDelayMs : Number.POSITIVE_INFINITY;
  let previous = base;
  for (let retry = 1; retry <= count; retry++) {
    previous = Math.floor(Math.min(cap, base + random() * (previous * 3 - base)));
    delays.push(previous);
  }
  return delays;
}

/** The wait before retry `retry`: the last of `backoffDelays(schedule, retry, random)`. */
export function backoffDelayMs(schedule: BackoffSchedule, retry: number, random: () => number): number {
  const delays = backoffDelays(schedule, Math.max(1, Math.floor(retry)), random);
  return delays[delays.length - 1]!;
}

/**
 * A deterministic generator of numbers in [0, 1) (mulberry32), seeded by a number or by a text
 * such as an instance id: the same seed gives the same draws in every process.
 */
export function seededRandom(seed: number | string): () => number {
  let state = typeof seed === 'number' ? Math.floor(seed) >>> 0 : fnv1a(seed);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * What is wrong with a schedule that came from JSON (an instance's data, a binding): one
 * sentence per problem, none when it is sound.
 */
export function backoffProblems(value: unknown): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return ['a backoff schedule is an object with a kind: fixed, exponential or intervals'];
  const schedule = value as Record<string, unknown>;
  const problems: string[] = [];
  const jitter = schedule['jitter'];
  if (jitter !== undefined && !['none', 'full', 'equal', 'decorrelated'].includes(String(jitter))) {
    problems.push(`jitter must be none, full, equal or decorrelated, not ${JSON.stringify(jitter)}`);
  }
  switch (schedule['kind']) {
    case 'fixed':
      if (!isDelay(schedule['delayMs'])) problems.push('delayMs must be 0 or more');
      break;
    case 'exponential':
      if (!isDelay(schedule['initialMs'])) problems.push('initialMs must be 0 or more');
      if (!(typeof schedule['rate'] === 'number' && schedule['rate'] >= 1)) problems.push('rate must be 1 or more');
      if (schedule['maxDelayMs'] !== undefined && !(isDelay(schedule['maxDelayMs']) && schedule['maxDelayMs'] > 0)) problems.push('maxDelayMs must be more than 0');
      if (jitter === 'decorrelated' && !(typeof schedule['initialMs'] === 'number' && schedule['initialMs'] > 0)) {
        problems.push('decorrelated jitter grows from the initial delay, which must be more than 0');
      }
      break;
    case 'intervals': {
      const delays = schedule['delaysMs'];
      if (!Array.isArray(delays) || delays.length === 0) problems.push('delaysMs must list at least one wait');
      else if (!delays.every(isDelay)) problems.push('every wait in delaysMs must be 0 or more');
      break;
    }
    default:
      return [`a backoff schedule's kind is fixed, exponential or intervals, not ${JSON.stringify(schedule['kind'])}`];
  }
  if (jitter === 'decorrelated' && schedule['kind'] !== 'exponential') {
    problems.push('decorrelated jitter grows from an initial delay towards a cap: use it with an exponential schedule');
  }
  return problems;
}

function checked(schedule: BackoffSchedule): BackoffSchedule {
  const problems = backoffProblems(schedule);
  if (problems.length > 0) throw new RangeError(`invalid backoff schedule: ${problems.join('; ')}`);
  return schedule;
}

function requireDuration(duration: Duration, what: string): number {
  const ms = durationMs(duration);
  if (ms === undefined) throw new RangeError(`${what} is ${JSON.stringify(duration)}, not a duration such as 30s, 5m, 24h or 1500`);
  return ms;
}

function isDelay(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** FNV-1a: a 32-bit hash, enough to spread seeds such as instance ids. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
