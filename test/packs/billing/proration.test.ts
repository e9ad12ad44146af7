import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { MoneyError, minorUnits, prorate, settle } from '../../../src/runtime/packs/billing/index';
import { shareOf } from '../../../src/runtime/packs/billing/proration';
import { activeSubscription, billingFixture, type BillingFixture, DAY } from './helpers';

const JAN = Date.UTC(2025, 0, 1);
const FEB = Date.UTC(2025, 1, 1);

describe('proration', () => {
  it('credits the unused half and charges the new plan for the other half', () => {
    const mid = JAN + (FEB - JAN) / 2;
    const proration = prorate({ periodStart: JAN, periodEnd: FEB, changeAt: mid, currentPrice: minorUnits(1_000), newPrice: minorUnits(3_000) });
    expect(proration).toEqual({ periodSeconds: 31 * 86_400, remainingSeconds: 31 * 43_200, unusedCredit: 500, remainingCharge: 1_500, net: 1_000 });
  });

  it('rounds each amount half to even: 0.5 down to even, 1.5 up to even', () => {
    // 3 of 6 seconds left of 1 and 3 cents: exactly 0.5 and 1.5 cents.
    expect(prorate({ periodStart: 0, periodEnd: 6_000, changeAt: 3_000, currentPrice: minorUnits(1), newPrice: minorUnits(3) })).toMatchObject({
      unusedCredit: 0,
      remainingCharge: 2,
      net: 2,
    });
    expect(shareOf(minorUnits(5), 1, 2)).toBe(2);
    expect(shareOf(minorUnits(7), 1, 2)).toBe(4);
    expect(shareOf(minorUnits(10), 1, 3)).toBe(3);
    expect(shareOf(minorUnits(20), 1, 3)).toBe(7);
  });

  it('counts whole seconds: a change 999 ms into a second prices the same as at its start', () => {
    const at = (changeAt: number) => prorate({ periodStart: JAN, periodEnd: FEB, changeAt, currentPrice: minorUnits(2_999), newPrice: minorUnits(9_999) });
    expect(at(JAN + 10 * DAY + 999)).toEqual(at(JAN + 10 * DAY));
  });

  it('prices a downgrade as a negative net that settles into credit', () => {
    const proration = prorate({ periodStart: JAN, periodEnd: FEB, changeAt: JAN + 21 * DAY, currentPrice: minorUnits(5_000), newPrice: minorUnits(2_000) });
    expect(proration.net).toBeLessThan(0);
    expect(settle(proration.net, minorUnits(0))).toEqual({ creditApplied: 0, creditAdded: -proration.net, amountToCharge: 0 });
  });

  it('spends credit before charging', () => {
    expect(settle(1_000, minorUnits(300))).toEqual({ creditApplied: 300, creditAdded: 0, amountToCharge: 700 });
    expect(settle(1_000, minorUnits(5_000))).toEqual({ creditApplied: 1_000, creditAdded: 0, amountToCharge: 0 });
  });

  it('refuses fractional prices and changes outside the period', () => {
    expect(() => prorate({ periodStart: JAN, periodEnd: FEB, changeAt: JAN, currentPrice: 10.5 as ReturnType<typeof minorUnits>, newPrice: minorUnits(1) })).toThrow(MoneyError);
    expect(() => prorate({ periodStart: JAN, periodEnd: FEB, changeAt: FEB + 1_000, currentPrice: minorUnits(1), newPrice: minorUnits(1) })).toThrow(/within the current period/);
    expect(() => prorate({ periodStart: JAN, periodEnd: FEB, changeAt: JAN - 1, currentPrice: minorUnits(1), newPrice: minorUnits(1) })).toThrow(/within the current period/);
  });

  const price = fc.integer({ min: 1, max: 10_000_000 });
  const instant = fc.integer({ min: 0, max: FEB - JAN - 1 });

  it('keeps every amount an integer within [0, price] and nets a change and its reverse to zero', () => {
    fc.assert(
      fc.property(price, price, instant, (from, to, offset) => {
        const change = { periodStart: JAN, periodEnd: FEB, changeAt: JAN + offset };
        const up = prorate({ ...change, currentPrice: minorUnits(from), newPrice: minorUnits(to) });
        const back = prorate({ ...change, currentPrice: minorUnits(to), newPrice: minorUnits(from) });
        expect(Number.isSafeInteger(up.unusedCredit) && Number.isSafeInteger(up.remainingCharge)).toBe(true);
        expect(up.unusedCredit).toBeGreaterThanOrEqual(0);
        expect(up.unusedCredit).toBeLessThanOrEqual(from);
        expect(up.remainingCharge).toBeLessThanOrEqual(to);
        expect(up.net + back.net).toBe(0);
        // What the customer pays for the period is the exact blend of the two prices, within the two roundings.
        const exact = (from * (up.periodSeconds - up.remainingSeconds) + to * up.remainingSeconds) / up.periodSeconds;
        expect(Math.abs(from + up.net - exact)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });

  it('settles so that credit spent, credit added and charge always add up to the net', () => {
    fc.assert(
      fc.property(fc.integer({ min: -10_000_000, max: 10_000_000 }), fc.integer({ min: 0, max: 10_000_000 }), (net, balance) => {
        const settlement = settle(net, minorUnits(balance));
        expect(settlement.amountToCharge + settlement.creditApplied - settlement.creditAdded).toBe(net);
        expect(settlement.creditApplied).toBeLessThanOrEqual(balance);
        expect(Math.min(settlement.amountToCharge, settlement.creditApplied, settlement.creditAdded)).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});

describe('plan changes through the billing service', () => {
  const fixtures: BillingFixture[] = [];
  afterEach(() => fixtures.splice(0).forEach((fixture) => fixture.close()));

  function fixture(): BillingFixture {
    const created = billingFixture();
    fixtures.push(created);
    return created;
  }

  it('downgrades into credit, then spends that credit on an upgrade before charging the card', async () => {
    const subject = fixture();
    const { customer, subscription } = await activeSubscription(subject, 'pm_card_visa', 3_000);
    subject.clock.advance(10 * DAY);
    const down = await subject.billing.changePlan(subscription.id, { planId: 'basic', price: 1_000 }, 'down');
    expect(down).toMatchObject({ status: 'applied', creditApplied: 0, amountCharged: 0, chargeId: null });
    expect(down.creditAdded).toBe(-down.proration.net);
    expect(subject.billing.creditBalance(customer.id, 'usd')).toBe(down.creditAdded);
    expect(subject.billing.subscription(subscription.id)).toMatchObject({ planId: 'basic', price: 1_000 });

    subject.clock.advance(5 * DAY);
    const up = await subject.billing.changePlan(subscription.id, { planId: 'enterprise', price: 9_000 }, 'up');
    expect(up.status).toBe('applied');
    expect(up.creditApplied).toBe(down.creditAdded);
    expect(up.amountCharged).toBe(up.proration.net - up.creditApplied);
    expect(subject.billing.creditBalance(customer.id, 'usd')).toBe(0);
    const charges = subject.gateway.listCharges({ customerId: customer.id });
    expect(charges.map((charge) => charge.amount)).toEqual([3_000, up.amountCharged]);
  });

  it('gives the credit back and keeps the plan when the upgrade charge is declined', async () => {
    const subject = fixture();
    const { customer, subscription } = await activeSubscription(subject, 'pm_card_visa', 5_000);
    subject.clock.advance(3 * DAY);
    await subject.billing.changePlan(subscription.id, { planId: 'basic', price: 1_000 }, 'down');
    const credit = subject.billing.creditBalance(customer.id, 'usd');
    await subject.billing.attachPaymentMethod(customer.id, 'pm_card_chargeDeclinedInsufficientFunds', 'new-card');
    const up = await subject.billing.changePlan(subscription.id, { planId: 'enterprise', price: 20_000 }, 'up');
    expect(up).toMatchObject({ status: 'declined', declineCode: 'insufficient_funds', amountCharged: 0 });
    expect(subject.billing.creditBalance(customer.id, 'usd')).toBe(credit);
    expect(subject.billing.subscription(subscription.id)).toMatchObject({ planId: 'basic', price: 1_000 });
  });

  it('does not charge twice when the handler runs again with its key, even later', async () => {
    const subject = fixture();
    const { customer, subscription } = await activeSubscription(subject, 'pm_card_visa', 1_000);
    subject.clock.advance(2 * DAY);
    const first = await subject.billing.changePlan(subscription.id, { planId: 'pro-plus', price: 4_000 }, 'flow:n14:1');
    subject.clock.advance(DAY);
    const again = await subject.billing.changePlan(subscription.id, { planId: 'pro-plus', price: 4_000 }, 'flow:n14:1');
    expect(again).toEqual(first);
    expect(subject.gateway.listCharges({ customerId: customer.id })).toHaveLength(2);
  });

  it('reconciles exactly over any sequence of plan changes: charged + credit spent − credit added = Σ net', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ price: fc.integer({ min: 1, max: 500_000 }), afterHours: fc.integer({ min: 0, max: 96 }) }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 500_000 }),
        async (changes, startPrice) => {
          const subject = billingFixture();
          try {
            const { customer, subscription } = await activeSubscription(subject, 'pm_card_visa', startPrice);
            let netSum = 0;
            let planNumber = 0;
            for (const change of changes) {
              subject.clock.advance(change.afterHours * 3_600_000);
              const outcome = await subject.billing.changePlan(subscription.id, { planId: `plan-${++planNumber}`, price: change.price }, `change-${planNumber}`);
              expect(outcome.status).toBe('applied');
              expect(outcome.amountCharged + outcome.creditApplied - outcome.creditAdded).toBe(outcome.proration.net);
              netSum += outcome.proration.net;
            }
            const charged = subject.gateway
              .listCharges({ customerId: customer.id })
              .slice(1)
              .reduce((sum, charge) => sum + charge.amount, 0);
            const balance = subject.billing.creditBalance(customer.id, 'usd');
            expect(balance).toBeGreaterThanOrEqual(0);
            expect(charged - balance).toBe(netSum);
            expect(subject.billing.subscription(subscription.id).price).toBe(changes[changes.length - 1]!.price);
          } finally {
            subject.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
