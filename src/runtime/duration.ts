import { InputError } from '../lib/files';
import type { Duration } from './define';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** Milliseconds in a duration, or undefined when the text is not one (`"3d"`, `"250ms"`, `1500`). */
export function durationMs(duration: Duration | string): number | undefined {
  if (typeof duration === 'number') return Number.isFinite(duration) && duration >= 0 ? duration : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(duration);
  if (match === null) return undefined;
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
}

/** Milliseconds in a duration, or an InputError naming `what` and its value. */
export function requireDurationMs(duration: Duration, what: string): number {
  const ms = durationMs(duration);
  if (ms === undefined) throw new InputError(`${what} is ${JSON.stringify(duration)}, not a duration such as 30s, 5m or 1500`);
  return ms;
}

/** How long a step may run when neither its binding nor the binding module's defaults set a timeout. */
export const DEFAULT_STEP_TIMEOUT = '60s';

/** How long a stopping worker waits for the steps in hand before letting them go to another. */
export const DEFAULT_DRAIN_TIMEOUT = '10s';
