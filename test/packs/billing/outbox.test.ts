import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSmtpMailer, dispatchEmails, IdempotencyConflictError } from '../../../src/runtime/packs/billing/index';
import { enqueueEmail, listOutbox } from '../../../src/runtime/packs/billing/outbox';
import { ensureBillingSchema } from '../../../src/runtime/packs/billing/schema';
import { activeSubscription, billingFixture, type BillingFixture, DAY, type SmtpSink, START, startSmtpSink, tempDatabase } from './helpers';

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(() => sink.stop());

function mailer() {
  return createSmtpMailer({ host: '127.0.0.1', port: sink.port, secure: false, ignoreTLS: true });
}

function email(to: string, subject = 'Hello') {
  return { template: 'test', from: 'billing@laneflow.test', to, subject, text: `Body for ${to}` };
}

describe('email outbox', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((cleanup) => cleanup()));

  function outboxDatabase() {
    const database = tempDatabase();
    ensureBillingSchema(database.db);
    cleanups.push(database.close);
    return database;
  }

  it('queues one row per key, and refuses the key for a different email', () => {
    const { db } = outboxDatabase();
    expect(enqueueEmail(db, email('a@example.test'), 'k', START).queued).toBe(true);
    expect(enqueueEmail(db, email('a@example.test'), 'k', START + 1).queued).toBe(false);
    expect(() => enqueueEmail(db, email('b@example.test'), 'k', START)).toThrow(IdempotencyConflictError);
    expect(listOutbox(db)).toHaveLength(1);
  });

  it('sends each pending row once through a real SMTP server and marks it sent', async () => {
    const { db } = outboxDatabase();
    const before = sink.received.length;
    enqueueEmail(db, email('one@example.test', 'First'), 'k1', START);
    enqueueEmail(db, email('two@example.test', 'Second'), 'k2', START);
    const smtp = mailer();
    cleanups.push(() => smtp.close());
    expect(await dispatchEmails(db, smtp, { now: () => START })).toEqual({ sent: 2, errors: 0 });
    expect(await dispatchEmails(db, smtp, { now: () => START + DAY })).toEqual({ sent: 0, errors: 0 });
    const received = (await sink.waitFor(before + 2)).slice(before);
    expect(received.map((message) => [message.to, message.subject])).toEqual([
      [['one@example.test'], 'First'],
      [['two@example.test'], 'Second'],
    ]);
    expect(received[0]!.body).toContain('Body for one@example.test');
    expect(received[0]!.messageId).toBe(listOutbox(db)[0]!.messageId);
    expect(listOutbox(db).map((row) => row.status)).toEqual(['sent', 'sent']);
  });

  it('keeps a row pending with its error while the SMTP server is unreachable, and sends it later', async () => {
    const { db } = outboxDatabase();
    enqueueEmail(db, email('later@example.test'), 'k', START);
    const down = createSmtpMailer({ host: '127.0.0.1', port: 1, secure: false, ignoreTLS: true, connectionTimeout: 2_000 });
    expect(await dispatchEmails(db, down, { now: () => START, retryDelayMs: 60_000 })).toEqual({ sent: 0, errors: 1 });
    expect(listOutbox(db)[0]).toMatchObject({ status: 'pending', attempts: 1 });
    expect(listOutbox(db)[0]!.lastError).toMatch(/ECONNREFUSED|connect/i);
    const smtp = mailer();
    cleanups.push(() => smtp.close());
    const before = sink.received.length;
    expect(await dispatchEmails(db, smtp, { now: () => START + 30_000 })).toEqual({ sent: 0, errors: 0 });
    expect(await dispatchEmails(db, smtp, { now: () => START + 60_000 })).toEqual({ sent: 1, errors: 0 });
    expect((await sink.waitFor(before + 1)).slice(before).map((message) => message.to[0])).toEqual(['later@example.test']);
  });

  it('marks a row failed after its last attempt', async () => {
    const { db } = outboxDatabase();
    enqueueEmail(db, email('never@example.test'), 'k', START);
    const down = createSmtpMailer({ host: '127.0.0.1', port: 1, secure: false, ignoreTLS: true, connectionTimeout: 2_000 });
    await dispatchEmails(db, down, { now: () => START, maxAttempts: 2, retryDelayMs: 1_000 });
    await dispatchEmails(db, down, { now: () => START + 1_000, maxAttempts: 2, retryDelayMs: 1_000 });
    expect(listOutbox(db)[0]).toMatchObject({ status: 'failed', attempts: 2 });
    expect(await dispatchEmails(db, down, { now: () => START + DAY, maxAttempts: 2 })).toEqual({ sent: 0, errors: 0 });
  });

  it('lets two dispatchers on separate connections share the rows without sending any twice', async () => {
    const { db, path } = outboxDatabase();
    for (let index = 0; index < 12; index++) enqueueEmail(db, email(`r${index}@example.test`), `k${index}`, START);
    const other = new Database(path, { timeout: 10_000 });
    const [smtpA, smtpB] = [mailer(), mailer()];
    cleanups.push(() => {
      smtpA.close();
      smtpB.close();
      other.close();
    });
    const before = sink.received.length;
    const reports = await Promise.all([dispatchEmails(db, smtpA, { now: () => START }), dispatchEmails(other, smtpB, { now: () => START })]);
    expect(reports[0]!.sent + reports[1]!.sent).toBe(12);
    await sink.waitFor(before + 12);
    await new Promise((done) => setTimeout(done, 200));
    const recipients = sink.received.slice(before).map((message) => message.to[0]);
    expect(new Set(recipients).size).toBe(12);
    expect(recipients).toHaveLength(12);
  });
});

describe('exactly-once dunning email across a crash', () => {
  const fixtures: BillingFixture[] = [];
  afterEach(() => fixtures.splice(0).forEach((fixture) => fixture.close()));

  /** Runs the renewal in a worker process that kills itself at `mode`. */
  function crashingRenewal(path: string, subscriptionId: string, key: string, at: number, mode: 'after-commit' | 'after-charge'): Promise<NodeJS.Signals | null> {
    const script = fileURLToPath(new URL('./fixtures/crash-renewal.ts', import.meta.url));
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, path, subscriptionId, key, String(at), mode], { stdio: ['ignore', 'inherit', 'inherit'] });
      child.once('error', reject);
      child.once('exit', (_code, signal) => resolve(signal));
    });
  }

  async function declinedCustomer() {
    const fixture = billingFixture();
    fixtures.push(fixture);
    const { customer, subscription } = await activeSubscription(fixture, 'pm_card_visa');
    await fixture.billing.attachPaymentMethod(customer.id, 'pm_card_chargeDeclinedInsufficientFunds', 'card-2');
    fixture.clock.set(subscription.periodEnd!);
    return { fixture, customer, subscription };
  }

  it('sends the email of a renewal that committed just before the process died, once', async () => {
    const { fixture, customer, subscription } = await declinedCustomer();
    const key = 'recovery:n2:1';
    expect(await crashingRenewal(fixture.path, subscription.id, key, fixture.clock.now(), 'after-commit')).toBe('SIGKILL');

    expect(fixture.billing.subscription(subscription.id).state).toBe('past_due');
    expect(fixture.billing.outbox()).toEqual([expect.objectContaining({ status: 'pending', to: customer.email, template: 'soft_decline.first_failure' })]);

    // The engine runs the handler again after the restart: nothing new is charged or queued.
    const again = await fixture.billing.renewSubscription(subscription.id, key);
    expect(again).toMatchObject({ kind: 'declined', failures: 1, state: 'past_due' });
    expect(fixture.gateway.listCharges({ customerId: customer.id }).filter((charge) => charge.status === 'failed')).toHaveLength(1);

    const smtp = mailer();
    const before = sink.received.length;
    try {
      expect(await fixture.billing.dispatchEmails(smtp)).toEqual({ sent: 1, errors: 0 });
      expect(await fixture.billing.dispatchEmails(smtp)).toEqual({ sent: 0, errors: 0 });
    } finally {
      smtp.close();
    }
    await sink.waitFor(before + 1);
    await new Promise((done) => setTimeout(done, 200));
    expect(sink.received.slice(before).map((message) => message.to[0])).toEqual([customer.email]);
  });

  it('records a charge the process died right after exactly once when the handler runs again', async () => {
    const { fixture, customer, subscription } = await declinedCustomer();
    const key = 'recovery:n2:1';
    expect(await crashingRenewal(fixture.path, subscription.id, key, fixture.clock.now(), 'after-charge')).toBe('SIGKILL');

    // The charge happened at the gateway, but nothing of it was recorded here.
    expect(fixture.gateway.listCharges({ customerId: customer.id }).map((charge) => charge.status)).toEqual(['succeeded', 'failed']);
    expect(fixture.billing.subscription(subscription.id).state).toBe('active');
    expect(fixture.billing.outbox()).toEqual([]);

    const resumed = await fixture.billing.renewSubscription(subscription.id, key);
    expect(resumed).toMatchObject({ kind: 'declined', declineCode: 'insufficient_funds', failures: 1, state: 'past_due' });
    expect(fixture.gateway.listCharges({ customerId: customer.id }).map((charge) => charge.status)).toEqual(['succeeded', 'failed']);
    expect(fixture.billing.outbox()).toHaveLength(1);
    expect(await fixture.billing.renewSubscription(subscription.id, key)).toEqual(resumed);
    expect(fixture.billing.outbox()).toHaveLength(1);
  });
});
