import { formatMinorUnits, minorUnits } from '../billing/index';
import type { DisputeReason, Evidence, EvidenceItem, FraudAssessment, Recommendation, TransactionRecord, TransactionReview } from './types';

/**
 * What the merchant can show for each kind of dispute, from its own records, and whether that
 * is worth a response. An item's weight says how much it counts for this reason: 3-D Secure
 * settles a fraud claim (the issuer carries the liability) but says nothing about delivery.
 */

/** Responding costs staff time; below this many minor units a chargeback is accepted. */
export const MIN_CONTESTED_AMOUNT = 1_500;
/** Evidence at least this strong is worth a response. */
export const CONTEST_THRESHOLD = 60;

export function compileEvidence(reason: DisputeReason, transaction: TransactionRecord, review: TransactionReview): Evidence {
  const items: EvidenceItem[] = [];
  const money = (amount: number) => formatMinorUnits(minorUnits(amount), transaction.currency);
  if (review.refundedAmount >= review.disputedAmount) {
    items.push({ kind: 'refund_issued', summary: `${money(review.refundedAmount)} was refunded before the dispute`, weight: 90 });
  }
  const usage = (weight: number) => {
    if (review.usageAfterPurchase > 0) items.push({ kind: 'service_usage', summary: `${review.usageAfterPurchase} sign-ins or API calls after the payment`, weight });
  };
  switch (reason) {
    case 'fraudulent':
      if (transaction.threeDSecure === 'authenticated') items.push({ kind: 'three_d_secure', summary: '3-D Secure authenticated the cardholder: the liability is the issuer’s', weight: 80 });
      if (transaction.cvcCheck === 'pass') items.push({ kind: 'cvc_match', summary: 'the card security code matched', weight: 10 });
      if (transaction.avsCheck === 'pass') items.push({ kind: 'avs_match', summary: 'the billing address matched', weight: 10 });
      if (review.priorUndisputedPayments > 0) {
        items.push({ kind: 'prior_undisputed_payments', summary: `${review.priorUndisputedPayments} earlier payments with the same card were never disputed`, weight: 15 });
      }
      if (transaction.deviceSeenBefore) items.push({ kind: 'known_device', summary: 'bought from a device the customer had used before', weight: 10 });
      usage(25);
      break;
    case 'product_not_received':
    case 'general':
      if (transaction.deliveredAt !== null) items.push({ kind: 'service_delivered', summary: `provisioned on ${utc(transaction.deliveredAt)}`, weight: 40 });
      usage(review.usageAfterPurchase >= 10 ? 50 : 30);
      break;
    case 'duplicate':
      if (review.possibleDuplicates.length === 0) items.push({ kind: 'no_duplicate_charge', summary: 'no other charge of this amount on this card within a day', weight: 70 });
      break;
    case 'subscription_canceled':
      if (transaction.canceledAt === null || transaction.canceledAt > transaction.createdAt) {
        items.push({ kind: 'charged_before_cancellation', summary: transaction.canceledAt === null ? 'the subscription was never canceled' : `charged before the cancellation on ${utc(transaction.canceledAt)}`, weight: 50 });
      }
      usage(25);
      break;
    case 'credit_not_processed':
      break;
  }
  return { items, strength: strengthOf(items) };
}

/** More evidence the issuer asked for, where the merchant's records have it. */
export function requestedEvidence(requested: readonly string[], transaction: TransactionRecord, review: TransactionReview): EvidenceItem[] {
  return requested.map((kind): EvidenceItem => {
    switch (kind) {
      case 'usage_logs':
        return { kind, summary: `${review.usageAfterPurchase} sign-ins or API calls after the payment, with times and IP addresses`, weight: review.usageAfterPurchase > 0 ? 20 : 0 };
      case 'delivery_proof':
        return transaction.deliveredAt === null
          ? { kind, summary: 'no delivery on record', weight: 0 }
          : { kind, summary: `provisioned on ${utc(transaction.deliveredAt)}`, weight: 20 };
      case 'receipt':
        return { kind, summary: `receipt for "${transaction.description}", ${formatMinorUnits(minorUnits(transaction.amount), transaction.currency)} on ${utc(transaction.createdAt)}`, weight: 5 };
      default:
        return { kind, summary: 'not on file', weight: 0 };
    }
  });
}

export function withItems(evidence: Evidence, items: readonly EvidenceItem[]): Evidence {
  const all = [...evidence.items, ...items.filter((item) => !evidence.items.some((known) => known.kind === item.kind))];
  return { items: all, strength: strengthOf(all) };
}

/** Contest or accept, with the reasons in the order they decided it. */
export function recommend(amount: number, fraud: FraudAssessment, evidence: Evidence): Recommendation {
  const has = (kind: string) => evidence.items.some((item) => item.kind === kind);
  if (has('refund_issued')) return { action: 'contest', reasons: ['the payment was already refunded: the cardholder would be paid twice'] };
  if (amount < MIN_CONTESTED_AMOUNT) return { action: 'accept', reasons: [`${amount} is less than the ${MIN_CONTESTED_AMOUNT} a response costs`] };
  if (fraud.verdict === 'likely_fraud' && !has('three_d_secure')) {
    return { action: 'accept', reasons: [`the fraud score is ${fraud.score}: most likely a stolen card, and without 3-D Secure the liability is ours`] };
  }
  if (evidence.strength >= CONTEST_THRESHOLD) return { action: 'contest', reasons: [`the evidence scores ${evidence.strength} of 100`, `the fraud score is ${fraud.score} (${fraud.verdict})`] };
  return { action: 'accept', reasons: [`the evidence scores only ${evidence.strength} of 100, below ${CONTEST_THRESHOLD}`] };
}

function strengthOf(items: readonly EvidenceItem[]): number {
  return Math.min(100, items.reduce((sum, item) => sum + item.weight, 0));
}

function utc(at: number): string {
  return `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
