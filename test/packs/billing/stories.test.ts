import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSmtpMailer, type PaymentOutcome } from '../../../src/runtime/packs/billing/index';
import { activeSubscription, billingFixture, type BillingFixture, DAY, HOUR, linkIn, type ReceivedEmail, type SmtpSink, startSmtpSink } from './helpers';

/**
 * The three stories of issue 5's done-when, told at service level: each step is what a node of
 * the payment-recovery flow will do, called with that node's idempotency key, and called twice
 * (a handler retried by the engine) to show that the second call changes nothing.
 */

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(() => sink.stop());

const fixtures: BillingFixture[] = [];
afterEach(() => fixtures.splice(0).forEach((fixture) => fixture.close()));

async function story(card: string, name: string) {
  const fixture = billingFixture();
  fixtures.push(fixture);
  const { customer, subscription, activation } = await activeSubscription(fixture, 'pm_card_visa', 2_500, name);
  expect(activation).toMatchObject({ kind: 'paid', amountCharged: 2_500, state: 'active' });
  // Between periods the card on file goes bad.
  await fixture.billing.attachPaymentMethod(customer.id, card, `${name}:card-on-file`);
  fixture.clock.set(subscription.periodEnd!);
  return { fixture, customer, subscription };
}

/** A node's handler run twice with its key: the outcomes must be equal and the second must add no charge and no email. */
async function step(fixture: BillingFixture, run: () => Promise<PaymentOutcome>): Promise<PaymentOutcome> {
  const first = await run();
  const charges = fixture.gateway.listCharges().length;
  const emails = fixture.billing.outbox().length;
  expect(await run()).toEqual(first);
  expect(fixture.gateway.listCharges()).toHaveLength(charges);
  expect(fixture.billing.outbox()).toHaveLength(emails);
  return first;
}

/** Sends the outbox through the real SMTP server and returns what it received for `to`. */
async function deliver(fixture: BillingFixture, to: string): Promise<ReceivedEmail[]> {
  const expected = fixture.billing.outbox({ to }).length;
  const smtp = createSmtpMailer({ host: '127.0.0.1', port: sink.port, secure: false, ignoreTLS: true });
  try {
    await fixture.billing.dispatchEmails(smtp);
  } finally {
    smtp.close();
  }
  const deadline = Date.now() + 5_000;
  while (sink.received.filter((message) => message.to.includes(to)).length < expected && Date.now() < deadline) {
    await new Promise((done) => setTimeout(done, 10));
  }
  return sink.received.filter((message) => message.to.includes(to));
}

function cardCharges(fixture: BillingFixture, customerId: string) {
  return fixture.gateway.listCharges({ customerId }).map((charge) => `${charge.amount}:${charge.declineCode ?? charge.status}`);
}

describe('story: a hard decline', () => {
  it('is never retried, leaves the subscription unpaid and suspended, and sends one email with the update link', async () => {
    const { fixture, customer, subscription } = await story('pm_card_chargeDeclinedStolenCard', 'hana');
    const { billing, clock } = fixture;

    const renewal = await step(fixture, () => billing.renewSubscription(subscription.id, 'recovery:n2:1'));
    expect(renewal).toMatchObject({
      kind: 'declined',
      declineCode: 'stolen_card',
      declineClass: 'hard_decline',
      failures: 1,
      nextRetryAt: null,
      state: 'unpaid',
      emailTemplate: 'hard_decline.suspended',
    });
    expect(billing.transitions(subscription.id).map((record) => `${record.from}>${record.to}`)).toEqual(['draft>active', 'active>past_due', 'past_due>unpaid']);
    expect(billing.dunningCase(subscription.id)).toMatchObject({ status: 'exhausted', nextRetryAt: null });
    expect(billing.entitlements(customer.id)[0]).toMatchObject({ level: 'suspended', features: { core: false, premium: false } });

    // A retry days later, with the same card, does not reach the gateway.
    clock.advance(3 * DAY);
    expect(await step(fixture, () => billing.retryPayment(subscription.id, 'recovery:n5:1'))).toEqual({ kind: 'exhausted', subscriptionId: subscription.id, state: 'unpaid' });
    expect(cardCharges(fixture, customer.id)).toEqual(['2500:succeeded', '2500:stolen_card']);

    const received = await deliver(fixture, customer.email);
    expect(received).toHaveLength(1);
    expect(received[0]!.subject).toBe('Action required: your card was declined');
    expect(received[0]!.body).toContain('will not try it again');
    expect(linkIn(received[0]!.body)).toBeDefined();
  });
});

describe('story: a soft decline recovered on the third try', () => {
  it('charges twice in vain and once for good, emails at each attempt and ends active', async () => {
    const { fixture, customer, subscription } = await story('pm_sandbox_declineFirst2_insufficient_funds', 'sol');
    const { billing, clock } = fixture;

    const renewal = await step(fixture, () => billing.renewSubscription(subscription.id, 'recovery:n2:1'));
    expect(renewal).toMatchObject({ kind: 'declined', declineCode: 'insufficient_funds', declineClass: 'soft_decline', failures: 1, state: 'past_due' });
    const firstFailedAt = clock.now();
    expect(renewal.kind === 'declined' && renewal.nextRetryAt).toBe(firstFailedAt);

    // Retry 1 (0h): due at once; the card still has no funds.
    const retry1 = await step(fixture, () => billing.retryPayment(subscription.id, 'recovery:n5:1'));
    expect(retry1).toMatchObject({ kind: 'declined', failures: 2, nextRetryAt: firstFailedAt + 24 * HOUR, state: 'past_due', emailTemplate: 'soft_decline.repeated_failure' });

    // Asking before the 24h retry is due charges nothing.
    clock.advance(12 * HOUR);
    expect(await billing.retryPayment(subscription.id, 'early')).toEqual({ kind: 'not_due', subscriptionId: subscription.id, nextRetryAt: firstFailedAt + 24 * HOUR });

    // Retry 2 (24h): the third try succeeds.
    clock.set(firstFailedAt + 24 * HOUR);
    const retry2 = await step(fixture, () => billing.retryPayment(subscription.id, 'recovery:n5:2'));
    expect(retry2).toMatchObject({ kind: 'paid', amountCharged: 2_500, state: 'active', emailTemplate: 'payment_recovered' });

    expect(cardCharges(fixture, customer.id)).toEqual(['2500:succeeded', '2500:insufficient_funds', '2500:insufficient_funds', '2500:succeeded']);
    expect(billing.transitions(subscription.id).map((record) => `${record.from}>${record.to}`)).toEqual(['draft>active', 'active>past_due', 'past_due>active']);
    expect(billing.dunningCase(subscription.id)).toMatchObject({ status: 'recovered', failures: 2 });
    expect(billing.invoices(subscription.id).map((invoice) => invoice.status)).toEqual(['paid', 'paid']);
    expect(billing.entitlements(customer.id)[0]!.level).toBe('full');

    const received = await deliver(fixture, customer.email);
    expect(received.map((message) => message.subject)).toEqual([
      'Your payment of 25.00 USD did not go through',
      'Payment attempt 2 of 25.00 USD failed',
      'Payment received: 25.00 USD',
    ]);
    expect(received[0]!.body).toContain(`We will try again on ${new Date(firstFailedAt).toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  });

  it('cancels after the fourth retry fails, with the cancel email', async () => {
    const { fixture, customer, subscription } = await story('pm_card_chargeDeclinedInsufficientFunds', 'ines');
    const { billing, clock } = fixture;
    await billing.renewSubscription(subscription.id, 'recovery:n2:1');
    const retryTimes: number[] = [];
    let outcome: PaymentOutcome | undefined;
    for (let visit = 1; visit <= 4; visit++) {
      const due = billing.dunningCase(subscription.id)!.nextRetryAt!;
      clock.set(due);
      retryTimes.push(due);
      outcome = await billing.retryPayment(subscription.id, `recovery:n5:${visit}`);
    }
    const first = retryTimes[0]!;
    expect(retryTimes.map((at) => (at - first) / HOUR)).toEqual([0, 24, 72, 168]);
    expect(outcome).toMatchObject({ kind: 'declined', failures: 5, nextRetryAt: null, state: 'canceled', emailTemplate: 'soft_decline.canceled' });
    expect(billing.invoices(subscription.id)[1]!.status).toBe('uncollectible');
    expect(billing.entitlements(customer.id)[0]!.level).toBe('none');
    expect(billing.outbox({ to: customer.email }).map((email) => email.template)).toEqual([
      'soft_decline.first_failure',
      'soft_decline.repeated_failure',
      'soft_decline.repeated_failure',
      'soft_decline.repeated_failure',
      'soft_decline.canceled',
    ]);
  });
});

describe('story: an expired card updated through the link', () => {
  it('emails the link, takes a new card through it, and the next charge brings the subscription back to active', async () => {
    const { fixture, customer, subscription } = await story('pm_card_chargeDeclinedExpiredCard', 'eli');
    const { billing, clock } = fixture;

    const renewal = await step(fixture, () => billing.renewSubscription(subscription.id, 'recovery:n2:1'));
    expect(renewal).toMatchObject({ kind: 'declined', declineCode: 'expired_card', declineClass: 'expired_method', state: 'past_due', emailTemplate: 'expired_method.update_requested' });

    const [email] = await deliver(fixture, customer.email);
    expect(email!.subject).toBe('Your card on file needs updating');
    const link = linkIn(email!.body);
    expect(link).toBeDefined();

    // Two hours later the customer follows the link and enters a new card.
    clock.advance(2 * HOUR);
    const updated = await billing.updatePaymentMethodWithLink(link!, 'pm_card_visa', 'portal:update:1');
    expect(updated).toMatchObject({ ok: true, customerId: customer.id, subscriptionId: subscription.id, last4: '4242' });
    expect(await billing.updatePaymentMethodWithLink(link!, 'pm_card_visa', 'portal:update:1')).toEqual(updated);
    expect(billing.customer(customer.id).defaultPaymentMethodId).toBe(updated.ok ? updated.paymentMethodId : null);

    // The flow's signal handler retries at once: a new card makes the retry due.
    const retry = await step(fixture, () => billing.retryPayment(subscription.id, 'recovery:n9:1'));
    expect(retry).toMatchObject({ kind: 'paid', amountCharged: 2_500, state: 'active', emailTemplate: 'payment_recovered' });

    expect(cardCharges(fixture, customer.id)).toEqual(['2500:succeeded', '2500:expired_card', '2500:succeeded']);
    expect(billing.transitions(subscription.id).map((record) => `${record.from}>${record.to}`)).toEqual(['draft>active', 'active>past_due', 'past_due>active']);
    expect(billing.entitlements(customer.id)[0]!.level).toBe('full');
    const received = await deliver(fixture, customer.email);
    expect(received.map((message) => message.subject)).toEqual(['Your card on file needs updating', 'Payment received: 25.00 USD']);
  });

  it('refuses the link once it has expired or was tampered with, and changes nothing', async () => {
    const { fixture, customer, subscription } = await story('pm_card_chargeDeclinedExpiredCard', 'ezra');
    const { billing, clock } = fixture;
    await billing.renewSubscription(subscription.id, 'recovery:n2:1');
    const link = linkIn(billing.outbox({ to: customer.email })[0]!.text)!;
    const cardBefore = billing.customer(customer.id).defaultPaymentMethodId;

    const tampered = link.replace(/token=v1\.(.)/, (_, first: string) => `token=v1.${first === 'e' ? 'f' : 'e'}`);
    expect(await billing.updatePaymentMethodWithLink(tampered, 'pm_card_visa', 'portal:1')).toEqual({ ok: false, reason: 'bad_signature' });
    clock.advance(7 * DAY);
    expect(await billing.updatePaymentMethodWithLink(link, 'pm_card_visa', 'portal:2')).toEqual({ ok: false, reason: 'expired' });
    expect(billing.customer(customer.id).defaultPaymentMethodId).toBe(cardBefore);
  });

  it('revives an unpaid subscription when a new card comes in after the retries ran out', async () => {
    const { fixture, customer, subscription } = await story('pm_card_chargeDeclinedExpiredCard', 'uma');
    const { billing, clock } = fixture;
    await billing.renewSubscription(subscription.id, 'recovery:n2:1');
    for (let visit = 1; visit <= 3; visit++) {
      clock.set(billing.dunningCase(subscription.id)!.nextRetryAt!);
      await billing.retryPayment(subscription.id, `recovery:n5:${visit}`);
    }
    expect(billing.subscription(subscription.id).state).toBe('unpaid');
    expect(billing.outbox({ to: customer.email }).map((email) => email.template)).toEqual([
      'expired_method.update_requested',
      'expired_method.reminder',
      'expired_method.reminder',
      'expired_method.suspended',
    ]);
    expect(billing.entitlements(customer.id)[0]!.level).toBe('suspended');

    clock.advance(DAY);
    const link = billing.paymentMethodUpdateLink(subscription.id);
    expect((await billing.updatePaymentMethodWithLink(link, 'pm_card_mastercard', 'portal:1')).ok).toBe(true);
    expect(await billing.retryPayment(subscription.id, 'portal:retry')).toMatchObject({ kind: 'paid', state: 'active' });
    expect(billing.transitions(subscription.id).map((record) => record.to)).toEqual(['active', 'past_due', 'unpaid', 'active']);
    expect(billing.entitlements(customer.id)[0]!.level).toBe('full');
  });
});
