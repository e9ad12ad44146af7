import { afterEach, describe, expect, it } from 'vitest';
import { BillingStateError } from '../../../src/runtime/packs/billing/index';
import { PlanChangeService } from '../../../src/runtime/packs/billing/plan-changes';
import { activeSubscription, billingFixture, type BillingFixture, DAY } from './helpers';

const fixtures: BillingFixture[] = [];
afterEach(() => fixtures.splice(0).forEach((fixture) => fixture.close()));

async function planFixture() {
  const fixture = billingFixture();
  fixtures.push(fixture);
  const { subscription, customer } = await activeSubscription(fixture, 'pm_card_visa', 2_997);
  const plans = new PlanChangeService(fixture.billing, fixture.db, fixture.clock, 'billing@laneflow.test');
  return { fixture, plans, subscription, customer };
}

describe('PlanChangeService', () => {
  it('grants a retention credit once per key, each month rounded half to even', async () => {
    const { fixture, plans, subscription, customer } = await planFixture();
    // 50 % of 2997 is 1498.5: to the even 1498 (half up would give 1499), twice.
    expect(plans.grantRetentionCredit(subscription.id, { percentOff: 50, months: 2 }, 'offer')).toMatchObject({ amount: 2_996, balance: 2_996 });
    expect(plans.grantRetentionCredit(subscription.id, { percentOff: 50, months: 2 }, 'offer')).toMatchObject({ amount: 2_996, balance: 2_996 });
    expect(fixture.billing.creditBalance(customer.id, 'usd')).toBe(2_996);
    expect(fixture.billing.outbox().map((email) => email.template)).toEqual(['plans.retention_offer_applied']);
    expect(() => plans.grantRetentionCredit(subscription.id, { percentOff: 0, months: 2 }, 'zero')).toThrow(/1 to 100/);
  });

  it('schedules only a downgrade, applies it no earlier than the period end, and replaces an older request', async () => {
    const { fixture, plans, subscription } = await planFixture();
    expect(() => plans.scheduleDowngrade(subscription.id, { planId: 'max', price: 4_999 }, 'up')).toThrow(BillingStateError);
    const first = plans.scheduleDowngrade(subscription.id, { planId: 'basic', price: 999 }, 'first');
    const second = plans.scheduleDowngrade(subscription.id, { planId: 'lite', price: 1_499 }, 'second');
    expect(plans.scheduledChange(first.id).status).toBe('canceled');
    expect(second).toMatchObject({ status: 'scheduled', effectiveAt: subscription.periodEnd, fromPrice: 2_997 });
    await expect(plans.applyByRenewal(second.id, 'early')).rejects.toThrow(/not before/);
    fixture.clock.set(subscription.periodEnd!);
    expect(plans.nextPeriodBilled(second.id)).toBe(false);
    const { change, payment } = await plans.applyByRenewal(second.id, 'apply');
    expect(payment).toMatchObject({ kind: 'paid', amountCharged: 1_499 });
    expect(change).toMatchObject({ status: 'applied', appliedAs: 'renewed', amountCharged: 1_499, appliedAt: subscription.periodEnd });
    expect(await plans.applyByRenewal(second.id, 'apply')).toMatchObject({ change: { status: 'applied' }, payment: { kind: 'paid', amountCharged: 1_499 } });
    expect(fixture.billing.invoices(subscription.id)).toHaveLength(2);
  });

  it('terminates an active subscription once, dropping a waiting change', async () => {
    const { fixture, plans, subscription } = await planFixture();
    const change = plans.scheduleDowngrade(subscription.id, { planId: 'basic', price: 999 }, 'down');
    fixture.clock.advance(DAY);
    expect(plans.terminate(subscription.id, 'account closed', 'close')).toMatchObject({ from: 'active', to: 'canceled', replayed: false });
    expect(plans.terminate(subscription.id, 'account closed', 'close')).toMatchObject({ replayed: true });
    expect(plans.terminate(subscription.id, 'account closed', 'another')).toBeNull();
    expect(plans.scheduledChange(change.id).status).toBe('canceled');
    expect(fixture.billing.subscription(subscription.id).state).toBe('canceled');
  });
});
