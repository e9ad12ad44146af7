import { afterEach, describe, expect, it } from 'vitest';
import bindings, { ISSUER_RULING } from '../../flows/billing-dispute.bindings';
import { listOutbox } from '../../src/runtime/packs/billing/index';
import { DISPUTE_FEE, DisputeService, type TransactionRecord } from '../../src/runtime/packs/disputes/index';
import { DAY, type FlowHarness, openFlow } from './flow-harness';

const T0 = Date.UTC(2025, 5, 2, 8, 0, 0);
const harnesses: FlowHarness[] = [];

afterEach(() => {
  for (const harness of harnesses.splice(0)) harness.close();
});

/** A card payment as checkout recorded it, ten days before the dispute. */
function payment(overrides: Partial<TransactionRecord> & { id: string }): TransactionRecord {
  return {
    customerId: 'cus_dee',
    amount: 12_000,
    currency: 'eur',
    description: 'Annual plan, 2025',
    createdAt: T0 - 10 * DAY,
    cardFingerprint: 'fp_dee_visa',
    cardCountry: 'DE',
    ipCountry: 'DE',
    avsCheck: 'pass',
    cvcCheck: 'pass',
    threeDSecure: 'none',
    deviceSeenBefore: true,
    customerSince: T0 - 400 * DAY,
    refundedAmount: 0,
    usageAfterPurchase: 0,
    deliveredAt: T0 - 10 * DAY,
    canceledAt: null,
    ...overrides,
  };
}

function disputeFixture(transactions: TransactionRecord[], dispute: { reason: string; amount?: number }) {
  const h = openFlow('billing-dispute', bindings, T0);
  harnesses.push(h);
  const disputes = new DisputeService({ db: h.db, clock: h.clock, emailFrom: 'test@laneflow.test' });
  for (const transaction of transactions) disputes.recordTransaction(transaction);
  const id = h.engine.start(h.version, {
    input: { disputeId: 'dp_001', transactionId: 'tx_disputed', amount: dispute.amount ?? 12_000, currency: 'eur', reason: dispute.reason, merchantEmail: 'finance@shop.test' },
  });
  return { h, disputes, id };
}

/** Sends the issuer's ruling to the waiting instance and runs until it waits again or ends. */
async function rule(h: FlowHarness, id: string, ruling: object): Promise<void> {
  expect(h.instance(id).snapshot.tokens.map((token) => [token.node, token.signal])).toEqual([['n2', ISSUER_RULING]]);
  h.engine.signal(id, ISSUER_RULING, ruling as never);
  h.clock.advance(DAY);
  await h.engine.runUntilIdle({ horizon: h.clock.now() });
}

const INTAKE = ['Chargeback filed', 'Log dispute intake', 'Review transaction', 'Analyse fraud signals', 'Assemble evidence'];

describe('billing-dispute.flow', () => {
  it('accepts a chargeback that looks like a stolen card: the debit and the fee stand', async () => {
    const stolen = payment({
      id: 'tx_disputed',
      cardFingerprint: 'fp_unknown',
      cardCountry: 'US',
      ipCountry: 'RO',
      avsCheck: 'fail',
      cvcCheck: 'fail',
      deviceSeenBefore: false,
      customerSince: T0 - 10 * DAY,
      deliveredAt: null,
    });
    const { h, disputes, id } = disputeFixture([stolen], { reason: 'fraudulent' });
    await h.engine.runUntilIdle();

    expect(h.instance(id).status).toBe('completed');
    expect(h.route(id)).toEqual([...INTAKE, 'Contest or accept? → Accept', 'Accept chargeback', 'Notify merchant of outcome', 'Dispute closed']);
    // 50 + 25 (CVC) + 15 (address) + 15 (country) + 10 (device) + 10 (first payment) + 5 (no use) + 10 (same-day account), capped.
    expect(h.instance(id).snapshot.data).toMatchObject({
      fraud: { score: 100, verdict: 'likely_fraud' },
      evidence: { items: [], strength: 0 },
      recommendation: { action: 'accept', reasons: ['the fraud score is 100: most likely a stolen card, and without 3-D Secure the liability is ours'] },
      outcome: { status: 'accepted', net: -12_000 - DISPUTE_FEE, closedAt: T0 },
    });
    expect(disputes.dispute('dp_001')).toMatchObject({ status: 'accepted', submissions: 0 });
    expect(disputes.ledger('dp_001').map((entry) => [entry.kind, entry.amount])).toEqual([
      ['chargeback', -12_000],
      ['dispute_fee', -DISPUTE_FEE],
    ]);
    const [email] = listOutbox(h.db);
    expect(email).toMatchObject({ template: 'disputes.accepted', to: 'finance@shop.test', subject: 'Dispute dp_001: accepted without a response' });
    expect(email!.text).toContain('Effect on your balance: -135.00 EUR (chargeback -120.00 EUR, fee -15.00 EUR).');
  });

  it('contests a friendly-fraud claim, answers the issuer’s request for more, and wins the amount back', async () => {
    const earlier = [1, 2, 3, 4, 5].map((month) => payment({ id: `tx_earlier_${month}`, createdAt: T0 - (10 + 30 * month) * DAY }));
    const disputed = payment({ id: 'tx_disputed', threeDSecure: 'authenticated', usageAfterPurchase: 42 });
    const { h, disputes, id } = disputeFixture([...earlier, disputed], { reason: 'fraudulent' });
    await h.engine.runUntilIdle({ horizon: T0 });
    expect(h.instance(id).snapshot.data).toMatchObject({
      review: { priorUndisputedPayments: 5, possibleDuplicates: [], customerTenureDays: 390, usageAfterPurchase: 42 },
      fraud: { score: 0, verdict: 'likely_legitimate' },
      evidence: { strength: 100 },
      recommendation: { action: 'contest' },
      submission: { round: 1, items: ['three_d_secure', 'cvc_match', 'avs_match', 'prior_undisputed_payments', 'known_device', 'service_usage'] },
    });

    await rule(h, id, { outcome: 'more_info', requested: ['usage_logs', 'customer_communication'] });
    expect(h.instance(id).snapshot.data['submission']).toMatchObject({ round: 2, items: expect.arrayContaining(['usage_logs', 'customer_communication']) });
    await rule(h, id, { outcome: 'won', note: 'the issuer accepted the 3-D Secure authentication' });

    expect(h.instance(id).status).toBe('completed');
    expect(h.route(id)).toEqual([
      ...INTAKE,
      'Contest or accept? → Contest',
      'Submit representment',
      'Await issuer ruling',
      'Issuer ruling? → More info',
      'Add requested evidence',
      'Submit representment',
      'Await issuer ruling',
      'Issuer ruling? → Won',
      'Recover disputed funds',
      'Notify merchant of outcome',
      'Dispute closed',
    ]);
    expect(disputes.dispute('dp_001')).toMatchObject({ status: 'won', submissions: 2, resolution: 'the issuer accepted the 3-D Secure authentication', closedAt: T0 + 2 * DAY });
    expect(h.db.prepare('SELECT round, at FROM disputes_submissions ORDER BY round').all()).toEqual([
      { round: 1, at: T0 },
      { round: 2, at: T0 + DAY },
    ]);
    expect(disputes.ledger('dp_001').map((entry) => [entry.kind, entry.amount, entry.at])).toEqual([
      ['chargeback', -12_000, T0],
      ['dispute_fee', -DISPUTE_FEE, T0],
      ['reversal', 12_000, T0 + 2 * DAY],
    ]);
    expect(disputes.net('dp_001')).toBe(-DISPUTE_FEE);
    const [email] = listOutbox(h.db);
    expect(email).toMatchObject({ template: 'disputes.won', subject: 'Dispute dp_001: won' });
    expect(email!.text).toContain('Evidence sent in 2 rounds:');
    expect(email!.text).toContain('- 42 sign-ins or API calls after the payment, with times and IP addresses');
    expect(email!.text).toContain('- not on file');
  });

  it('contests a "not received" claim with delivery and usage, and records the loss when the issuer sides with the cardholder', async () => {
    const earlier = payment({ id: 'tx_earlier', createdAt: T0 - 40 * DAY });
    const disputed = payment({ id: 'tx_disputed', usageAfterPurchase: 3, customerSince: T0 - 40 * DAY });
    const { h, disputes, id } = disputeFixture([earlier, disputed], { reason: 'product_not_received' });
    await h.engine.runUntilIdle({ horizon: T0 });
    expect(h.instance(id).snapshot.data).toMatchObject({
      evidence: { strength: 70, items: [{ kind: 'service_delivered', summary: 'provisioned on 2025-05-23 08:00 UTC' }, { kind: 'service_usage' }] },
      recommendation: { action: 'contest', reasons: ['the evidence scores 70 of 100', 'the fraud score is 15 (likely_legitimate)'] },
    });
    await rule(h, id, { outcome: 'lost', note: 'the cardholder showed the seats were never usable' });

    expect(h.instance(id).status).toBe('completed');
    expect(h.route(id).slice(INTAKE.length)).toEqual([
      'Contest or accept? → Contest',
      'Submit representment',
      'Await issuer ruling',
      'Issuer ruling? → Lost',
      'Write off chargeback',
      'Notify merchant of outcome',
      'Dispute closed',
    ]);
    expect(disputes.dispute('dp_001')).toMatchObject({ status: 'lost', resolution: 'the cardholder showed the seats were never usable' });
    expect(disputes.net('dp_001')).toBe(-12_000 - DISPUTE_FEE);
    expect(listOutbox(h.db).map((email) => email.template)).toEqual(['disputes.lost']);
  });

  it('wins by default when the issuer does not pursue within the window, and stops answering after three rounds', async () => {
    const silent = disputeFixture([payment({ id: 'tx_disputed', threeDSecure: 'authenticated', usageAfterPurchase: 12 })], { reason: 'fraudulent' });
    await silent.h.engine.runUntilIdle();
    expect(silent.h.instance(silent.id).status).toBe('completed');
    expect(silent.h.route(silent.id)).toContain('Issuer ruling? → Won');
    expect(silent.disputes.dispute('dp_001')).toMatchObject({ status: 'won', resolution: 'the issuer did not pursue the dispute within 30d of the response', closedAt: T0 + 30 * DAY });

    const { h, disputes, id } = disputeFixture([payment({ id: 'tx_disputed', threeDSecure: 'authenticated', usageAfterPurchase: 12 })], { reason: 'fraudulent' });
    await h.engine.runUntilIdle({ horizon: T0 });
    for (let round = 1; round <= 3; round++) await rule(h, id, { outcome: 'more_info', requested: ['receipt'] });
    expect(h.instance(id).status).toBe('completed');
    expect(h.route(id).filter((step) => step.startsWith('Issuer ruling?'))).toEqual(['Issuer ruling? → More info', 'Issuer ruling? → More info', 'Issuer ruling? → Lost']);
    expect(disputes.dispute('dp_001')).toMatchObject({ status: 'lost', submissions: 3, resolution: 'the issuer asked for receipt after the last response round' });
  });
});
