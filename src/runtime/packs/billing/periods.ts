import type { BillingInterval } from './types';

/**
 * The bounds of billing period `index` of a subscription anchored at `anchorAt`, in UTC.
 * Months are calendar months counted from the anchor, not from the previous period, and a day
 * the month lacks is clamped to its last day: an anchor of 31 January renews on 28 (or 29)
 * February and again on 31 March, as card networks' subscriptions do.
 */
export function periodBounds(anchorAt: number, interval: BillingInterval, index: number): { start: number; end: number } {
  return { start: periodBoundary(anchorAt, interval, index), end: periodBoundary(anchorAt, interval, index + 1) };
}

function periodBoundary(anchorAt: number, interval: BillingInterval, index: number): number {
  const steps = interval.count * index;
  if (interval.unit === 'day') return anchorAt + steps * 86_400_000;
  const months = interval.unit === 'month' ? steps : steps * 12;
  const anchor = new Date(anchorAt);
  const monthIndex = anchor.getUTCMonth() + months;
  const year = anchor.getUTCFullYear() + Math.floor(monthIndex / 12);
  const month = ((monthIndex % 12) + 12) % 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return Date.UTC(
    year,
    month,
    Math.min(anchor.getUTCDate(), lastDay),
    anchor.getUTCHours(),
    anchor.getUTCMinutes(),
    anchor.getUTCSeconds(),
    anchor.getUTCMilliseconds(),
  );
}
