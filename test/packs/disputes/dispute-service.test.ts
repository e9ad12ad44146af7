import { afterEach, describe, expect, it } from 'vitest';
import { DISPUTE_FEE, DisputesError, DisputeService, DisputeStateError, type TransactionRecord } from '../../../src/runtime/packs/disputes/index';
import { DAY, HOUR, START, TestClock, tempDatabase } from '../billing/helpers';

const opened: Array<{ close(): void }> = [];
afterEach(() => opened.splice(0).forEach((database) => database.close()));

function payment(id: string, overrides: Partial<TransactionRecord> = {}): TransactionRecord {
  return {
    id,
    customerId: 'cus_1',
    amount: 5_000,
    currency: 'usd',
    description: 'Pro plan, March',
    createdAt: START - 5 * DAY,
    cardFingerprint: 'fp_1',
    cardCountry: 'US',
    ipCountry: 'US',
    avsCheck: 'pass',
    cvcCheck: 'pass',
    threeDSecure: 'none',
    deviceSeenBefore: true,
    customerSince: START - 100 * DAY,
    refundedAmount: 0,
    usageAfterPurchase: 0,
    deliveredAt: START - 5 * DAY,
    canceledAt: null,
    ...overrides,
  };
}

function service(transactions: TransactionRecord[]) {
  const database = tempDatabase();
  opened.push(database);
  const clock = new TestClock(START);
  const disputes = new DisputeService({ db: database.db, clock, emailFrom: 'test@laneflow.test' });
  for (const transaction of transactions) disputes.recordTransaction(transaction);
  return { disputes, clock };
}

/** Opens dp_1 on tx_1 and runs the desk's analysis up to the recommendation. */
function analysed(disputes: DisputeService, reason: string, dueIn = 7 * DAY) {
  disputes.openDispute({ id: 'dp_1', transactionId: 'tx_1', reason, amount: 5_000, currency: 'usd', evidenceDueBy: START + dueIn }, 'open');
  disputes.reviewTransaction('dp_1');
  disputes.analyseFraud('dp_1');
  return disputes.assembleEvidence('dp_1');
}

describe('DisputeService', () => {
  it('opens a dispute once per key, debiting the amount and the fee once, and checks it against the transaction', () => {
    const { disputes } = service([payment('tx_1')]);
    expect(() => disputes.openDispute({ id: 'dp_x', transactionId: 'tx_1', reason: 'fraudulent', amount: 5_001, currency: 'usd', evidenceDueBy: START }, 'x')).toThrow(/claims 5001/);
    expect(() => disputes.openDispute({ id: 'dp_x', transactionId: 'tx_1', reason: 'fraudulent', amount: 5_000, currency: 'eur', evidenceDueBy: START }, 'x')).toThrow(DisputesError);
    const open = () => disputes.openDispute({ id: 'dp_1', transactionId: 'tx_1', reason: 'fraudulent', amount: 5_000, currency: 'usd', evidenceDueBy: START + DAY }, 'open');
    expect(open()).toEqual(open());
    expect(disputes.ledger('dp_1').map((entry) => [entry.kind, entry.amount])).toEqual([
      ['chargeback', -5_000],
      ['dispute_fee', -DISPUTE_FEE],
    ]);
    disputes.reviewTransaction('dp_1');
    disputes.analyseFraud('dp_1');
    disputes.assembleEvidence('dp_1');
    disputes.submitResponse('dp_1', 'submit');
    disputes.recordWin('dp_1', 'won');
    expect(disputes.recordWin('dp_1', 'won')).toMatchObject({ status: 'won' });
    expect(disputes.net('dp_1')).toBe(-DISPUTE_FEE);
  });

  it('accepts a real duplicate charge and contests one the customer was already refunded for', () => {
    const duplicate = service([payment('tx_0', { createdAt: START - 5 * DAY - 2 * HOUR }), payment('tx_1')]);
    const charged = analysed(duplicate.disputes, 'duplicate');
    expect(duplicate.disputes.dispute('dp_1').review).toMatchObject({ possibleDuplicates: ['tx_0'], priorUndisputedPayments: 1 });
    expect(charged.recommendation).toEqual({ action: 'accept', reasons: ['the evidence scores only 0 of 100, below 60'] });

    const refunded = service([payment('tx_1', { refundedAmount: 5_000 })]);
    const answer = analysed(refunded.disputes, 'credit_not_processed');
    expect(answer.evidence.items.map((item) => item.kind)).toEqual(['refund_issued']);
    expect(answer.recommendation).toEqual({ action: 'contest', reasons: ['the payment was already refunded: the cardholder would be paid twice'] });
  });

  it('submits one round per key, and none once the response window has closed', () => {
    const { disputes, clock } = service([payment('tx_1', { usageAfterPurchase: 30 })]);
    analysed(disputes, 'product_not_received', DAY);
    expect(disputes.submitResponse('dp_1', 'round-1')).toMatchObject({ round: 1, at: START });
    expect(disputes.submitResponse('dp_1', 'round-1')).toMatchObject({ round: 1, at: START });
    clock.set(START + DAY + 1);
    expect(() => disputes.submitResponse('dp_1', 'round-2')).toThrow(DisputeStateError);
    expect(disputes.dispute('dp_1')).toMatchObject({ status: 'under_review', submissions: 1 });
    expect(() => disputes.accept('dp_1', 'too late')).toThrow(/was contested/);
  });
});
