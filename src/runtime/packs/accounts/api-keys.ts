import { createHash, randomBytes } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { AccountNotFoundError } from './errors';
import type { ApiKey, ApiKeyStatus, KeyVerification } from './types';

/**
 * API keys as stored: a random 256-bit secret handed out once, of which the database keeps the
 * SHA-256 hash and a short display prefix, and a validity window. These functions run inside
 * the caller's transaction; `AccountService` adds the audit rows.
 */

const SECRET_PREFIX = 'lfk_';
/** `lfk_` and 8 characters of the secret: enough to tell keys apart in a list, far too few to guess the rest. */
const DISPLAY_PREFIX_LENGTH = SECRET_PREFIX.length + 8;

interface ApiKeyRow {
  id: string;
  account_id: string;
  prefix: string;
  status: ApiKeyStatus;
  valid_from: number;
  valid_until: number | null;
  replaced_by: string | null;
  created_at: number;
  deprecated_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export function newSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64url');
}

export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function insertKey(db: Database, input: { id: string; accountId: string; secret: string; idempotencyKey: string }, now: number): ApiKey {
  db.prepare(
    `INSERT INTO accounts_api_keys (id, idempotency_key, account_id, prefix, secret_hash, status, valid_from, created_at)
     VALUES (?, ?, ?, ?, ?, 'active', ?, ?)`,
  ).run(input.id, input.idempotencyKey, input.accountId, input.secret.slice(0, DISPLAY_PREFIX_LENGTH), secretHash(input.secret), now, now);
  return getKey(db, input.id);
}

export function keyByIdempotencyKey(db: Database, idempotencyKey: string): ApiKey | undefined {
  const row = db.prepare<[string], ApiKeyRow>('SELECT * FROM accounts_api_keys WHERE idempotency_key = ?').get(idempotencyKey);
  return row === undefined ? undefined : keyFromRow(row);
}

export function getKey(db: Database, keyId: string): ApiKey {
  const row = db.prepare<[string], ApiKeyRow>('SELECT * FROM accounts_api_keys WHERE id = ?').get(keyId);
  if (row === undefined) throw new AccountNotFoundError('API key', keyId);
  return keyFromRow(row);
}

export function listKeys(db: Database, accountId: string): ApiKey[] {
  return db
    .prepare<[string], ApiKeyRow>('SELECT * FROM accounts_api_keys WHERE account_id = ? ORDER BY created_at, id')
    .all(accountId)
    .map(keyFromRow);
}

export function setKeyDeprecated(db: Database, keyId: string, sunsetAt: number, replacedBy: string, now: number): void {
  db.prepare(`UPDATE accounts_api_keys SET status = 'deprecated', valid_until = ?, replaced_by = ?, deprecated_at = ? WHERE id = ?`).run(
    sunsetAt,
    replacedBy,
    now,
    keyId,
  );
}

export function setKeyRevoked(db: Database, keyId: string, now: number): void {
  db.prepare(
    `UPDATE accounts_api_keys SET status = 'revoked', revoked_at = ?, valid_until = min(coalesce(valid_until, ?), ?) WHERE id = ?`,
  ).run(now, now, now, keyId);
}

/**
 * Checks a presented secret at `now` and records its use. A deprecated key is accepted until its
 * sunset, with `deprecated: true` so the gateway can send `Deprecation` and `Sunset` headers.
 */
export function verifySecret(db: Database, secret: string, now: number): KeyVerification {
  const row = db
    .prepare<[string], ApiKeyRow & { account_status: string }>(
      `SELECT k.*, a.status AS account_status FROM accounts_api_keys k JOIN accounts_accounts a ON a.id = k.account_id WHERE k.secret_hash = ?`,
    )
    .get(secretHash(secret));
  if (row === undefined) return { ok: false, reason: 'unknown' };
  if (row.status === 'revoked') return { ok: false, reason: 'revoked' };
  if (row.account_status !== 'active') return { ok: false, reason: 'account_inactive' };
  if (now < row.valid_from) return { ok: false, reason: 'not_yet_valid' };
  if (row.valid_until !== null && now >= row.valid_until) return { ok: false, reason: 'expired' };
  db.prepare('UPDATE accounts_api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?').run(now, row.id);
  return { ok: true, keyId: row.id, accountId: row.account_id, deprecated: row.status === 'deprecated', sunsetAt: row.valid_until };
}

function keyFromRow(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    accountId: row.account_id,
    prefix: row.prefix,
    status: row.status,
    validFrom: row.valid_from,
    validUntil: row.valid_until,
    replacedBy: row.replaced_by,
    createdAt: row.created_at,
    deprecatedAt: row.deprecated_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}
