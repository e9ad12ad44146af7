import { describe, expect, it } from 'vitest';
import { classifyDecline, DEFAULT_DECLINE_CLASSIFICATION, DEFAULT_DUNNING_SCHEDULE, nextDunningStep } from '../../../src/runtime/packs/billing/index';
import { checkDeclineClassification } from '../../../src/runtime/packs/billing/declines';
import { checkDunningSchedule } from '../../../src/runtime/packs/billing/dunning-schedule';
import type { DeclineClass, DunningStep } from '../../../src/runtime/packs/billing/types';
import { HOUR, START, TestClock } from './helpers';

describe('decline classification', () => {
  it.each([
    ['insufficient_funds', 'soft_decline'],
    ['processing_error', 'soft_decline'],
    ['try_again_later', 'soft_decline'],
    ['generic_decline', 'soft_decline'],
    ['stolen_card', 'hard_decline'],
    ['lost_card', 'hard_decline'],
    ['fraudulent', 'hard_decline'],
    ['do_not_honor', 'hard_decline'],
    ['pickup_card', 'hard_decline'],
    ['expired_card', 'expired_method'],
    ['incorrect_cvc', 'expired_method'],
    ['no_payment_method', 'expired_method'],
    ['a_code_nobody_has_seen', 'soft_decline'],
  ] as const)('%s is a %s', (code, declineClass) => {
    expect(classifyDecline(code)).toBe(declineClass);
  });

  it('follows a custom classification, including its class for unknown codes', () => {
    const strict = { ...DEFAULT_DECLINE_CLASSIFICATION, soft_decline: ['insufficient_funds'], hard_decline: [...DEFAULT_DECLINE_CLASSIFICATION.hard_decline, 'generic_decline'], unknown: 'hard_decline' as const };
    expect(classifyDecline('generic_decline', strict)).toBe('hard_decline');
    expect(classifyDecline('something_new', strict)).toBe('hard_decline');
    expect(classifyDecline('insufficient_funds', strict)).toBe('soft_decline');
  });

  it('refuses a code listed in two classes', () => {
    expect(() => checkDeclineClassification({ ...DEFAULT_DECLINE_CLASSIFICATION, soft_decline: ['stolen_card'] })).toThrow(/stolen_card is in both soft_decline and hard_decline/);
  });
});

describe('dunning schedule', () => {
  it("is the billing note's schedule by default", () => {
    expect(DEFAULT_DUNNING_SCHEDULE.soft_decline).toMatchObject({ intervals: ['0h', '24h', '72h', '168h'], max_attempts: 4 });
    expect(DEFAULT_DUNNING_SCHEDULE.hard_decline).toMatchObject({ intervals: [], max_attempts: 0 });
    expect(DEFAULT_DUNNING_SCHEDULE.expired_method).toMatchObject({ intervals: ['0h', '48h', '120h'], max_attempts: 3, fallback: 'request_update_via_portal' });
  });

  /** Walks a class's schedule on a virtual clock: fail at every retry until the schedule says stop. */
  function walk(declineClass: DeclineClass): { retriesAt: number[]; last: DunningStep } {
    const clock = new TestClock(START);
    const firstFailedAt = clock.now();
    const retriesAt: number[] = [];
    for (let retries = 0; ; retries++) {
      const step = nextDunningStep(DEFAULT_DUNNING_SCHEDULE, declineClass, retries, firstFailedAt);
      if (step.kind === 'exhausted') return { retriesAt, last: step };
      expect(step.retry).toBe(retries + 1);
      expect(step.at).toBeGreaterThanOrEqual(clock.now());
      clock.set(step.at);
      retriesAt.push((clock.now() - firstFailedAt) / HOUR);
    }
  }

  it('retries a soft decline at 0, 24, 72 and 168 hours after the first failure, then cancels', () => {
    const { retriesAt, last } = walk('soft_decline');
    expect(retriesAt).toEqual([0, 24, 72, 168]);
    expect(last).toEqual({ kind: 'exhausted', onExhausted: 'cancel', fallback: null });
  });

  it('never retries a hard decline', () => {
    const { retriesAt, last } = walk('hard_decline');
    expect(retriesAt).toEqual([]);
    expect(last).toEqual({ kind: 'exhausted', onExhausted: 'mark_unpaid', fallback: null });
  });

  it('retries an expired card at 0, 48 and 120 hours, then falls back to the update portal', () => {
    const { retriesAt, last } = walk('expired_method');
    expect(retriesAt).toEqual([0, 48, 120]);
    expect(last).toEqual({ kind: 'exhausted', onExhausted: 'mark_unpaid', fallback: 'request_update_via_portal' });
  });

  it('refuses schedules it could not follow', () => {
    const base = DEFAULT_DUNNING_SCHEDULE;
    expect(() => checkDunningSchedule({ ...base, soft_decline: { ...base.soft_decline, intervals: ['0h', '24'] } })).toThrow(/Durations/);
    expect(() => checkDunningSchedule({ ...base, soft_decline: { ...base.soft_decline, max_attempts: 5 } })).toThrow(/5 attempts but lists 4 intervals/);
    expect(() => checkDunningSchedule({ ...base, soft_decline: { ...base.soft_decline, intervals: ['24h', '0h', '1h', '2h'] } })).toThrow(/back in time/);
    expect(() => checkDunningSchedule({ ...base, hard_decline: { ...base.hard_decline, max_attempts: -1 } })).toThrow(/max_attempts/);
    expect(checkDunningSchedule(base)).toBe(base);
  });
});
