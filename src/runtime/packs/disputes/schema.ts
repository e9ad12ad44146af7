import type { Database } from 'better-sqlite3';

/**
 * The disputes pack's tables, in the engine's database file. Rows a handler writes carry its
 * idempotency key UNIQUE, so a handler run again after a crash finds its first result. The
 * ledger is append-only: the merchant's balance is its sum, never a stored number.
 */
const DISPUTES_SCHEMA = `
CREATE TABLE IF NOT EXISTS disputes_transactions (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  amount INTEGER NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  description TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  card_fingerprint TEXT NOT NULL,
  card_country TEXT NOT NULL,
  ip_country TEXT NOT NULL,
  avs_check TEXT NOT NULL CHECK (avs_check IN ('pass', 'fail', 'unavailable')),
  cvc_check TEXT NOT NULL CHECK (cvc_check IN ('pass', 'fail', 'unavailable')),
  three_d_secure TEXT NOT NULL CHECK (three_d_secure IN ('authenticated', 'attempted', 'none')),
  device_seen_before INTEGER NOT NULL CHECK (device_seen_before IN (0, 1)),
  customer_since INTEGER NOT NULL,
  refunded_amount INTEGER NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
  usage_after_purchase INTEGER NOT NULL DEFAULT 0 CHECK (usage_after_purchase >= 0),
  delivered_at INTEGER,
  canceled_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS disputes_transactions_card ON disputes_transactions(card_fingerprint, created_at);

CREATE TABLE IF NOT EXISTS disputes_disputes (
  id TEXT PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  transaction_id TEXT NOT NULL REFERENCES disputes_transactions(id),
  reason TEXT NOT NULL,
  amount INTEGER NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('needs_response', 'under_review', 'won', 'lost', 'accepted')),
  opened_at INTEGER NOT NULL,
  evidence_due_by INTEGER NOT NULL,
  review TEXT,
  fraud TEXT,
  evidence TEXT,
  recommendation TEXT,
  submissions INTEGER NOT NULL DEFAULT 0,
  closed_at INTEGER,
  resolution TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS disputes_disputes_transaction ON disputes_disputes(transaction_id);

CREATE TABLE IF NOT EXISTS disputes_submissions (
  idempotency_key TEXT PRIMARY KEY,
  dispute_id TEXT NOT NULL REFERENCES disputes_disputes(id),
  round INTEGER NOT NULL,
  evidence TEXT NOT NULL,
  at INTEGER NOT NULL,
  UNIQUE (dispute_id, round)
) STRICT;

CREATE TABLE IF NOT EXISTS disputes_ledger (
  idempotency_key TEXT PRIMARY KEY,
  dispute_id TEXT NOT NULL REFERENCES disputes_disputes(id),
  kind TEXT NOT NULL CHECK (kind IN ('chargeback', 'dispute_fee', 'reversal')),
  amount INTEGER NOT NULL,
  currency TEXT NOT NULL,
  at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS disputes_ledger_dispute ON disputes_ledger(dispute_id);
`;

export function ensureDisputesSchema(db: Database): void {
  db.exec(DISPUTES_SCHEMA);
}
