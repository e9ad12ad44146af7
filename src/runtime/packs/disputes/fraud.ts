import type { FraudAssessment, FraudSignal, FraudVerdict, TransactionRecord, TransactionReview } from './types';

/**
 * Scores how likely it is that the card was used by someone other than its holder, from the
 * signals checkout collected and what the customer did afterwards. The score starts at 50 and
 * each signal moves it; the weights follow what card networks accept as evidence of the real
 * cardholder (3-D Secure shifts liability to the issuer; a known device and undisputed history
 * argue for "friendly fraud", a customer disputing their own purchase).
 */
export function assessFraud(transaction: TransactionRecord, review: TransactionReview): FraudAssessment {
  const signals: FraudSignal[] = [];
  const add = (signal: string, weight: number) => signals.push({ signal, weight });

  if (transaction.threeDSecure === 'authenticated') add('3-D Secure authenticated the cardholder', -35);
  else if (transaction.threeDSecure === 'attempted') add('3-D Secure was attempted', -10);
  if (transaction.cvcCheck === 'fail') add('the CVC did not match', 25);
  else if (transaction.cvcCheck === 'pass') add('the CVC matched', -5);
  else add('no CVC check', 5);
  if (transaction.avsCheck === 'fail') add('the billing address did not match', 15);
  else if (transaction.avsCheck === 'pass') add('the billing address matched', -5);
  else add('no address check', 5);
  if (transaction.ipCountry !== transaction.cardCountry) add(`bought from ${transaction.ipCountry} with a card from ${transaction.cardCountry}`, 15);
  add(transaction.deviceSeenBefore ? 'a device the customer used before' : 'a device never seen before', transaction.deviceSeenBefore ? -10 : 10);
  if (review.priorUndisputedPayments >= 3) add(`${review.priorUndisputedPayments} earlier payments with this card, none disputed`, -20);
  else if (review.priorUndisputedPayments > 0) add(`${review.priorUndisputedPayments} earlier undisputed ${review.priorUndisputedPayments === 1 ? 'payment' : 'payments'} with this card`, -10);
  else add('the first payment with this card', 10);
  if (review.usageAfterPurchase >= 10) add(`${review.usageAfterPurchase} sign-ins or API calls after the payment`, -20);
  else if (review.usageAfterPurchase > 0) add(`${review.usageAfterPurchase} sign-ins or API calls after the payment`, -5);
  else add('no use of the service after the payment', 5);
  if (review.customerTenureDays < 1) add('an account opened the same day', 10);
  else if (review.customerTenureDays >= 180) add(`a customer for ${review.customerTenureDays} days`, -10);

  const score = Math.min(100, Math.max(0, 50 + signals.reduce((sum, s) => sum + s.weight, 0)));
  return { score, verdict: verdictOf(score), signals };
}

function verdictOf(score: number): FraudVerdict {
  if (score >= 70) return 'likely_fraud';
  if (score <= 35) return 'likely_legitimate';
  return 'inconclusive';
}
