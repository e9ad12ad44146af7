import type { Database } from 'better-sqlite3';
import { AccountNotFoundError } from './errors';
import type { Account, AccountStatus, CancellationReason, DeletionRequest, DeletionStatus, NewRecord } from './types';

/** Accounts, the records they own and their deletion requests, as stored. Run inside the caller's transaction. */

interface AccountRow {
  id: string;
  email: string;
  name: string | null;
  status: AccountStatus;
  created_at: number;
  deactivated_at: number | null;
  deleted_at: number | null;
}

interface DeletionRow {
  id: string;
  account_id: string;
  reason: CancellationReason;
  comment: string | null;
  status: DeletionStatus;
  requested_at: number;
  grace_until: number | null;
  records_erased: number;
  completed_at: number | null;
}

export function getAccount(db: Database, accountId: string): Account {
  const row = db.prepare<[string], AccountRow>('SELECT * FROM accounts_accounts WHERE id = ?').get(accountId);
  if (row === undefined) throw new AccountNotFoundError('account', accountId);
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    status: row.status,
    createdAt: row.created_at,
    deactivatedAt: row.deactivated_at,
    deletedAt: row.deleted_at,
  };
}

export function insertAccount(db: Database, account: { id: string; email: string; name: string }, now: number): void {
  db.prepare(`INSERT INTO accounts_accounts (id, email, name, status, created_at) VALUES (?, ?, ?, 'active', ?)`).run(account.id, account.email, account.name, now);
}

export function setAccountStatus(db: Database, accountId: string, status: AccountStatus, now: number): void {
  const column = status === 'deactivated' ? 'deactivated_at' : status === 'deleted' ? 'deleted_at' : null;
  db.prepare(`UPDATE accounts_accounts SET status = ?${column === null ? '' : `, ${column} = ?`} WHERE id = ?`).run(
    ...(column === null ? [status, accountId] : [status, now, accountId]),
  );
}

/** Replaces what identifies a person with a stand-in; the row stays so that ids in invoices and the audit log still resolve. */
export function anonymizeAccount(db: Database, accountId: string, placeholderEmail: string): void {
  db.prepare('UPDATE accounts_accounts SET email = ?, name = NULL WHERE id = ?').run(placeholderEmail, accountId);
}

export function insertRecords(db: Database, accountId: string, records: readonly NewRecord[], now: number): void {
  const insert = db.prepare('INSERT INTO accounts_records (account_id, kind, name, bytes, created_at) VALUES (?, ?, ?, ?, ?)');
  for (const record of records) insert.run(accountId, record.kind, record.name, record.bytes ?? 0, now);
}

export function countRecords(db: Database, accountId: string): number {
  return db.prepare<[string], { count: number }>('SELECT count(*) AS count FROM accounts_records WHERE account_id = ?').get(accountId)!.count;
}

/** Deletes the account's oldest `limit` records and says how many went. */
export function deleteRecordBatch(db: Database, accountId: string, limit: number): number {
  return db
    .prepare('DELETE FROM accounts_records WHERE id IN (SELECT id FROM accounts_records WHERE account_id = ? ORDER BY id LIMIT ?)')
    .run(accountId, limit).changes;
}

export function insertDeletion(
  db: Database,
  deletion: { id: string; idempotencyKey: string; accountId: string; reason: CancellationReason; comment: string | null },
  now: number,
): void {
  db.prepare(
    `INSERT INTO accounts_deletions (id, idempotency_key, account_id, reason, comment, status, requested_at)
     VALUES (?, ?, ?, ?, ?, 'requested', ?)`,
  ).run(deletion.id, deletion.idempotencyKey, deletion.accountId, deletion.reason, deletion.comment, now);
}

export function deletionByIdempotencyKey(db: Database, idempotencyKey: string): DeletionRequest | undefined {
  const row = db.prepare<[string], DeletionRow>('SELECT * FROM accounts_deletions WHERE idempotency_key = ?').get(idempotencyKey);
  return row === undefined ? undefined : deletionFromRow(row);
}

export function getDeletion(db: Database, deletionId: string): DeletionRequest {
  const row = db.prepare<[string], DeletionRow>('SELECT * FROM accounts_deletions WHERE id = ?').get(deletionId);
  if (row === undefined) throw new AccountNotFoundError('deletion request', deletionId);
  return deletionFromRow(row);
}

/** Earlier requests of the account that a retention offer talked the customer out of, since `since`. */
export function countRetainedSince(db: Database, accountId: string, since: number, exceptId: string): number {
  return db
    .prepare<[string, number, string], { count: number }>(
      `SELECT count(*) AS count FROM accounts_deletions WHERE account_id = ? AND status = 'retained' AND requested_at >= ? AND id <> ?`,
    )
    .get(accountId, since, exceptId)!.count;
}

export function updateDeletion(
  db: Database,
  deletionId: string,
  change: { status?: DeletionStatus; graceUntil?: number; erasedMore?: number; completedAt?: number; eraseComment?: boolean },
): void {
  const current = getDeletion(db, deletionId);
  db.prepare(
    `UPDATE accounts_deletions SET status = ?, grace_until = ?, records_erased = ?, completed_at = ?, comment = ? WHERE id = ?`,
  ).run(
    change.status ?? current.status,
    change.graceUntil ?? current.graceUntil,
    current.recordsErased + (change.erasedMore ?? 0),
    change.completedAt ?? current.completedAt,
    change.eraseComment === true ? null : current.comment,
    deletionId,
  );
}

function deletionFromRow(row: DeletionRow): DeletionRequest {
  return {
    id: row.id,
    accountId: row.account_id,
    reason: row.reason,
    comment: row.comment,
    status: row.status,
    requestedAt: row.requested_at,
    graceUntil: row.grace_until,
    recordsErased: row.records_erased,
    completedAt: row.completed_at,
  };
}
