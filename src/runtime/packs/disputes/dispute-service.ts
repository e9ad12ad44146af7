import type { Database } from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { enqueueEmail, ensureBillingSchema, formatMinorUnits, minorUnits, type OutboxEmail } from '../billing/index';
import { DisputeNotFoundError, DisputesError, DisputeStateError } from './errors';
import { compileEvidence, recommend, requestedEvidence, withItems } from './evidence';
import { assessFraud } from './fraud';
import { ensureDisputesSchema } from './schema';
import type {
  Dispute,
  DisputeReason,
  DisputesClock,
  DisputeStatus,
  Evidence,
  FraudAssessment,
  LedgerEntry,
  LedgerKind,
  NewDispute,
  Recommendation,
  TransactionRecord,
  TransactionReview,
} from './types';

export interface DisputeServiceOptions {
  /** The engine's database handle; the disputes tables (and the billing outbox) are created in it. */
  db: Database;
  clock: DisputesClock;
  /** The From address of the outcome emails. */
  emailFrom: string;
}

export const DISPUTE_REASONS: readonly DisputeReason[] = ['fraudulent', 'product_not_received', 'duplicate', 'subscription_canceled', 'credit_not_processed', 'general'];

/** What the network charges per chargeback, in minor units of the dispute's currency, win or lose. */
export const DISPUTE_FEE = 1_500;

const DAY_MS = 86_400_000;

interface TransactionRow {
  id: string;
  customer_id: string;
  amount: number;
  currency: string;
  description: string;
  created_at: number;
  card_fingerprint: string;
  card_country: string;
  ip_country: string;
  avs_check: TransactionRecord['avsCheck'];
  cvc_check: TransactionRecord['cvcCheck'];
  three_d_secure: TransactionRecord['threeDSecure'];
  device_seen_before: number;
  customer_since: number;
  refunded_amount: number;
  usage_after_purchase: number;
  delivered_at: number | null;
  canceled_at: number | null;
}

interface DisputeRow {
  id: string;
  transaction_id: string;
  reason: DisputeReason;
  amount: number;
  currency: string;
  status: DisputeStatus;
  opened_at: number;
  evidence_due_by: number;
  review: string | null;
  fraud: string | null;
  evidence: string | null;
  recommendation: string | null;
  submissions: number;
  closed_at: number | null;
  resolution: string | null;
}

/**
 * The dispute desk's services: the merchant's transaction records, disputes from intake to
 * outcome, and the balance movements they cause. Methods with an effect take the handler's
 * idempotency key; what must happen once per dispute whatever the key (the chargeback debit, a
 * won dispute's reversal) is keyed by the dispute itself.
 */
export class DisputeService {
  private readonly db: Database;
  private readonly clock: DisputesClock;
  private readonly emailFrom: string;

  constructor(options: DisputeServiceOptions) {
    this.db = options.db;
    this.clock = options.clock;
    this.emailFrom = options.emailFrom;
    ensureDisputesSchema(this.db);
    ensureBillingSchema(this.db);
  }

  /** Records a payment as checkout saw it; disputes refer to it later. */
  recordTransaction(transaction: TransactionRecord): void {
    this.db
      .prepare(
        `INSERT INTO disputes_transactions
           (id, customer_id, amount, currency, description, created_at, card_fingerprint, card_country, ip_country, avs_check, cvc_check,
            three_d_secure, device_seen_before, customer_since, refunded_amount, usage_after_purchase, delivered_at, canceled_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        transaction.id,
        transaction.customerId,
        minorUnits(transaction.amount),
        transaction.currency,
        transaction.description,
        transaction.createdAt,
        transaction.cardFingerprint,
        transaction.cardCountry,
        transaction.ipCountry,
        transaction.avsCheck,
        transaction.cvcCheck,
        transaction.threeDSecure,
        transaction.deviceSeenBefore ? 1 : 0,
        transaction.customerSince,
        minorUnits(transaction.refundedAmount),
        transaction.usageAfterPurchase,
        transaction.deliveredAt,
        transaction.canceledAt,
      );
  }

  /**
   * A sandbox payment for a flow run that names no dispute: a card payment of `amount` made ten
   * days before `now`, delivered and used since, by a customer of a year. Its id
   * (`sandbox_tx_…`) derives from the idempotency key, so a run again after a crash finds it.
   */
  openSandboxTransaction(idempotencyKey: string, amount: { amount: number; currency: string }): TransactionRecord {
    return this.transaction(() => {
      const id = `sandbox_tx_${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 20)}`;
      const recorded = this.db.prepare<[string], { id: string }>('SELECT id FROM disputes_transactions WHERE id = ?').get(id) !== undefined;
      if (!recorded) {
        const now = this.clock.now();
        this.recordTransaction({
          id,
          customerId: 'sandbox_customer',
          ...amount,
          description: 'Sandbox annual plan',
          createdAt: now - 10 * DAY_MS,
          cardFingerprint: `sandbox_card_${id}`,
          cardCountry: 'US',
          ipCountry: 'US',
          avsCheck: 'pass',
          cvcCheck: 'pass',
          threeDSecure: 'none',
          deviceSeenBefore: true,
          customerSince: now - 365 * DAY_MS,
          refundedAmount: 0,
          usageAfterPurchase: 24,
          deliveredAt: now - 10 * DAY_MS,
          canceledAt: null,
        });
      }
      return this.transactionRecord(id);
    });
  }

  transactionRecord(transactionId: string): TransactionRecord {
    const row = this.db.prepare<[string], TransactionRow>('SELECT * FROM disputes_transactions WHERE id = ?').get(transactionId);
    if (row === undefined) throw new DisputeNotFoundError('transaction', transactionId);
    return transactionFromRow(row);
  }

  /**
   * Intake: records the dispute and what the network already did, debiting the disputed amount
   * and its fee from the merchant's balance.
   */
  openDispute(input: Omit<NewDispute, 'reason'> & { reason: string }, idempotencyKey: string): Dispute {
    const reason = DISPUTE_REASONS.find((known) => known === input.reason);
    if (reason === undefined) throw new DisputesError(`"${input.reason}" is not a dispute reason; reasons are ${DISPUTE_REASONS.join(', ')}.`);
    const amount = minorUnits(input.amount);
    return this.transaction(() => {
      const existing = this.db.prepare<[string], { id: string }>('SELECT id FROM disputes_disputes WHERE idempotency_key = ?').get(idempotencyKey);
      if (existing !== undefined) return this.dispute(existing.id);
      const transaction = this.transactionRecord(input.transactionId);
      if (input.currency !== transaction.currency) throw new DisputesError(`Dispute ${input.id} is in ${input.currency}, its transaction in ${transaction.currency}.`);
      if (amount <= 0 || amount > transaction.amount) throw new DisputesError(`Dispute ${input.id} claims ${amount}, but the transaction was for ${transaction.amount}.`);
      const now = this.clock.now();
      this.db
        .prepare(
          `INSERT INTO disputes_disputes (id, idempotency_key, transaction_id, reason, amount, currency, status, opened_at, evidence_due_by)
           VALUES (?, ?, ?, ?, ?, ?, 'needs_response', ?, ?)`,
        )
        .run(input.id, idempotencyKey, input.transactionId, reason, amount, input.currency, now, input.evidenceDueBy);
      this.post(input.id, 'chargeback', -amount, input.currency, now);
      this.post(input.id, 'dispute_fee', -DISPUTE_FEE, input.currency, now);
      return this.dispute(input.id);
    });
  }

  /** Looks the payment up against the dispute and against the card's other payments. */
  reviewTransaction(disputeId: string): TransactionReview {
    return this.transaction(() => {
      const dispute = this.openOnly(disputeId);
      const transaction = this.transactionRecord(dispute.transactionId);
      const sameCard = this.db
        .prepare<[string, string], { id: string; amount: number; created_at: number; disputed: number }>(
          `SELECT t.id, t.amount, t.created_at, EXISTS (SELECT 1 FROM disputes_disputes d WHERE d.transaction_id = t.id) AS disputed
           FROM disputes_transactions t WHERE t.card_fingerprint = ? AND t.id <> ? ORDER BY t.created_at`,
        )
        .all(transaction.cardFingerprint, transaction.id);
      const review: TransactionReview = {
        transactionId: transaction.id,
        disputedAmount: dispute.amount,
        transactionAmount: transaction.amount,
        refundedAmount: transaction.refundedAmount,
        priorUndisputedPayments: sameCard.filter((other) => other.created_at < transaction.createdAt && other.disputed === 0).length,
        priorDisputes: sameCard.filter((other) => other.disputed === 1).length,
        possibleDuplicates: sameCard.filter((other) => other.amount === transaction.amount && Math.abs(other.created_at - transaction.createdAt) < DAY_MS).map((other) => other.id),
        customerTenureDays: Math.floor((transaction.createdAt - transaction.customerSince) / DAY_MS),
        usageAfterPurchase: transaction.usageAfterPurchase,
      };
      this.db.prepare('UPDATE disputes_disputes SET review = ? WHERE id = ?').run(JSON.stringify(review), disputeId);
      return review;
    });
  }

  analyseFraud(disputeId: string): FraudAssessment {
    return this.transaction(() => {
      const dispute = this.openOnly(disputeId);
      const fraud = assessFraud(this.transactionRecord(dispute.transactionId), this.reviewed(dispute));
      this.db.prepare('UPDATE disputes_disputes SET fraud = ? WHERE id = ?').run(JSON.stringify(fraud), disputeId);
      return fraud;
    });
  }

  /** Gathers the evidence the dispute's reason calls for and decides whether to contest. */
  assembleEvidence(disputeId: string): { evidence: Evidence; recommendation: Recommendation } {
    return this.transaction(() => {
      const dispute = this.openOnly(disputeId);
      if (dispute.fraud === null) throw new DisputeStateError(`Dispute ${disputeId} has no fraud analysis yet.`);
      const evidence = compileEvidence(dispute.reason, this.transactionRecord(dispute.transactionId), this.reviewed(dispute));
      const recommendation = recommend(dispute.amount, dispute.fraud, evidence);
      this.db.prepare('UPDATE disputes_disputes SET evidence = ?, recommendation = ? WHERE id = ?').run(JSON.stringify(evidence), JSON.stringify(recommendation), disputeId);
      return { evidence, recommendation };
    });
  }

  /** Sends the evidence to the network: one round per call, refused once the response window has closed. */
  submitResponse(disputeId: string, idempotencyKey: string): { round: number; at: number; evidence: Evidence } {
    return this.transaction(() => {
      const done = this.db.prepare<[string], { round: number; at: number; evidence: string }>('SELECT round, at, evidence FROM disputes_submissions WHERE idempotency_key = ?').get(idempotencyKey);
      if (done !== undefined) return { round: done.round, at: done.at, evidence: JSON.parse(done.evidence) as Evidence };
      const dispute = this.openOnly(disputeId);
      if (dispute.evidence === null) throw new DisputeStateError(`Dispute ${disputeId} has no evidence to submit.`);
      const now = this.clock.now();
      if (now > dispute.evidenceDueBy) throw new DisputeStateError(`The response window of dispute ${disputeId} closed at ${new Date(dispute.evidenceDueBy).toISOString()}.`);
      const round = dispute.submissions + 1;
      this.db.prepare('INSERT INTO disputes_submissions (idempotency_key, dispute_id, round, evidence, at) VALUES (?, ?, ?, ?, ?)').run(idempotencyKey, disputeId, round, JSON.stringify(dispute.evidence), now);
      this.db.prepare(`UPDATE disputes_disputes SET submissions = ?, status = 'under_review' WHERE id = ?`).run(round, disputeId);
      return { round, at: now, evidence: dispute.evidence };
    });
  }

  /** Adds what the issuer asked for to the evidence, where the records have it. */
  addRequestedEvidence(disputeId: string, requested: readonly string[]): Evidence {
    return this.transaction(() => {
      const dispute = this.openOnly(disputeId);
      if (dispute.evidence === null) throw new DisputeStateError(`Dispute ${disputeId} has no evidence yet.`);
      const evidence = withItems(dispute.evidence, requestedEvidence(requested, this.transactionRecord(dispute.transactionId), this.reviewed(dispute)));
      this.db.prepare('UPDATE disputes_disputes SET evidence = ? WHERE id = ?').run(JSON.stringify(evidence), disputeId);
      return evidence;
    });
  }

  /** Concedes the chargeback without a response: the debit stands. */
  accept(disputeId: string, reason: string): Dispute {
    return this.close(disputeId, 'accepted', reason);
  }

  /** The issuer ruled for the merchant: the disputed amount comes back (the fee does not). */
  recordWin(disputeId: string, resolution: string): Dispute {
    return this.transaction(() => {
      const dispute = this.close(disputeId, 'won', resolution);
      this.post(disputeId, 'reversal', dispute.amount, dispute.currency, dispute.closedAt!);
      return this.dispute(disputeId);
    });
  }

  recordLoss(disputeId: string, resolution: string): Dispute {
    return this.close(disputeId, 'lost', resolution);
  }

  /** Emails the outcome and its effect on the balance to the merchant. */
  notifyMerchant(disputeId: string, to: string, idempotencyKey: string): OutboxEmail {
    return this.transaction(() => {
      const dispute = this.dispute(disputeId);
      if (dispute.closedAt === null) throw new DisputeStateError(`Dispute ${disputeId} is still ${dispute.status}.`);
      const money = (amount: number) => formatMinorUnits(minorUnits(amount), dispute.currency);
      const net = this.net(disputeId);
      const outcome = { won: 'won', lost: 'lost', accepted: 'accepted without a response' }[dispute.status as 'won' | 'lost' | 'accepted'];
      const lines = [
        `The ${dispute.reason.replace(/_/g, ' ')} dispute ${dispute.id} of ${money(dispute.amount)} on transaction ${dispute.transactionId} was ${outcome}: ${dispute.resolution ?? ''}.`,
        '',
        `Effect on your balance: ${money(net)} (chargeback ${money(-dispute.amount)}, fee ${money(-DISPUTE_FEE)}${dispute.status === 'won' ? `, reversal ${money(dispute.amount)}` : ''}).`,
      ];
      if (dispute.submissions > 0 && dispute.evidence !== null) lines.push('', `Evidence sent in ${dispute.submissions} ${dispute.submissions === 1 ? 'round' : 'rounds'}:`, ...dispute.evidence.items.map((item) => `- ${item.summary}`));
      const email = { template: `disputes.${dispute.status}`, subject: `Dispute ${dispute.id}: ${outcome}`, text: lines.join('\n'), from: this.emailFrom, to };
      return enqueueEmail(this.db, email, `${idempotencyKey}:email`, this.clock.now()).email;
    });
  }

  dispute(disputeId: string): Dispute {
    const row = this.db.prepare<[string], DisputeRow>('SELECT * FROM disputes_disputes WHERE id = ?').get(disputeId);
    if (row === undefined) throw new DisputeNotFoundError('dispute', disputeId);
    return disputeFromRow(row);
  }

  ledger(disputeId: string): LedgerEntry[] {
    return this.db
      .prepare<[string], { dispute_id: string; kind: LedgerKind; amount: number; currency: string; at: number }>('SELECT * FROM disputes_ledger WHERE dispute_id = ? ORDER BY rowid')
      .all(disputeId)
      .map((row) => ({ disputeId: row.dispute_id, kind: row.kind, amount: row.amount, currency: row.currency, at: row.at }));
  }

  /** What the dispute cost the merchant so far: the sum of its ledger rows. */
  net(disputeId: string): number {
    return this.db.prepare<[string], { net: number }>('SELECT coalesce(sum(amount), 0) AS net FROM disputes_ledger WHERE dispute_id = ?').get(disputeId)!.net;
  }

  private close(disputeId: string, status: 'won' | 'lost' | 'accepted', resolution: string): Dispute {
    return this.transaction(() => {
      const dispute = this.dispute(disputeId);
      if (dispute.status === status) return dispute;
      if (dispute.closedAt !== null) throw new DisputeStateError(`Dispute ${disputeId} is already ${dispute.status}.`);
      if (status === 'accepted' && dispute.submissions > 0) throw new DisputeStateError(`Dispute ${disputeId} was contested; the issuer rules on it now.`);
      this.db.prepare('UPDATE disputes_disputes SET status = ?, closed_at = ?, resolution = ? WHERE id = ?').run(status, this.clock.now(), resolution, disputeId);
      return this.dispute(disputeId);
    });
  }

  private openOnly(disputeId: string): Dispute {
    const dispute = this.dispute(disputeId);
    if (dispute.closedAt !== null) throw new DisputeStateError(`Dispute ${disputeId} is already ${dispute.status}.`);
    return dispute;
  }

  private reviewed(dispute: Dispute): TransactionReview {
    if (dispute.review === null) throw new DisputeStateError(`Dispute ${dispute.id} has no transaction review yet.`);
    return dispute.review;
  }

  /** One ledger row per dispute and kind, whoever posts it and however often. */
  private post(disputeId: string, kind: LedgerKind, amount: number, currency: string, at: number): void {
    this.db
      .prepare('INSERT INTO disputes_ledger (idempotency_key, dispute_id, kind, amount, currency, at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING')
      .run(`${disputeId}:${kind}`, disputeId, kind, minorUnits(amount), currency, at);
  }

  /** `BEGIN IMMEDIATE`, or a savepoint inside the caller's transaction. */
  private transaction<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }
}

function transactionFromRow(row: TransactionRow): TransactionRecord {
  return {
    id: row.id,
    customerId: row.customer_id,
    amount: row.amount,
    currency: row.currency,
    description: row.description,
    createdAt: row.created_at,
    cardFingerprint: row.card_fingerprint,
    cardCountry: row.card_country,
    ipCountry: row.ip_country,
    avsCheck: row.avs_check,
    cvcCheck: row.cvc_check,
    threeDSecure: row.three_d_secure,
    deviceSeenBefore: row.device_seen_before === 1,
    customerSince: row.customer_since,
    refundedAmount: row.refunded_amount,
    usageAfterPurchase: row.usage_after_purchase,
    deliveredAt: row.delivered_at,
    canceledAt: row.canceled_at,
  };
}

function disputeFromRow(row: DisputeRow): Dispute {
  const parsed = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));
  return {
    id: row.id,
    transactionId: row.transaction_id,
    reason: row.reason,
    amount: row.amount,
    currency: row.currency,
    status: row.status,
    openedAt: row.opened_at,
    evidenceDueBy: row.evidence_due_by,
    review: parsed<TransactionReview>(row.review),
    fraud: parsed<FraudAssessment>(row.fraud),
    evidence: parsed<Evidence>(row.evidence),
    recommendation: parsed<Recommendation>(row.recommendation),
    submissions: row.submissions,
    closedAt: row.closed_at,
    resolution: row.resolution,
  };
}
