import { NotFoundError } from './errors';
import type { Database } from './sqlite';
import type { DeclineClass, DunningCase, DunningCaseStatus, Invoice, InvoiceStatus, MinorUnits } from './types';

/** Invoices and the dunning case that tracks the recovery of an unpaid one, as stored. */

interface InvoiceRow {
  id: string;
  subscription_id: string;
  customer_id: string;
  period_index: number;
  period_start: number;
  period_end: number;
  subtotal: number;
  credit_applied: number;
  amount_due: number;
  currency: string;
  status: InvoiceStatus;
  pending_attempt_key: string | null;
  created_at: number;
  paid_at: number | null;
}

interface DunningCaseRow {
  invoice_id: string;
  subscription_id: string;
  status: DunningCaseStatus;
  decline_class: DeclineClass;
  decline_code: string;
  failures: number;
  first_failed_at: number;
  last_attempt_at: number;
  next_retry_at: number | null;
  last_payment_method_id: string | null;
}

export function insertInvoice(db: Database, invoice: Omit<Invoice, 'status' | 'paidAt'>): void {
  db.prepare(
    `INSERT INTO billing_invoices
       (id, subscription_id, customer_id, period_index, period_start, period_end, subtotal, credit_applied, amount_due, currency, status, created_at)
     VALUES (@id, @subscriptionId, @customerId, @periodIndex, @periodStart, @periodEnd, @subtotal, @creditApplied, @amountDue, @currency, 'open', @createdAt)`,
  ).run(invoice);
}

export function getInvoice(db: Database, invoiceId: string): Invoice & { pendingAttemptKey: string | null } {
  const row = db.prepare<[string], InvoiceRow>('SELECT * FROM billing_invoices WHERE id = ?').get(invoiceId);
  if (row === undefined) throw new NotFoundError('invoice', invoiceId);
  return { ...invoiceFromRow(row), pendingAttemptKey: row.pending_attempt_key };
}

export function listInvoices(db: Database, subscriptionId: string): Invoice[] {
  return db
    .prepare<[string], InvoiceRow>('SELECT * FROM billing_invoices WHERE subscription_id = ? ORDER BY created_at, period_index')
    .all(subscriptionId)
    .map(invoiceFromRow);
}

export function setInvoiceStatus(db: Database, invoiceId: string, status: InvoiceStatus, now: number): void {
  db.prepare('UPDATE billing_invoices SET status = ?, paid_at = ? WHERE id = ?').run(status, status === 'paid' ? now : null, invoiceId);
}

/** Marks an attempt as the invoice's one payment under way (or clears it with null). */
export function setPendingAttempt(db: Database, invoiceId: string, key: string | null): void {
  db.prepare('UPDATE billing_invoices SET pending_attempt_key = ? WHERE id = ?').run(key, invoiceId);
}

export function openDunningCase(
  db: Database,
  opened: { invoiceId: string; subscriptionId: string; declineClass: DeclineClass; declineCode: string; at: number; paymentMethodId: string | null },
): void {
  db.prepare(
    `INSERT INTO billing_dunning_cases
       (invoice_id, subscription_id, status, decline_class, decline_code, failures, first_failed_at, last_attempt_at, next_retry_at, last_payment_method_id)
     VALUES (?, ?, 'open', ?, ?, 1, ?, ?, NULL, ?)`,
  ).run(opened.invoiceId, opened.subscriptionId, opened.declineClass, opened.declineCode, opened.at, opened.at, opened.paymentMethodId);
}

export function updateDunningCase(
  db: Database,
  invoiceId: string,
  change: Partial<Pick<DunningCase, 'status' | 'declineClass' | 'declineCode' | 'failures' | 'lastAttemptAt' | 'nextRetryAt' | 'lastPaymentMethodId'>> & { closedAt?: number },
): void {
  const columns: Record<string, string> = {
    status: 'status',
    declineClass: 'decline_class',
    declineCode: 'decline_code',
    failures: 'failures',
    lastAttemptAt: 'last_attempt_at',
    nextRetryAt: 'next_retry_at',
    lastPaymentMethodId: 'last_payment_method_id',
    closedAt: 'closed_at',
  };
  const entries = Object.entries(change).filter(([, value]) => value !== undefined);
  if (entries.length === 0) return;
  const assignments = entries.map(([name]) => `${columns[name]} = @${name}`).join(', ');
  db.prepare(`UPDATE billing_dunning_cases SET ${assignments} WHERE invoice_id = @invoiceId`).run({ ...Object.fromEntries(entries), invoiceId });
}

/** The subscription's latest dunning case, whatever its status. */
export function latestDunningCase(db: Database, subscriptionId: string): DunningCase | null {
  const row = db
    .prepare<[string], DunningCaseRow>('SELECT * FROM billing_dunning_cases WHERE subscription_id = ? ORDER BY first_failed_at DESC, rowid DESC LIMIT 1')
    .get(subscriptionId);
  return row === undefined ? null : dunningCaseFromRow(row);
}

function invoiceFromRow(row: InvoiceRow): Invoice {
  return {
    id: row.id,
    subscriptionId: row.subscription_id,
    customerId: row.customer_id,
    periodIndex: row.period_index,
    periodStart: row.period_start,
    periodEnd: row.period_end,
    subtotal: row.subtotal as MinorUnits,
    creditApplied: row.credit_applied as MinorUnits,
    amountDue: row.amount_due as MinorUnits,
    currency: row.currency,
    status: row.status,
    createdAt: row.created_at,
    paidAt: row.paid_at,
  };
}

function dunningCaseFromRow(row: DunningCaseRow): DunningCase {
  return {
    invoiceId: row.invoice_id,
    subscriptionId: row.subscription_id,
    status: row.status,
    declineClass: row.decline_class,
    declineCode: row.decline_code,
    failures: row.failures,
    firstFailedAt: row.first_failed_at,
    lastAttemptAt: row.last_attempt_at,
    nextRetryAt: row.next_retry_at,
    lastPaymentMethodId: row.last_payment_method_id,
  };
}
