import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import bindings, { RETENTION_RESPONSE, UNDO_DELETION } from '../../flows/account-deletion.bindings';
import { AccountService } from '../../src/runtime/packs/accounts/index';
import { type BillingService, createSmtpMailer, listOutbox } from '../../src/runtime/packs/billing/index';
import { type SmtpSink, startSmtpSink } from '../packs/billing/helpers';
import { activeSubscription, billingOn, DAY, type FlowHarness, openFlow } from './flow-harness';

const T0 = Date.UTC(2025, 3, 1, 10, 0, 0);
const harnesses: FlowHarness[] = [];
let sink: SmtpSink;

beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(() => sink.stop());
afterEach(() => {
  for (const harness of harnesses.splice(0)) harness.close();
});

/** Bo's account: 1,203 stored projects, two API keys, and a $49 monthly subscription. */
async function deletionFixture() {
  const h = openFlow('account-deletion', bindings, T0);
  harnesses.push(h);
  const accounts = new AccountService({ db: h.db, clock: h.clock, emailFrom: 'test@laneflow.test' });
  const records = Array.from({ length: 1_203 }, (_, index) => ({ kind: 'project', name: `project ${index + 1}`, bytes: 1_000 + index }));
  accounts.createAccount({ id: 'acct_bo', email: 'bo@example.test', name: 'Bo' }, records);
  const keys = [accounts.issueKey('acct_bo', 'setup', 'setup:key-1'), accounts.issueKey('acct_bo', 'setup', 'setup:key-2')];
  const billing: BillingService = billingOn(h);
  const subscription = await activeSubscription(billing, { email: 'bo@example.test', name: 'Bo', planId: 'pro', price: 4_900 });
  const input = { accountId: 'acct_bo', subscriptionId: subscription.id, comment: 'Bo here, it costs too much', eraseBatchSize: 500 };
  return { h, accounts, billing, subscription, keys, input };
}

describe('account-deletion.flow', () => {
  it('keeps the account when the customer takes the retention offer, paid as credit the next renewals spend', async () => {
    const { h, accounts, billing, subscription, keys, input } = await deletionFixture();
    const id = h.engine.start(h.version, { input: { ...input, reason: 'too_expensive' } });
    await h.engine.runUntilIdle({ horizon: T0 + DAY });
    expect(h.instance(id).snapshot.tokens.map((token) => [token.state, token.signal])).toEqual([['waiting', RETENTION_RESPONSE]]);
    h.engine.signal(id, RETENTION_RESPONSE, { accepted: true });
    await h.engine.runUntilIdle({ horizon: T0 + DAY });

    const instance = h.instance(id);
    expect(instance.status).toBe('completed');
    expect(h.route(id)).toEqual([
      'Deletion requested',
      'Give cancellation reason',
      'Offer retention? → Yes',
      'Prepare retention offer',
      'Consider retention offer',
      'Offer accepted? → Yes',
      'Apply retention credit',
      'Withdraw deletion request',
      'Account kept',
    ]);
    // 50 % of $49.00, three times.
    expect(instance.snapshot.data).toMatchObject({ retentionOffer: { percentOff: 50, months: 3 }, retentionCredit: { amount: 7_350, currency: 'usd', balance: 7_350 } });
    const deletionId = (instance.snapshot.data['deletion'] as { id: string }).id;
    expect(accounts.deletion(deletionId)).toMatchObject({ status: 'retained', reason: 'too_expensive' });
    expect(accounts.account('acct_bo').status).toBe('active');
    expect(accounts.recordCount('acct_bo')).toBe(1_203);
    expect(accounts.verifyKey(keys[0]!.secret!).ok).toBe(true);
    expect(billing.subscription(subscription.id).state).toBe('active');
    expect(listOutbox(h.db).map((email) => [email.template, email.to])).toEqual([['plans.retention_offer_applied', 'bo@example.test']]);

    // The next renewal is paid from the credit, and a new request within the year gets no second offer.
    h.clock.advance(subscription.periodEnd! - h.clock.now());
    const renewal = await billing.renewSubscription(subscription.id, 'test:renewal');
    expect(renewal).toMatchObject({ kind: 'paid', amountCharged: 0, creditApplied: 4_900 });
    const again = h.engine.start(h.version, { input: { ...input, reason: 'too_expensive' } });
    await h.engine.runUntilIdle({ horizon: h.clock.now() + DAY });
    expect(h.route(again)).toContain('Offer retention? → No');
  });

  it('deletes the account after the grace period: subscription canceled, keys revoked, data erased in batches, row anonymized, confirmation sent over SMTP', async () => {
    const { h, accounts, billing, subscription, keys, input } = await deletionFixture();
    const id = h.engine.start(h.version, { input: { ...input, reason: 'too_expensive', gracePeriod: '14d' } });
    await h.engine.runUntilIdle({ horizon: T0 + DAY });
    h.engine.signal(id, RETENTION_RESPONSE, { accepted: false });
    await h.engine.runUntilIdle({ horizon: T0 + DAY });

    // In the grace period: subscription over, account shut, keys refused, data still there.
    expect(billing.subscription(subscription.id).state).toBe('canceled');
    expect(billing.transitions(subscription.id).map((t) => [t.from, t.to, t.reason])).toEqual([
      ['draft', 'active', 'initial charge succeeded'],
      ['active', 'canceled', 'account closed (too_expensive)'],
    ]);
    expect(accounts.account('acct_bo').status).toBe('deactivated');
    expect(accounts.verifyKey(keys[1]!.secret!)).toEqual({ ok: false, reason: 'revoked' });
    expect(accounts.recordCount('acct_bo')).toBe(1_203);

    await h.engine.runUntilIdle();
    const instance = h.instance(id);
    expect(instance.status).toBe('completed');
    expect(h.route(id)).toEqual([
      'Deletion requested',
      'Give cancellation reason',
      'Offer retention? → Yes',
      'Prepare retention offer',
      'Consider retention offer',
      'Offer accepted? → No',
      'Terminate subscription',
      'Deactivate account',
      'Hold for grace period',
      'Undo requested? → No',
      'Erase a batch of data',
      'Data left? → Yes',
      'Erase a batch of data',
      'Data left? → Yes',
      'Erase a batch of data',
      'Data left? → No',
      'Anonymize account record',
      'Send confirmation email',
      'Account deleted',
    ]);
    const deletionId = (instance.snapshot.data['deletion'] as { id: string }).id;
    expect(accounts.recordCount('acct_bo')).toBe(0);
    expect(accounts.deletion(deletionId)).toMatchObject({ status: 'completed', recordsErased: 1_203, comment: null, completedAt: T0 + 14 * DAY });
    const account = accounts.account('acct_bo');
    expect(account).toMatchObject({ status: 'deleted', name: null, deletedAt: T0 + 14 * DAY });
    expect(account.email).toMatch(/^deleted-acct_[0-9a-f]{20}@invalid$/);
    expect(accounts.keys('acct_bo').map((key) => key.status)).toEqual(['revoked', 'revoked']);
    // The flow's data no longer holds the address; the journal keeps the patches that carried it.
    expect(instance.snapshot.data['contact']).toBeUndefined();
    expect(instance.snapshot.data).toMatchObject({ erasure: { erased: 203, remaining: 0, totalErased: 1_203 }, revokedKeys: 2, subscriptionEnded: { state: 'canceled', at: T0 } });

    expect(accounts.audit({ accountId: 'acct_bo' }).map((entry) => [entry.action, entry.at])).toEqual([
      ['api_key.issued', T0],
      ['api_key.issued', T0],
      ['account.deletion_requested', T0],
      ['api_key.revoked', T0],
      ['api_key.revoked', T0],
      ['account.deactivated', T0],
      ['account.deleted', T0 + 14 * DAY],
    ]);
    expect(accounts.verifyAudit().intact).toBe(true);

    const outbox = listOutbox(h.db);
    expect(outbox.map((email) => [email.template, email.to, email.status])).toEqual([['accounts.deletion_confirmed', 'bo@example.test', 'pending']]);
    const smtp = createSmtpMailer({ host: '127.0.0.1', port: sink.port, secure: false, ignoreTLS: true });
    try {
      expect(await billing.dispatchEmails(smtp)).toEqual({ sent: 1, errors: 0 });
    } finally {
      smtp.close();
    }
    const [received] = await sink.waitFor(1);
    expect(received).toMatchObject({ to: ['bo@example.test'], subject: 'Your account has been deleted', messageId: outbox[0]!.messageId });
    expect(received!.body).toContain('Hello Bo,');
    expect(received!.body).toContain('we deleted account acct_bo on 2025-04-15 10:00 UTC: 1203 stored items were erased');
    expect(listOutbox(h.db)[0]!.status).toBe('sent');
  });

  it('makes no offer to a customer leaving for privacy, and restores the account when they undo within the grace period', async () => {
    const { h, accounts, billing, subscription, keys, input } = await deletionFixture();
    const id = h.engine.start(h.version, { input: { ...input, reason: 'privacy', gracePeriod: '14d' } });
    await h.engine.runUntilIdle({ horizon: T0 + 3 * DAY });
    h.clock.advance(3 * DAY);
    h.engine.signal(id, UNDO_DELETION);
    await h.engine.runUntilIdle();

    const instance = h.instance(id);
    expect(instance.status).toBe('completed');
    expect(h.route(id)).toEqual([
      'Deletion requested',
      'Give cancellation reason',
      'Offer retention? → No',
      'Terminate subscription',
      'Deactivate account',
      'Hold for grace period',
      'Undo requested? → Yes',
      'Restore account',
      'Deletion undone',
    ]);
    const deletionId = (instance.snapshot.data['deletion'] as { id: string }).id;
    expect(accounts.deletion(deletionId).status).toBe('undone');
    expect(accounts.account('acct_bo')).toMatchObject({ status: 'active', email: 'bo@example.test', name: 'Bo' });
    expect(accounts.recordCount('acct_bo')).toBe(1_203);
    // Revoked keys stay revoked and the subscription stays ended: the customer starts them afresh.
    expect(accounts.verifyKey(keys[0]!.secret!)).toEqual({ ok: false, reason: 'revoked' });
    expect(billing.subscription(subscription.id).state).toBe('canceled');
    expect(accounts.audit({ accountId: 'acct_bo' }).at(-1)).toMatchObject({ action: 'account.restored', at: T0 + 3 * DAY });
    expect(listOutbox(h.db)).toEqual([]);
  });
});
