import type { Database } from './sqlite';

/**
 * The billing pack's tables, next to the engine's in the same database file. STRICT tables make
 * SQLite refuse 12.5 in an INTEGER column, a second guard on money after `minorUnits()`. Every
 * row a service writes under a caller's idempotency key has that key UNIQUE, which is what makes
 * a retried handler a no-op.
 */
const BILLING_SCHEMA = `
CREATE TABLE IF NOT EXISTS billing_customers (
  id TEXT PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  request_hash TEXT NOT NULL,
  email TEXT NOT NULL,
  name TEXT NOT NULL,
  default_payment_method_id TEXT,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS billing_payment_method_changes (
  idempotency_key TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  subscription_id TEXT,
  payment_method_id TEXT NOT NULL,
  brand TEXT NOT NULL,
  last4 TEXT NOT NULL,
  via TEXT NOT NULL CHECK (via IN ('api', 'update_link')),
  at INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS billing_subscriptions (
  id TEXT PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  request_hash TEXT NOT NULL,
  customer_id TEXT NOT NULL REFERENCES billing_customers(id),
  state TEXT NOT NULL CHECK (state IN ('draft', 'active', 'past_due', 'unpaid', 'canceled')),
  plan_id TEXT NOT NULL,
  price INTEGER NOT NULL CHECK (price > 0),
  currency TEXT NOT NULL,
  interval_unit TEXT NOT NULL CHECK (interval_unit IN ('day', 'month', 'year')),
  interval_count INTEGER NOT NULL CHECK (interval_count > 0),
  anchor_at INTEGER,
  period_index INTEGER NOT NULL DEFAULT 0,
  period_start INTEGER,
  period_end INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS billing_subscriptions_customer ON billing_subscriptions(customer_id);

CREATE TABLE IF NOT EXISTS billing_transitions (
  idempotency_key TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  subscription_id TEXT NOT NULL REFERENCES billing_subscriptions(id),
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  reason TEXT NOT NULL,
  at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS billing_transitions_subscription ON billing_transitions(subscription_id, seq);

CREATE TABLE IF NOT EXISTS billing_invoices (
  id TEXT PRIMARY KEY,
  subscription_id TEXT NOT NULL REFERENCES billing_subscriptions(id),
  customer_id TEXT NOT NULL,
  period_index INTEGER NOT NULL,
  period_start INTEGER NOT NULL,
  period_end INTEGER NOT NULL,
  subtotal INTEGER NOT NULL CHECK (subtotal >= 0),
  credit_applied INTEGER NOT NULL CHECK (credit_applied >= 0),
  amount_due INTEGER NOT NULL CHECK (amount_due >= 0 AND amount_due = subtotal - credit_applied),
  currency TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'void', 'uncollectible')),
  pending_attempt_key TEXT,
  created_at INTEGER NOT NULL,
  paid_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS billing_invoices_subscription ON billing_invoices(subscription_id, period_index);

CREATE TABLE IF NOT EXISTS billing_payment_attempts (
  idempotency_key TEXT PRIMARY KEY,
  operation TEXT NOT NULL CHECK (operation IN ('activate', 'renew', 'retry')),
  subscription_id TEXT NOT NULL,
  invoice_id TEXT,
  payment_method_id TEXT,
  amount INTEGER NOT NULL CHECK (amount >= 0),
  currency TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'completed')),
  outcome TEXT,
  created_at INTEGER NOT NULL,
  completed_at INTEGER
) STRICT;

CREATE TABLE IF NOT EXISTS billing_dunning_cases (
  invoice_id TEXT PRIMARY KEY REFERENCES billing_invoices(id),
  subscription_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'recovered', 'exhausted')),
  decline_class TEXT NOT NULL,
  decline_code TEXT NOT NULL,
  failures INTEGER NOT NULL,
  first_failed_at INTEGER NOT NULL,
  last_attempt_at INTEGER NOT NULL,
  next_retry_at INTEGER,
  last_payment_method_id TEXT,
  closed_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS billing_dunning_cases_subscription ON billing_dunning_cases(subscription_id, status);

CREATE TABLE IF NOT EXISTS billing_credit_ledger (
  id INTEGER PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  customer_id TEXT NOT NULL,
  currency TEXT NOT NULL,
  amount INTEGER NOT NULL CHECK (amount <> 0),
  reason TEXT NOT NULL,
  reference TEXT NOT NULL,
  at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS billing_credit_ledger_customer ON billing_credit_ledger(customer_id, currency);

CREATE TABLE IF NOT EXISTS billing_plan_changes (
  idempotency_key TEXT PRIMARY KEY,
  request_hash TEXT NOT NULL,
  subscription_id TEXT NOT NULL REFERENCES billing_subscriptions(id),
  status TEXT NOT NULL CHECK (status IN ('quoted', 'applied', 'declined')),
  from_plan_id TEXT NOT NULL,
  to_plan_id TEXT NOT NULL,
  from_price INTEGER NOT NULL,
  to_price INTEGER NOT NULL,
  change_at INTEGER NOT NULL,
  proration TEXT NOT NULL,
  credit_applied INTEGER NOT NULL CHECK (credit_applied >= 0),
  credit_added INTEGER NOT NULL CHECK (credit_added >= 0),
  amount_to_charge INTEGER NOT NULL CHECK (amount_to_charge >= 0),
  charge_id TEXT,
  decline_code TEXT,
  completed_at INTEGER
) STRICT;

CREATE TABLE IF NOT EXISTS billing_email_outbox (
  id INTEGER PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  request_hash TEXT NOT NULL,
  template TEXT NOT NULL,
  to_address TEXT NOT NULL,
  from_address TEXT NOT NULL,
  subject TEXT NOT NULL,
  text_body TEXT NOT NULL,
  message_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  claimed_until INTEGER,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  sent_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS billing_email_outbox_due ON billing_email_outbox(status, next_attempt_at);

CREATE TABLE IF NOT EXISTS billing_entitlements (
  subscription_id TEXT PRIMARY KEY REFERENCES billing_subscriptions(id),
  customer_id TEXT NOT NULL,
  level TEXT NOT NULL CHECK (level IN ('full', 'restricted', 'suspended', 'none')),
  reason TEXT NOT NULL,
  since INTEGER NOT NULL,
  next_change_at INTEGER,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS billing_entitlements_customer ON billing_entitlements(customer_id);

CREATE TABLE IF NOT EXISTS billing_entitlement_changes (
  id INTEGER PRIMARY KEY,
  subscription_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  from_level TEXT,
  to_level TEXT NOT NULL,
  reason TEXT NOT NULL,
  at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS billing_entitlement_changes_customer ON billing_entitlement_changes(customer_id, id);
`;

/** Creates the billing tables if they are missing; safe to call on every start. */
export function ensureBillingSchema(db: Database): void {
  db.exec(BILLING_SCHEMA);
}
