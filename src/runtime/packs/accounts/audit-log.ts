import { createHash } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { canonicalJson } from '../../../lib/hash';
import type { JsonObject } from '../../types';
import type { AuditEntry, AuditVerification, NewAuditEntry } from './types';

/**
 * The audit log is append-only and hash-chained: each row's hash covers its content and the
 * previous row's hash, so editing or deleting a row breaks every hash after it
 * ("maintain cryptographic hashes for all audit trail mutations"). Rows are written in the same
 * transaction as the change they record, never after it.
 */

const GENESIS_HASH = '0'.repeat(64);

interface AuditRow {
  seq: number;
  account_id: string;
  actor: string;
  action: string;
  subject: string;
  detail: string;
  at: number;
  prev_hash: string;
  hash: string;
}

/** Appends one entry, once per key; call it inside the transaction that makes the change. */
export function appendAudit(db: Database, entry: NewAuditEntry, idempotencyKey: string, now: number): AuditEntry {
  const existing = db.prepare<[string], AuditRow>('SELECT * FROM accounts_audit_log WHERE idempotency_key = ?').get(idempotencyKey);
  if (existing !== undefined) return entryFromRow(existing);
  const previous = db.prepare<[], { hash: string }>('SELECT hash FROM accounts_audit_log ORDER BY seq DESC LIMIT 1').get();
  const prevHash = previous?.hash ?? GENESIS_HASH;
  const detail = canonicalJson(entry.detail);
  const hash = rowHash(prevHash, { ...entry, detail, at: now });
  const result = db
    .prepare(
      `INSERT INTO accounts_audit_log (idempotency_key, account_id, actor, action, subject, detail, at, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(idempotencyKey, entry.accountId, entry.actor, entry.action, entry.subject, detail, now, prevHash, hash);
  return { ...entry, seq: Number(result.lastInsertRowid), at: now, prevHash, hash };
}

export function listAudit(db: Database, filter: { accountId?: string; afterSeq?: number } = {}): AuditEntry[] {
  return db
    .prepare<{ account: string | null; after: number }, AuditRow>(
      'SELECT * FROM accounts_audit_log WHERE (@account IS NULL OR account_id = @account) AND seq > @after ORDER BY seq',
    )
    .all({ account: filter.accountId ?? null, after: filter.afterSeq ?? 0 })
    .map(entryFromRow);
}

/** Recomputes the whole chain from the first row. */
export function verifyAuditChain(db: Database): AuditVerification {
  let prevHash = GENESIS_HASH;
  let entries = 0;
  for (const row of db.prepare<[], AuditRow>('SELECT * FROM accounts_audit_log ORDER BY seq').iterate()) {
    entries += 1;
    const expected = rowHash(prevHash, { accountId: row.account_id, actor: row.actor, action: row.action, subject: row.subject, detail: row.detail, at: row.at });
    if (row.prev_hash !== prevHash || row.hash !== expected) return { intact: false, entries, head: prevHash, brokenAt: row.seq };
    prevHash = row.hash;
  }
  return { intact: true, entries, head: prevHash, brokenAt: null };
}

function rowHash(prevHash: string, row: { accountId: string; actor: string; action: string; subject: string; detail: string; at: number }): string {
  // Fields joined by a separator that none of them can contain unescaped (detail is JSON).
  const content = [prevHash, row.accountId, row.actor, row.action, row.subject, row.detail, String(row.at)].join('\u0000');
  return createHash('sha256').update(content).digest('hex');
}

function entryFromRow(row: AuditRow): AuditEntry {
  return {
    seq: row.seq,
    accountId: row.account_id,
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    detail: JSON.parse(row.detail) as JsonObject,
    at: row.at,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

