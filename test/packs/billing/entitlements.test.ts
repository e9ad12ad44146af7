import { afterEach, describe, expect, it } from 'vitest';
import { computeEntitlement, DEFAULT_ENTITLEMENT_POLICY } from '../../../src/runtime/packs/billing/index';
import { checkEntitlementPolicy } from '../../../src/runtime/packs/billing/entitlements';
import type { DeclineClass, EntitlementLevel, Subscription, SubscriptionState } from '../../../src/runtime/packs/billing/types';
import { activeSubscription, billingFixture, type BillingFixture, DAY, HOUR, START } from './helpers';

function subscriptionIn(state: SubscriptionState): Subscription {
  return {
    id: 'sub_1',
    customerId: 'cus_1',
    state,
    planId: 'pro',
    price: 1_000 as Subscription['price'],
    currency: 'usd',
    interval: { unit: 'month', count: 1 },
    anchorAt: START,
    periodIndex: 1,
    periodStart: START,
    periodEnd: START + 31 * DAY,
    createdAt: START,
    updatedAt: START,
  };
}

/** The level of a past-due subscription `hours` after its first failed charge. */
function levelAfter(declineClass: DeclineClass, hours: number): EntitlementLevel {
  return computeEntitlement(
    { subscription: subscriptionIn('past_due'), stateSince: START, dunning: { declineClass, firstFailedAt: START }, now: START + hours * HOUR },
    DEFAULT_ENTITLEMENT_POLICY,
  ).level;
}

describe('graduated entitlements', () => {
  it('keeps full access through a soft decline’s first three days, then restricts premium features, then suspends', () => {
    expect([0, 24, 71, 72, 100, 167, 168, 400].map((hours) => levelAfter('soft_decline', hours))).toEqual([
      'full',
      'full',
      'full',
      'restricted',
      'restricted',
      'restricted',
      'suspended',
      'suspended',
    ]);
  });

  it('gives an expired card a longer grace period to be updated', () => {
    expect(levelAfter('soft_decline', 80)).toBe('restricted');
    expect(levelAfter('expired_method', 80)).toBe('full');
    expect(levelAfter('expired_method', 96)).toBe('restricted');
    expect(levelAfter('expired_method', 168)).toBe('suspended');
  });

  it('suspends at once on a hard decline', () => {
    expect(levelAfter('hard_decline', 0)).toBe('suspended');
  });

  it('follows the subscription state outside past_due', () => {
    const level = (state: SubscriptionState) =>
      computeEntitlement({ subscription: subscriptionIn(state), stateSince: START, dunning: null, now: START }, DEFAULT_ENTITLEMENT_POLICY);
    expect(level('active')).toMatchObject({ level: 'full', features: { core: true, premium: true }, nextChangeAt: null });
    expect(level('unpaid')).toMatchObject({ level: 'suspended', features: { core: false, premium: false } });
    expect(level('canceled').level).toBe('none');
    expect(level('draft').level).toBe('none');
  });

  it('says when the level changes next, so a flow can sleep until then', () => {
    const at = (hours: number) =>
      computeEntitlement(
        { subscription: subscriptionIn('past_due'), stateSince: START, dunning: { declineClass: 'soft_decline', firstFailedAt: START }, now: START + hours * HOUR },
        DEFAULT_ENTITLEMENT_POLICY,
      );
    expect(at(1)).toMatchObject({ level: 'full', nextChangeAt: START + 72 * HOUR });
    expect(at(80)).toMatchObject({ level: 'restricted', since: START + 72 * HOUR, nextChangeAt: START + 168 * HOUR, features: { core: true, premium: false } });
  });

  it('refuses a policy that suspends before it restricts', () => {
    expect(() => checkEntitlementPolicy({ ...DEFAULT_ENTITLEMENT_POLICY, soft_decline: { restrict_after: '72h', suspend_after: '24h' } })).toThrow(/cannot be suspended before/);
  });
});

describe('stored entitlements over time', () => {
  const fixtures: BillingFixture[] = [];
  afterEach(() => fixtures.splice(0).forEach((fixture) => fixture.close()));

  it('records each change of level as an event, and nothing when the level holds', async () => {
    const fixture = billingFixture();
    fixtures.push(fixture);
    const { billing, clock } = fixture;
    const { customer, subscription } = await activeSubscription(fixture, 'pm_card_visa');
    await billing.attachPaymentMethod(customer.id, 'pm_card_chargeDeclinedInsufficientFunds', 'broke');
    clock.set(subscription.periodEnd!);
    await billing.renewSubscription(subscription.id, 'renew');
    const failedAt = clock.now();

    for (const hours of [1, 24, 48, 73, 100, 169, 200]) {
      clock.set(failedAt + hours * HOUR);
      billing.refreshEntitlement(subscription.id);
    }
    expect(billing.entitlements(customer.id)).toEqual([expect.objectContaining({ level: 'suspended', subscriptionId: subscription.id })]);
    const changes = billing.entitlementChanges({ customerId: customer.id });
    expect(changes.map((change) => `${change.from}>${change.to}`)).toEqual(['null>full', 'full>restricted', 'restricted>suspended']);
    expect(changes.map((change) => (change.at - failedAt) / HOUR).slice(1)).toEqual([73, 169]);

    // A consumer reading after its cursor sees only what is new.
    expect(billing.entitlementChanges({ afterId: changes[1]!.id })).toEqual([changes[2]]);

    // Paying restores full access, as one more change.
    await billing.attachPaymentMethod(customer.id, 'pm_card_visa', 'new-card');
    await billing.retryPayment(subscription.id, 'retry-with-new-card');
    expect(billing.entitlements(customer.id)[0]).toMatchObject({ level: 'full', reason: 'paid' });
    expect(billing.entitlementChanges({ customerId: customer.id }).map((change) => change.to)).toEqual(['full', 'restricted', 'suspended', 'full']);
  });
});
