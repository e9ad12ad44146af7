import { BillingConfigError } from './errors';

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds in a configuration duration: a whole number and a unit, `0h`, `24h`, `30m`, `7d`. */
export function durationMs(text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text);
  if (match === null) throw new BillingConfigError(`Durations are a whole number and a unit (s, m, h, d), such as "24h"; got ${JSON.stringify(text)}.`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
