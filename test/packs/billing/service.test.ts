import { afterEach, describe, expect, it } from 'vitest';
import {
  BillingStateError,
  DEFAULT_DUNNING_SCHEDULE,
  formatMinorUnits,
  GatewayRequestError,
  IdempotencyConflictError,
  MoneyError,
  minorUnits,
  type PaymentGateway,
  PaymentInProgressError,
  SandboxGateway,
} from '../../../src/runtime/packs/billing/index';
import { periodBounds } from '../../../src/runtime/packs/billing/periods';
import { activeSubscription, billingFixture, type BillingFixture, DAY, HOUR } from './helpers';

const fixtures: BillingFixture[] = [];
afterEach(() => fixtures.splice(0).forEach((fixture) => fixture.close()));

function fixture(overrides: Parameters<typeof billingFixture>[0] = {}): BillingFixture {
  const created = billingFixture(overrides);
  fixtures.push(created);
  return created;
}

describe('money', () => {
  it('accepts only safe integers of minor units', () => {
    expect(minorUnits(1_999)).toBe(1_999);
    for (const bad of [0.1, 12.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) expect(() => minorUnits(bad)).toThrow(MoneyError);
  });

  it('writes amounts with the currency’s own number of minor digits, without floats', () => {
    expect(formatMinorUnits(minorUnits(2_500), 'usd')).toBe('25.00 USD');
    expect(formatMinorUnits(minorUnits(7), 'eur')).toBe('0.07 EUR');
    expect(formatMinorUnits(minorUnits(2_500), 'jpy')).toBe('2500 JPY');
    expect(formatMinorUnits(minorUnits(1_234_567), 'kwd')).toBe('1234.567 KWD');
    expect(formatMinorUnits(minorUnits(9_007_199_254_740_991), 'usd')).toBe('90071992547409.91 USD');
  });

  it('refuses a fractional subscription price', () => {
    const { billing } = fixture();
    const customer = billing.createCustomer({ email: 'p@example.test', name: 'P' }, 'c');
    expect(() =>
      billing.createSubscription({ customerId: customer.id, planId: 'pro', price: 19.99, currency: 'usd', interval: { unit: 'month', count: 1 } }, 's'),
    ).toThrow(MoneyError);
  });
});

describe('billing periods', () => {
  it('renews monthly on the anchor day, clamped to short months', () => {
    const anchor = Date.UTC(2024, 0, 31, 12);
    const ends = [0, 1, 2, 3].map((index) => new Date(periodBounds(anchor, { unit: 'month', count: 1 }, index).end).toISOString().slice(0, 10));
    expect(ends).toEqual(['2024-02-29', '2024-03-31', '2024-04-30', '2024-05-31']);
    expect(periodBounds(anchor, { unit: 'year', count: 1 }, 0).end).toBe(Date.UTC(2025, 0, 31, 12));
    expect(periodBounds(anchor, { unit: 'day', count: 14 }, 1)).toEqual({ start: anchor + 14 * DAY, end: anchor + 28 * DAY });
  });
});

describe('activation', () => {
  it('keeps a declined checkout a draft, without dunning or email, and activates on a new card and key', async () => {
    const subject = fixture();
    const { billing } = subject;
    const customer = billing.createCustomer({ email: 'd@example.test', name: 'D' }, 'c');
    await billing.attachPaymentMethod(customer.id, 'pm_card_chargeDeclinedInsufficientFunds', 'card-1');
    const subscription = billing.createSubscription({ customerId: customer.id, planId: 'pro', price: 900, currency: 'usd', interval: { unit: 'month', count: 1 } }, 's');
    const declined = await billing.activateSubscription(subscription.id, 'checkout:1');
    expect(declined).toMatchObject({ kind: 'declined', declineCode: 'insufficient_funds', state: 'draft', nextRetryAt: null, emailTemplate: null });
    expect(billing.invoices(subscription.id).map((invoice) => invoice.status)).toEqual(['void']);
    expect(billing.dunningCase(subscription.id)).toBeNull();
    expect(billing.outbox()).toEqual([]);

    await billing.attachPaymentMethod(customer.id, 'pm_card_visa', 'card-2');
    subject.clock.advance(HOUR);
    const paid = await billing.activateSubscription(subscription.id, 'checkout:2');
    expect(paid).toMatchObject({ kind: 'paid', amountCharged: 900, state: 'active' });
    const active = billing.subscription(subscription.id);
    expect(active).toMatchObject({ state: 'active', periodIndex: 0, anchorAt: subject.clock.now(), periodStart: subject.clock.now() });
    expect(billing.entitlements(customer.id)[0]!.level).toBe('full');
    await expect(billing.activateSubscription(subscription.id, 'checkout:3')).rejects.toBeInstanceOf(BillingStateError);
  });

  it('declines with no_payment_method, an update-needed decline, when no card is on file', async () => {
    const { billing } = fixture();
    const customer = billing.createCustomer({ email: 'n@example.test', name: 'N' }, 'c');
    const subscription = billing.createSubscription({ customerId: customer.id, planId: 'pro', price: 900, currency: 'usd', interval: { unit: 'month', count: 1 } }, 's');
    expect(await billing.activateSubscription(subscription.id, 'a')).toMatchObject({ kind: 'declined', declineCode: 'no_payment_method', declineClass: 'expired_method', chargeId: null });
  });

  it('refuses a key reused for another customer or subscription', async () => {
    const { billing } = fixture();
    billing.createCustomer({ email: 'k@example.test', name: 'K' }, 'same');
    expect(() => billing.createCustomer({ email: 'other@example.test', name: 'K' }, 'same')).toThrow(IdempotencyConflictError);
  });
});

describe('renewal', () => {
  it('renews only once the period has ended, and once per period whatever the key', async () => {
    const subject = fixture();
    const { customer, subscription } = await activeSubscription(subject, 'pm_card_visa', 1_200);
    subject.clock.set(subscription.periodEnd! - 1);
    await expect(subject.billing.renewSubscription(subscription.id, 'early')).rejects.toThrow(/renews at/);
    subject.clock.set(subscription.periodEnd!);
    expect(await subject.billing.renewSubscription(subscription.id, 'renew:a')).toMatchObject({ kind: 'paid', amountCharged: 1_200, state: 'active' });
    await expect(subject.billing.renewSubscription(subscription.id, 'renew:b')).rejects.toBeInstanceOf(BillingStateError);
    expect(subject.gateway.listCharges({ customerId: customer.id })).toHaveLength(2);
    expect(subject.billing.subscription(subscription.id)).toMatchObject({ periodIndex: 1, periodStart: subscription.periodEnd });
  });

  it('spends the credit balance on the renewal invoice before charging the card', async () => {
    const subject = fixture();
    const { customer, subscription } = await activeSubscription(subject, 'pm_card_visa', 3_000);
    subject.clock.advance(15 * DAY);
    const down = await subject.billing.changePlan(subscription.id, { planId: 'basic', price: 1_000 }, 'down');
    subject.clock.set(subscription.periodEnd!);
    const renewal = await subject.billing.renewSubscription(subscription.id, 'renew');
    expect(renewal).toMatchObject({ kind: 'paid', creditApplied: 1_000, amountCharged: 0, chargeId: null });
    expect(subject.billing.creditBalance(customer.id, 'usd')).toBe(down.creditAdded - 1_000);
    expect(subject.gateway.listCharges({ customerId: customer.id })).toHaveLength(1);
  });

  it('can cancel a hard decline instead of marking it unpaid, by schedule', async () => {
    const subject = fixture({ schedule: { ...DEFAULT_DUNNING_SCHEDULE, hard_decline: { intervals: [], max_attempts: 0, on_exhausted: 'cancel' } } });
    const { customer, subscription } = await activeSubscription(subject, 'pm_card_visa');
    await subject.billing.attachPaymentMethod(customer.id, 'pm_card_chargeDeclinedFraudulent', 'bad');
    subject.clock.set(subscription.periodEnd!);
    expect(await subject.billing.renewSubscription(subscription.id, 'renew')).toMatchObject({ state: 'canceled', declineClass: 'hard_decline' });
    expect(subject.billing.transitions(subscription.id).map((record) => record.to)).toEqual(['active', 'past_due', 'canceled']);
  });

  it('cancels an unpaid subscription for good', async () => {
    const subject = fixture();
    const { customer, subscription } = await activeSubscription(subject, 'pm_card_visa');
    await subject.billing.attachPaymentMethod(customer.id, 'pm_card_chargeDeclinedLostCard', 'bad');
    subject.clock.set(subscription.periodEnd!);
    await subject.billing.renewSubscription(subscription.id, 'renew');
    const canceled = subject.billing.cancelSubscription(subscription.id, 'unpaid for 30 days', 'give-up');
    expect(canceled).toMatchObject({ from: 'unpaid', to: 'canceled', replayed: false });
    expect(subject.billing.cancelSubscription(subscription.id, 'unpaid for 30 days', 'give-up').replayed).toBe(true);
    expect(subject.billing.invoices(subscription.id)[1]!.status).toBe('uncollectible');
    expect(subject.billing.entitlements(customer.id)[0]!.level).toBe('none');
    await expect(subject.billing.retryPayment(subscription.id, 'late')).rejects.toBeInstanceOf(BillingStateError);
  });
});

describe('a payment attempt whose gateway call fails', () => {
  /** A gateway that charges and then loses the answer, as a timeout does. */
  function timingOut(sandbox: SandboxGateway, failures: { remaining: number }, error: () => Error): PaymentGateway {
    return {
      attachPaymentMethod: (request, key) => sandbox.attachPaymentMethod(request, key),
      async charge(request, key) {
        const result = await sandbox.charge(request, key);
        if (failures.remaining-- > 0) throw error();
        return result;
      },
    };
  }

  it('keeps an ambiguous attempt pending: another key is refused, the same key resumes without a second charge', async () => {
    const failures = { remaining: 0 };
    const subject = fixture();
    const gateway = timingOut(subject.gateway, failures, () => new Error('ETIMEDOUT'));
    const { BillingService } = await import('../../../src/runtime/packs/billing/index');
    const billing = new BillingService({
      db: subject.db,
      gateway,
      clock: subject.clock,
      emailFrom: 'billing@laneflow.test',
      updateLinks: { secret: 'test-secret-that-is-at-least-32-bytes-long', baseUrl: 'https://billing.laneflow.test/update-card' },
    });
    const { customer, subscription } = await activeSubscription({ ...subject, billing }, 'pm_card_visa');
    await billing.attachPaymentMethod(customer.id, 'pm_sandbox_declineFirst1_insufficient_funds', 'card-2');
    subject.clock.set(subscription.periodEnd!);
    await billing.renewSubscription(subscription.id, 'renew');

    failures.remaining = 1;
    await expect(billing.retryPayment(subscription.id, 'retry:1')).rejects.toThrow('ETIMEDOUT');
    await expect(billing.retryPayment(subscription.id, 'retry:other')).rejects.toBeInstanceOf(PaymentInProgressError);
    expect(await billing.retryPayment(subscription.id, 'retry:1')).toMatchObject({ kind: 'paid', state: 'active' });
    expect(subject.gateway.listCharges({ customerId: customer.id }).map((charge) => charge.status)).toEqual(['succeeded', 'failed', 'succeeded']);
  });

  it('frees the invoice when the gateway refused the request outright, since nothing was charged', async () => {
    const subject = fixture();
    const { customer, subscription } = await activeSubscription(subject, 'pm_card_visa');
    await subject.billing.attachPaymentMethod(customer.id, 'pm_card_chargeDeclinedInsufficientFunds', 'card-2');
    subject.clock.set(subscription.periodEnd!);
    await subject.billing.renewSubscription(subscription.id, 'renew');
    // A default card the gateway does not know: the charge is refused before anything happens.
    subject.db.prepare('UPDATE billing_customers SET default_payment_method_id = ? WHERE id = ?').run('pm_unknown', customer.id);
    await expect(subject.billing.retryPayment(subscription.id, 'retry:1')).rejects.toBeInstanceOf(GatewayRequestError);
    await subject.billing.attachPaymentMethod(customer.id, 'pm_card_visa', 'card-3');
    expect(await subject.billing.retryPayment(subscription.id, 'retry:2')).toMatchObject({ kind: 'paid' });
  });
});

describe('a completed attempt run again', () => {
  it('answers from the database without calling the gateway (whose keys may have expired by then)', async () => {
    const subject = fixture();
    const calls: string[] = [];
    const counting: PaymentGateway = {
      attachPaymentMethod: (request, key) => subject.gateway.attachPaymentMethod(request, key),
      charge: (request, key) => {
        calls.push(key);
        return subject.gateway.charge(request, key);
      },
    };
    const { BillingService } = await import('../../../src/runtime/packs/billing/index');
    const billing = new BillingService({
      db: subject.db,
      gateway: counting,
      clock: subject.clock,
      emailFrom: 'billing@laneflow.test',
      updateLinks: { secret: 'test-secret-that-is-at-least-32-bytes-long', baseUrl: 'https://billing.laneflow.test/update-card' },
    });
    const { subscription } = await activeSubscription({ ...subject, billing }, 'pm_card_visa');
    subject.clock.set(subscription.periodEnd!);
    const first = await billing.renewSubscription(subscription.id, 'renew');
    const callsAfterFirst = calls.length;
    subject.clock.advance(3 * DAY);
    expect(await billing.renewSubscription(subscription.id, 'renew')).toEqual(first);
    expect(calls).toHaveLength(callsAfterFirst);
  });
});


describe('custom dunning emails', () => {
  it('renders the configured templates, and the portal fallback adds the update link to expired-card emails', async () => {
    const { DEFAULT_DUNNING_EMAILS } = await import('../../../src/runtime/packs/billing/index');
    const plain = (id: string) => ({
      id,
      includesUpdateLink: false,
      render: (vars: { failures: number; updateLink: string | null }) => ({ subject: `${id} #${vars.failures}`, text: `link: ${vars.updateLink ?? 'none'}` }),
    });
    const emails = {
      ...DEFAULT_DUNNING_EMAILS,
      classes: {
        ...DEFAULT_DUNNING_EMAILS.classes,
        soft_decline: { failures: [plain('soft')], exhausted: plain('soft-end') },
        expired_method: { failures: [plain('expired')], exhausted: plain('expired-end') },
      },
    };
    const subject = fixture({ emails });
    const soft = await activeSubscription(subject, 'pm_card_visa', 1_000, 'soft');
    const expired = await activeSubscription(subject, 'pm_card_visa', 1_000, 'expired');
    await subject.billing.attachPaymentMethod(soft.customer.id, 'pm_card_chargeDeclinedProcessingError', 'soft-card');
    await subject.billing.attachPaymentMethod(expired.customer.id, 'pm_card_chargeDeclinedExpiredCard', 'expired-card');
    subject.clock.set(soft.subscription.periodEnd!);
    await subject.billing.renewSubscription(soft.subscription.id, 'renew-soft');
    await subject.billing.renewSubscription(expired.subscription.id, 'renew-expired');
    const [softEmail] = subject.billing.outbox({ to: soft.customer.email });
    const [expiredEmail] = subject.billing.outbox({ to: expired.customer.email });
    expect(softEmail).toMatchObject({ template: 'soft', subject: 'soft #1', text: 'link: none' });
    expect(expiredEmail).toMatchObject({ template: 'expired', subject: 'expired #1' });
    expect(expiredEmail!.text).toMatch(/^link: https:\/\/billing\.laneflow\.test\/update-card\?token=v1\./);
  });
});
