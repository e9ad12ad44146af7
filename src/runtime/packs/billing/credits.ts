import { BillingError } from './errors';
import { checkIdempotencyKey } from './idempotency';
import { minorUnits } from './money';
import type { Database } from './sqlite';
import type { CurrencyCode, MinorUnits } from './types';

/**
 * A customer's credit balance is the sum of an append-only ledger, never a mutable number: a
 * downgrade posts +credit, an upgrade or an invoice posts −spent, each under its own key.
 */
export interface CreditEntry {
  customerId: string;
  currency: CurrencyCode;
  /** Signed: positive adds credit, negative spends it. */
  amount: number;
  reason: string;
  /** What caused it: an invoice id, a plan change's key. */
  reference: string;
}

export function creditBalance(db: Database, customerId: string, currency: CurrencyCode): MinorUnits {
  const row = db
    .prepare<[string, string], { balance: number }>('SELECT coalesce(sum(amount), 0) AS balance FROM billing_credit_ledger WHERE customer_id = ? AND currency = ?')
    .get(customerId, currency)!;
  return minorUnits(row.balance);
}

/**
 * Posts one entry, once per key; call it inside the transaction that makes the change it pays
 * for. Spending more than the balance is refused so the balance can never go negative.
 */
export function postCredit(db: Database, entry: CreditEntry, idempotencyKey: string, now: number): void {
  checkIdempotencyKey(idempotencyKey);
  const amount = minorUnits(entry.amount);
  if (amount === 0) return;
  const earlier = db.prepare<[string], { amount: number }>('SELECT amount FROM billing_credit_ledger WHERE idempotency_key = ?').get(idempotencyKey);
  if (earlier !== undefined) return;
  if (amount < 0 && creditBalance(db, entry.customerId, entry.currency) + amount < 0) {
    throw new BillingError(`Customer ${entry.customerId} has less credit than ${-amount} ${entry.currency}.`);
  }
  db.prepare(
    `INSERT INTO billing_credit_ledger (idempotency_key, customer_id, currency, amount, reason, reference, at)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ).run(idempotencyKey, entry.customerId, entry.currency, amount, entry.reason, entry.reference, now);
}

export function listCreditEntries(db: Database, customerId: string): Array<CreditEntry & { at: number }> {
  return db
    .prepare<[string], { customer_id: string; currency: string; amount: number; reason: string; reference: string; at: number }>(
      'SELECT customer_id, currency, amount, reason, reference, at FROM billing_credit_ledger WHERE customer_id = ? ORDER BY id',
    )
    .all(customerId)
    .map((row) => ({ customerId: row.customer_id, currency: row.currency, amount: row.amount, reason: row.reason, reference: row.reference, at: row.at }));
}
