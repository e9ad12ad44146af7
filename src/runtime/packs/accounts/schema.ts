import type { Database } from 'better-sqlite3';

/**
 * The accounts pack's tables, in the engine's database file. Rows a handler writes carry the
 * handler's idempotency key UNIQUE, so a handler that runs again after a crash finds its first
 * result instead of acting twice. API keys are stored as SHA-256 hashes only: the secrets are
 * 256 random bits, so a plain hash (no salt, no slow KDF) cannot be reversed, and it can be
 * looked up by index on every request.
 */
const ACCOUNTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts_accounts (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  name TEXT,
  status TEXT NOT NULL CHECK (status IN ('active', 'deactivated', 'deleted')),
  created_at INTEGER NOT NULL,
  deactivated_at INTEGER,
  deleted_at INTEGER
) STRICT;

CREATE TABLE IF NOT EXISTS accounts_records (
  id INTEGER PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts_accounts(id),
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  bytes INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS accounts_records_account ON accounts_records(account_id, id);

CREATE TABLE IF NOT EXISTS accounts_api_keys (
  id TEXT PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL REFERENCES accounts_accounts(id),
  prefix TEXT NOT NULL,
  secret_hash TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL CHECK (status IN ('active', 'deprecated', 'revoked')),
  valid_from INTEGER NOT NULL,
  valid_until INTEGER,
  replaced_by TEXT REFERENCES accounts_api_keys(id),
  created_at INTEGER NOT NULL,
  deprecated_at INTEGER,
  revoked_at INTEGER,
  last_used_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS accounts_api_keys_account ON accounts_api_keys(account_id, created_at);

CREATE TABLE IF NOT EXISTS accounts_key_reveals (
  key_id TEXT PRIMARY KEY REFERENCES accounts_api_keys(id),
  secret TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS accounts_audit_log (
  seq INTEGER PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail TEXT NOT NULL,
  at INTEGER NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS accounts_audit_log_account ON accounts_audit_log(account_id, seq);

CREATE TABLE IF NOT EXISTS accounts_deletions (
  id TEXT PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL REFERENCES accounts_accounts(id),
  reason TEXT NOT NULL,
  comment TEXT,
  status TEXT NOT NULL CHECK (status IN ('requested', 'retained', 'pending', 'undone', 'completed')),
  requested_at INTEGER NOT NULL,
  grace_until INTEGER,
  records_erased INTEGER NOT NULL DEFAULT 0,
  completed_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS accounts_deletions_account ON accounts_deletions(account_id, requested_at);

CREATE TABLE IF NOT EXISTS accounts_erasure_batches (
  idempotency_key TEXT PRIMARY KEY,
  deletion_id TEXT NOT NULL REFERENCES accounts_deletions(id),
  erased INTEGER NOT NULL,
  remaining INTEGER NOT NULL,
  at INTEGER NOT NULL
) STRICT;
`;

export function ensureAccountsSchema(db: Database): void {
  db.exec(ACCOUNTS_SCHEMA);
}
