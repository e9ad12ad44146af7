// payment-failure-recovery.flow end to end on the engine: a real SQLite file, the virtual
// clock, the built-in billing handlers and a real SMTP server in its own process. The three
// stories of issue 5's done-when, then the two ways the retries run out.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/runtime/clock';
import { Engine } from '../../src/runtime/engine';
import { PAYMENT_METHOD_UPDATED } from '../../src/runtime/packs/billing/handlers';
import { openBillingService } from '../../src/runtime/packs/billing/pack-services';
import type { BillingService } from '../../src/runtime/packs/billing/index';
import bindings from '../../flows/payment-failure-recovery.bindings';
import { HOUR, linkIn, type ReceivedEmail, type SmtpSink, START, startSmtpSink } from '../packs/billing/helpers';
import { billingEnv, chargeLines, Database, freshDb, gatewayCharges, journalPath, recoveryFlow, setEnv } from './payment-failure-recovery.helpers';

/** The sandbox subscription opens at START and renews a month later. */
const RENEWAL = Date.UTC(2025, 1, 15, 9, 0, 0);
const at = (offset: number) => new Date(RENEWAL + offset).toISOString();
const ACTIVATION = new Date(START).toISOString();

let sink: SmtpSink;
let restoreEnv: () => void;
beforeAll(async () => {
  sink = await startSmtpSink();
  restoreEnv = setEnv(billingEnv(sink.port));
});
afterAll(async () => {
  restoreEnv();
  await sink.stop();
});

const opened: { close(): void }[] = [];
afterEach(() => opened.splice(0).forEach((resource) => resource.close()));

interface Story {
  engine: Engine;
  clock: VirtualClock;
  path: string;
  id: string;
  /** The billing service as the application's card-update page opens it: its own connection to the file. */
  page: BillingService;
  customerId: () => string;
}

function story(name: string, card: string): Story {
  const path = freshDb(`recovery-${name}`);
  const clock = new VirtualClock(START);
  const engine = new Engine({ db: path, clock });
  opened.push(engine);
  const { machine, diagnostics } = engine.deploy(recoveryFlow(), bindings);
  expect(diagnostics).toEqual([]);
  const id = engine.start(machine!.version, { input: { card, email: `${name}@example.test`, name } });
  const pageDb = new Database(path);
  pageDb.pragma('busy_timeout = 10000');
  opened.push(pageDb);
  const page = openBillingService(pageDb, clock);
  return { engine, clock, path, id, page, customerId: () => engine.instance(id)!.snapshot.data['customerId'] as string };
}

/** What the SMTP server received for `to`, once `count` messages have arrived. */
async function inbox(to: string, count: number): Promise<ReceivedEmail[]> {
  const deadline = Date.now() + 5_000;
  const mine = () => sink.received.filter((message) => message.to.includes(to));
  while (mine().length < count && Date.now() < deadline) await new Promise((done) => setTimeout(done, 10));
  return mine();
}

function effects(engine: Engine, id: string, kind: string) {
  return engine.instance(id)!.outbox.filter((effect) => effect.kind === kind).map((effect) => effect.payload as Record<string, unknown>);
}

describe('payment-failure-recovery.flow', () => {
  it('hard decline: no retry, the suspension email with the update link, unpaid and suspended', async () => {
    const { engine, path, id, page, customerId } = story('hana', 'pm_card_chargeDeclinedStolenCard');
    await engine.runUntilIdle();
    const instance = engine.instance(id)!;
    expect(instance.status).toBe('completed');
    expect(journalPath(instance)).toEqual(['n1', 'n2', 'n3', 'n4', 'n5:No', 'n7:Hard decline', 'n14', 'n19', 'n21']);

    expect(chargeLines(gatewayCharges(path, customerId()), id)).toEqual([
      `${ACTIVATION} 2500 succeeded n2:1:activate:charge`,
      `${at(0)} 2500 stolen_card n4:1:charge`,
    ]);
    const received = await inbox('hana@example.test', 1);
    expect(received.map((message) => message.subject)).toEqual(['Action required: your card was declined']);
    expect(received[0]!.from).toBe('billing@laneflow.test');
    expect(received[0]!.body).toContain('will not try it again');
    expect(linkIn(received[0]!.body)).toBeDefined();

    const subscriptionId = instance.snapshot.data['subscriptionId'] as string;
    expect(page.subscription(subscriptionId).state).toBe('unpaid');
    expect(page.transitions(subscriptionId).map((t) => `${t.from}>${t.to}`)).toEqual(['draft>active', 'active>past_due', 'past_due>unpaid']);
    expect(page.entitlements(customerId())[0]).toMatchObject({ level: 'suspended', features: { core: false, premium: false } });
    expect(instance.snapshot.data).toMatchObject({ state: 'unpaid', declineClass: 'hard_decline', entitlement: { level: 'suspended' } });
    expect(effects(engine, id, 'billing.email')).toEqual([
      { template: 'hard_decline.suspended', to: 'hana@example.test', subject: 'Action required: your card was declined', status: 'sent' },
    ]);
  });

  it('soft decline recovered on the third try: two declines at 0h and one payment at 24h, an email per attempt, active again', async () => {
    const { engine, path, id, page, customerId } = story('sol', 'pm_sandbox_declineFirst2_insufficient_funds');
    await engine.runUntilIdle();
    const instance = engine.instance(id)!;
    expect(instance.status).toBe('completed');
    expect(journalPath(instance)).toEqual([
      'n1', 'n2', 'n3', 'n4', 'n5:No',
      'n7:Soft decline', 'n12', 'n8', 'n9', 'n10:No', 'n11:Yes', 'n18',
      'n7:Soft decline', 'n12', 'n8', 'n9', 'n10:Yes', 'n15', 'n17', 'n20',
    ]);
    // The loop went round once: its first node was entered twice.
    expect(instance.snapshot.visits['n7']).toBe(2);

    // The renewal fails, the schedule's first retry (0h) fails at once, the second (24h) pays.
    expect(chargeLines(gatewayCharges(path, customerId()), id)).toEqual([
      `${ACTIVATION} 2500 succeeded n2:1:activate:charge`,
      `${at(0)} 2500 insufficient_funds n4:1:charge`,
      `${at(0)} 2500 insufficient_funds n9:1:charge`,
      `${at(24 * HOUR)} 2500 succeeded n9:2:charge`,
    ]);
    const received = await inbox('sol@example.test', 3);
    expect(received.map((message) => message.subject)).toEqual([
      'Your payment of 25.00 USD did not go through',
      'Payment attempt 2 of 25.00 USD failed',
      'Payment received: 25.00 USD',
    ]);
    expect(received[0]!.body).toContain('We will try again on 2025-02-15 09:00 UTC');
    expect(received[1]!.body).toContain('We will try again on 2025-02-16 09:00 UTC');

    const subscriptionId = instance.snapshot.data['subscriptionId'] as string;
    expect(page.subscription(subscriptionId).state).toBe('active');
    expect(page.transitions(subscriptionId).map((t) => `${t.from}>${t.to}`)).toEqual(['draft>active', 'active>past_due', 'past_due>active']);
    expect(page.dunningCase(subscriptionId)).toMatchObject({ status: 'recovered', failures: 2 });
    expect(page.entitlements(customerId())[0]!.level).toBe('full');
    expect(effects(engine, id, 'billing.charge').map((c) => `${c['purpose']}:${c['status']}`)).toEqual([
      'activation:succeeded',
      'renewal:declined',
      'retry:declined',
      'retry:succeeded',
    ]);
  });

  it('expired card: the emailed link takes a new card, the signal resumes the waiting instance, the next charge pays', async () => {
    const { engine, clock, path, id, page, customerId } = story('eli', 'pm_card_chargeDeclinedExpiredCard');
    await engine.runUntilIdle({ horizon: RENEWAL + HOUR });
    let instance = engine.instance(id)!;
    expect(instance.status).toBe('running');
    expect(instance.snapshot.tokens).toMatchObject([{ node: 'n16', state: 'waiting', signal: PAYMENT_METHOD_UPDATED, dueAt: RENEWAL + 48 * HOUR }]);
    const [updateRequest, reminder] = await inbox('eli@example.test', 2);
    expect(updateRequest!.subject).toBe('Your card on file needs updating');
    expect(reminder!.subject).toBe('Reminder: update your card to keep your pro plan');
    const link = linkIn(updateRequest!.body);
    expect(link).toBeDefined();

    // Two hours later the customer opens the link; the page attaches the card and tells the flow.
    clock.advance(2 * HOUR);
    const updated = await page.updatePaymentMethodWithLink(link!, 'pm_card_visa', 'page:eli:1');
    expect(updated).toMatchObject({ ok: true, customerId: customerId(), last4: '4242' });
    engine.signal(id, PAYMENT_METHOD_UPDATED, { paymentMethodId: updated.ok ? updated.paymentMethodId : null });
    await engine.runUntilIdle();

    instance = engine.instance(id)!;
    expect(instance.status).toBe('completed');
    expect(journalPath(instance)).toEqual([
      'n1', 'n2', 'n3', 'n4', 'n5:No',
      'n7:Expired card', 'n13', 'n16', 'n9', 'n10:No', 'n11:Yes', 'n18',
      'n7:Expired card', 'n13', 'n16', 'n9', 'n10:Yes', 'n15', 'n17', 'n20',
    ]);
    expect(instance.journal.find((entry) => entry.outcome === 'signalled')).toMatchObject({ node: 'n16', at: RENEWAL + 2 * HOUR });
    const charges = gatewayCharges(path, customerId());
    expect(chargeLines(charges, id)).toEqual([
      `${ACTIVATION} 2500 succeeded n2:1:activate:charge`,
      `${at(0)} 2500 expired_card n4:1:charge`,
      `${at(0)} 2500 expired_card n9:1:charge`,
      `${at(2 * HOUR)} 2500 succeeded n9:2:charge`,
    ]);
    expect(charges.at(-1)!.paymentMethodId).toBe(updated.ok ? updated.paymentMethodId : null);
    expect((await inbox('eli@example.test', 3)).map((message) => message.subject).at(-1)).toBe('Payment received: 25.00 USD');

    const subscriptionId = instance.snapshot.data['subscriptionId'] as string;
    expect(page.subscription(subscriptionId).state).toBe('active');
    expect(page.entitlements(customerId())[0]!.level).toBe('full');
    expect(instance.snapshot.data['cardUpdate']).toEqual({ paymentMethodId: updated.ok ? updated.paymentMethodId : null, at: at(2 * HOUR) });
  });

  it('expired card: a signal carrying the link and a card token attaches the card itself, after turning a tampered link away', async () => {
    const { engine, clock, path, id, customerId } = story('ezra', 'pm_card_chargeDeclinedExpiredCard');
    await engine.runUntilIdle({ horizon: RENEWAL + HOUR });
    const [email] = await inbox('ezra@example.test', 1);
    const link = linkIn(email!.body)!;
    const tampered = link.replace(/token=v1\.(.)/, (_, first: string) => `token=v1.${first === 'e' ? 'f' : 'e'}`);
    clock.advance(HOUR);
    engine.signal(id, PAYMENT_METHOD_UPDATED, { link: tampered, paymentMethodToken: 'pm_card_visa' });
    await engine.runUntilIdle({ horizon: RENEWAL + 2 * HOUR });
    expect(engine.instance(id)!.snapshot.tokens).toMatchObject([{ node: 'n16', state: 'waiting' }]);
    expect(gatewayCharges(path, customerId())).toHaveLength(3);

    clock.advance(HOUR);
    engine.signal(id, PAYMENT_METHOD_UPDATED, { link, paymentMethodToken: 'pm_card_mastercard' });
    await engine.runUntilIdle();
    const instance = engine.instance(id)!;
    expect(instance.status).toBe('completed');
    expect(instance.snapshot.data).toMatchObject({ state: 'active', cardUpdatesRejected: ['link bad_signature'], cardUpdate: { at: at(2 * HOUR) } });
    expect(chargeLines(gatewayCharges(path, customerId()), id).at(-1)).toBe(`${at(2 * HOUR)} 2500 succeeded n9:2:charge`);
  });

  it('soft decline never recovered: four retries at 0h, 24h, 72h and 168h, access narrowed step by step, then canceled', async () => {
    const { engine, path, id, page, customerId } = story('ines', 'pm_card_chargeDeclinedInsufficientFunds');
    await engine.runUntilIdle();
    const instance = engine.instance(id)!;
    expect(instance.status).toBe('completed');
    // The loop's bound is the schedule's four retries: four iterations, and out by "No".
    expect(instance.snapshot.loops['loop1']).toBe(4);
    expect(journalPath(instance).slice(-5)).toEqual(['n10:No', 'n11:No', 'n14', 'n19', 'n21']);
    expect(chargeLines(gatewayCharges(path, customerId()), id).slice(1)).toEqual([
      `${at(0)} 2500 insufficient_funds n4:1:charge`,
      `${at(0)} 2500 insufficient_funds n9:1:charge`,
      `${at(24 * HOUR)} 2500 insufficient_funds n9:2:charge`,
      `${at(72 * HOUR)} 2500 insufficient_funds n9:3:charge`,
      `${at(168 * HOUR)} 2500 insufficient_funds n9:4:charge`,
    ]);
    const received = await inbox('ines@example.test', 5);
    expect(received.map((message) => message.subject)).toEqual([
      'Your payment of 25.00 USD did not go through',
      'Payment attempt 2 of 25.00 USD failed',
      'Payment attempt 3 of 25.00 USD failed',
      'Payment attempt 4 of 25.00 USD failed',
      'Your subscription has been canceled',
    ]);
    const subscriptionId = instance.snapshot.data['subscriptionId'] as string;
    expect(page.subscription(subscriptionId).state).toBe('canceled');
    expect(page.entitlementChanges({ customerId: customerId() }).map((change) => `${new Date(change.at).toISOString()} ${change.to}`)).toEqual([
      `${ACTIVATION} full`,
      `${at(72 * HOUR)} restricted`,
      `${at(168 * HOUR)} suspended`,
      `${at(168 * HOUR)} none`,
    ]);
  });

  it('expired card never updated: reminders at 48h and 120h, premium features off at 96h while waiting, then unpaid and suspended', async () => {
    const { engine, path, id, page, customerId } = story('uma', 'pm_card_chargeDeclinedExpiredCard');
    await engine.runUntilIdle();
    const instance = engine.instance(id)!;
    expect(instance.status).toBe('completed');
    expect(chargeLines(gatewayCharges(path, customerId()), id).slice(1).map((line) => line.split(' ').slice(0, 3).join(' '))).toEqual([
      `${at(0)} 2500 expired_card`,
      `${at(0)} 2500 expired_card`,
      `${at(48 * HOUR)} 2500 expired_card`,
      `${at(120 * HOUR)} 2500 expired_card`,
    ]);
    // The wait for a new card wakes when the entitlement policy says, not only at the next retry.
    expect(page.entitlementChanges({ customerId: customerId() }).map((change) => `${new Date(change.at).toISOString()} ${change.to}`)).toEqual([
      `${ACTIVATION} full`,
      `${at(96 * HOUR)} restricted`,
      `${at(120 * HOUR)} suspended`,
    ]);
    expect(page.subscription(instance.snapshot.data['subscriptionId'] as string).state).toBe('unpaid');
    expect((await inbox('uma@example.test', 4)).map((message) => message.subject)).toEqual([
      'Your card on file needs updating',
      'Reminder: update your card to keep your pro plan',
      'Reminder: update your card to keep your pro plan',
      'Your account is suspended until you update your card',
    ]);
  });
});
