import { afterEach, describe, expect, it } from 'vitest';
import bindings, { RETENTION_RESPONSE } from '../../flows/plan-downgrade.bindings';
import { type BillingService, listOutbox } from '../../src/runtime/packs/billing/index';
import { activeSubscription, billingOn, DAY, type FlowHarness, HOUR, openFlow } from './flow-harness';

/** Activation on 1 February: the first period ends on 1 March, the second on 1 April (31 days). */
const T0 = Date.UTC(2025, 1, 1);
const MARCH_1 = Date.UTC(2025, 2, 1);
const APRIL_1 = Date.UTC(2025, 3, 1);
const harnesses: FlowHarness[] = [];

afterEach(() => {
  for (const harness of harnesses.splice(0)) harness.close();
});

/** 60 projects, p01 the least recently updated, on 8 seats and 40 GB. */
const USAGE = {
  seats: 8,
  storageGb: 40,
  projects: Array.from({ length: 60 }, (_, index) => ({ name: `p${String(index + 1).padStart(2, '0')}`, updatedAt: T0 - (60 - index) * DAY })),
};

/** A team subscription ($79 a month) and a request to move to pro ($29), ten days into the period. */
async function downgradeFixture() {
  const h = openFlow('plan-downgrade', bindings, T0);
  harnesses.push(h);
  const billing: BillingService = billingOn(h);
  const subscription = await activeSubscription(billing, { email: 'cy@example.test', name: 'Cy', planId: 'team', price: 7_900 });
  h.clock.advance(10 * DAY);
  const id = h.engine.start(h.version, { input: { subscriptionId: subscription.id, newPlan: 'pro', usage: USAGE } });
  return { h, billing, subscription, id };
}

/** Answers the offer the instance is waiting on, and runs until it waits again or finishes (before `horizon`). */
async function answer(h: FlowHarness, id: string, accepted: boolean, horizon: number): Promise<void> {
  expect(h.instance(id).snapshot.tokens.map((token) => token.signal)).toEqual([RETENTION_RESPONSE]);
  h.engine.signal(id, RETENTION_RESPONSE, { accepted });
  await h.engine.runUntilIdle({ horizon });
}

const OFFER_LOOP = ['Pick retention offer', 'Consider retention offer'];

describe('plan-downgrade.flow', () => {
  it('keeps the plan when the customer takes the first retention offer, paid as credit', async () => {
    const { h, billing, subscription, id } = await downgradeFixture();
    await h.engine.runUntilIdle({ horizon: T0 + 11 * DAY });
    await answer(h, id, true, T0 + 11 * DAY);

    expect(h.instance(id).status).toBe('completed');
    expect(h.route(id)).toEqual(['Start', 'Request downgrade', 'Load subscription', ...OFFER_LOOP, 'Offer accepted? → Yes', 'Apply retention credit', 'Stays on current plan']);
    // 25 % of $79.00 is 1975 cents, for three months.
    expect(h.instance(id).snapshot.data).toMatchObject({ retentionOffer: { percentOff: 25, months: 3 }, retentionCredit: { amount: 5_925, currency: 'usd', balance: 5_925 } });
    expect(billing.subscription(subscription.id)).toMatchObject({ planId: 'team', price: 7_900, state: 'active' });
    expect(billing.creditBalance(subscription.customerId, 'usd')).toBe(5_925);
    expect(h.db.prepare('SELECT count(*) AS n FROM billing_scheduled_plan_changes').get()).toEqual({ n: 0 });
    expect(listOutbox(h.db).map((email) => [email.template, email.subject])).toEqual([['plans.retention_offer_applied', 'Thanks for staying: 25% off your next 3 months']]);
  });

  it('after two declined offers, warns, sleeps until the period ends and renews on the lower plan', async () => {
    const { h, billing, subscription, id } = await downgradeFixture();
    await h.engine.runUntilIdle({ horizon: T0 + 11 * DAY });
    await answer(h, id, false, T0 + 11 * DAY);
    // The second offer, made on day 10, goes unanswered for three days; the flow then parks until 1 March.
    await h.engine.runUntilIdle({ horizon: MARCH_1 - 1 });
    const parked = h.instance(id);
    expect(parked.snapshot.tokens).toMatchObject([{ state: 'sleeping', dueAt: MARCH_1 }]);
    expect(parked.snapshot.data).toMatchObject({ offerResponse: 'no answer', offersDeclined: 2, scheduledChange: { effectiveAt: MARCH_1 } });
    expect(billing.subscription(subscription.id).planId).toBe('team');

    await h.engine.runUntilIdle();
    const instance = h.instance(id);
    expect(instance.status).toBe('completed');
    expect(h.route(id)).toEqual([
      'Start',
      'Request downgrade',
      'Load subscription',
      ...OFFER_LOOP,
      'Offer accepted? → No',
      'Another offer left? → Yes',
      ...OFFER_LOOP,
      'Offer accepted? → No',
      'Another offer left? → No',
      'Compare plan features',
      'Warn about restrictions',
      'Schedule change at period end',
      'Wait for period end',
      'Next period already billed? → No',
      'Renew on lower plan',
      'Migrate data over limits',
      'Apply lower plan limits',
      'Downgraded',
    ]);
    expect(billing.subscription(subscription.id)).toMatchObject({ planId: 'pro', price: 2_900, state: 'active', periodStart: MARCH_1, periodEnd: APRIL_1 });
    expect(billing.invoices(subscription.id).map((invoice) => [invoice.periodStart, invoice.subtotal, invoice.amountDue, invoice.status])).toEqual([
      [T0, 7_900, 7_900, 'paid'],
      [MARCH_1, 2_900, 2_900, 'paid'],
    ]);
    expect(instance.snapshot.data).toMatchObject({
      downgrade: { appliedAs: 'renewed', planId: 'pro', amountCharged: 2_900, payment: 'paid' },
      migration: { archivedProjects: ['p01', 'p02', 'p03', 'p04', 'p05', 'p06', 'p07', 'p08', 'p09', 'p10'], seatsToRemove: 3 },
      entitlements: { plan: 'pro', features: ['projects', 'api', 'priority-support'], limits: { seats: 5, projects: 50, storageGb: 100 } },
    });
    const change = h.db.prepare('SELECT status, applied_as, effective_at, applied_at, amount_charged, credit_added FROM billing_scheduled_plan_changes').all();
    expect(change).toEqual([{ status: 'applied', applied_as: 'renewed', effective_at: MARCH_1, applied_at: MARCH_1, amount_charged: 2_900, credit_added: 0 }]);

    const emails = listOutbox(h.db);
    expect(emails.map((email) => [email.template, email.to, email.createdAt])).toEqual([
      ['plans.restriction_warning', 'cy@example.test', T0 + 13 * DAY],
      ['plans.downgrade_applied', 'cy@example.test', MARCH_1],
    ]);
    expect(emails[0]!.text).toContain('Your team plan changes to pro on 2025-03-01 00:00 UTC');
    expect(emails[0]!.text).toContain('These features stop working then: sso, audit-log.');
    expect(emails[0]!.text).toContain('You use 8 seats; pro allows 5.');
    expect(emails[0]!.text).toContain('You use 60 projects; pro allows 50.');
    expect(emails[0]!.text).not.toContain('storage');
    expect(emails[1]!.text).toContain('We charged 29.00 USD for it');
  });

  it('credits the unused difference when the next period was already billed at the old price', async () => {
    const { h, billing, subscription, id } = await downgradeFixture();
    await h.engine.runUntilIdle({ horizon: T0 + 11 * DAY });
    await answer(h, id, false, T0 + 11 * DAY);
    await answer(h, id, false, MARCH_1 - 1);
    // The renewal ran first, at 06:00 on 1 March, and charged the team price for March.
    h.clock.advance(MARCH_1 + 6 * HOUR - h.clock.now());
    expect(await billing.renewSubscription(subscription.id, 'renewal:2025-03')).toMatchObject({ kind: 'paid', amountCharged: 7_900 });
    await h.engine.runUntilIdle({ horizon: MARCH_1 + DAY });

    expect(h.instance(id).status).toBe('completed');
    expect(h.route(id)).toContain('Next period already billed? → Yes');
    expect(h.route(id)).toContain('Credit unused difference');
    // March has 2,678,400 s; 2,656,800 s are left at 06:00. Unused team: 7900 × 2656800 / 2678400
    // = 7836.29 → 7836; pro for the same time: 2900 × 2656800 / 2678400 = 2876.61 → 2877.
    // Credit: 7836 − 2877 = 4959 cents.
    expect(h.instance(id).snapshot.data).toMatchObject({ downgrade: { appliedAs: 'credited', planId: 'pro', creditAdded: 4_959, creditBalance: 4_959 } });
    expect(billing.subscription(subscription.id)).toMatchObject({ planId: 'pro', price: 2_900, periodStart: MARCH_1, periodEnd: APRIL_1 });
    expect(listOutbox(h.db).at(-1)!.text).toContain('we added the difference for the rest of it, 49.59 USD, to your credit balance');

    // April's renewal is paid from that credit.
    h.clock.advance(APRIL_1 - h.clock.now());
    expect(await billing.renewSubscription(subscription.id, 'renewal:2025-04')).toMatchObject({ kind: 'paid', amountCharged: 0, creditApplied: 2_900 });
    expect(billing.creditBalance(subscription.customerId, 'usd')).toBe(4_959 - 2_900);
  });
});
