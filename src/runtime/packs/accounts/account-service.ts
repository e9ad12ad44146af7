import { createHash } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import type { JsonObject } from '../../types';
import { enqueueEmail, ensureBillingSchema, type OutboxEmail } from '../billing/index';
import {
  anonymizeAccount,
  countRecords,
  countRetainedSince,
  deleteRecordBatch,
  deletionByIdempotencyKey,
  getAccount,
  getDeletion,
  insertAccount,
  insertDeletion,
  insertRecords,
  setAccountStatus,
  updateDeletion,
} from './accounts';
import { getKey, insertKey, keyByIdempotencyKey, listKeys, newSecret, setKeyDeprecated, setKeyRevoked, verifySecret } from './api-keys';
import { appendAudit, listAudit, verifyAuditChain } from './audit-log';
import { type AccountEmail, deletionConfirmation, rotationNotice, rotationReminder } from './emails';
import { AccountsError, AccountStateError } from './errors';
import { ensureAccountsSchema } from './schema';
import type {
  Account,
  AccountsClock,
  ApiKey,
  AuditEntry,
  AuditVerification,
  CancellationReason,
  DeletionRequest,
  ErasureBatch,
  IssuedKey,
  KeyVerification,
  NewAccount,
  NewRecord,
} from './types';

export interface AccountServiceOptions {
  /** The engine's database handle; the accounts tables (and the billing outbox) are created in it. */
  db: Database;
  clock: AccountsClock;
  /** The From address of the emails it queues. */
  emailFrom: string;
}

export const CANCELLATION_REASONS: readonly CancellationReason[] = ['too_expensive', 'not_using', 'missing_features', 'switching_provider', 'privacy', 'other'];

/** How long a new key's secret waits in the dashboard to be copied, at most. */
const REVEAL_TTL_MS = 30 * 86_400_000;
/** A retention offer is made once a year: a customer retained more recently goes straight to deletion. */
const RETENTION_COOLDOWN_MS = 365 * 86_400_000;

/**
 * Accounts, API keys, deletion and the audit log, for flow handlers. Every method with an effect
 * takes the handler's idempotency key (`instanceId:nodeId:visit`) and writes the change, its
 * audit rows and its email (in the billing pack's outbox) in one transaction, so a handler that
 * runs again after a crash finds the first result and changes nothing twice.
 */
export class AccountService {
  private readonly db: Database;
  private readonly clock: AccountsClock;
  private readonly emailFrom: string;

  constructor(options: AccountServiceOptions) {
    this.db = options.db;
    this.clock = options.clock;
    this.emailFrom = options.emailFrom;
    ensureAccountsSchema(this.db);
    ensureBillingSchema(this.db);
  }

  // -------------------------------------------------------------------------------------------
  // Accounts

  createAccount(input: NewAccount, records: readonly NewRecord[] = []): Account {
    if (!/^[^\s@]+@[^\s@]+$/.test(input.email)) throw new AccountsError(`Not an email address: ${JSON.stringify(input.email)}.`);
    return this.transaction(() => {
      const now = this.clock.now();
      insertAccount(this.db, input, now);
      insertRecords(this.db, input.id, records, now);
      return getAccount(this.db, input.id);
    });
  }

  /**
   * A sandbox account for a flow run that names none: its id (`sandbox_acct_…`) derives from the
   * idempotency key, so a run again after a crash finds the account it opened instead of opening
   * another. With `apiKey`, the account gets one key, issued by `actor`.
   */
  openSandboxAccount(idempotencyKey: string, options: { records?: readonly NewRecord[]; apiKey?: { actor: string } } = {}): Account {
    return this.transaction(() => {
      const id = stableId('sandbox_acct', idempotencyKey);
      const opened = this.db.prepare<[string], { id: string }>('SELECT id FROM accounts_accounts WHERE id = ?').get(id) !== undefined;
      if (!opened) this.createAccount({ id, email: `${id}@sandbox.example.com`, name: 'Sandbox account' }, options.records);
      if (options.apiKey !== undefined) this.issueKey(id, options.apiKey.actor, `${idempotencyKey}:sandbox-key`);
      return getAccount(this.db, id);
    });
  }

  account(accountId: string): Account {
    return getAccount(this.db, accountId);
  }

  addRecords(accountId: string, records: readonly NewRecord[]): void {
    this.transaction(() => insertRecords(this.db, getAccount(this.db, accountId).id, records, this.clock.now()));
  }

  recordCount(accountId: string): number {
    return countRecords(this.db, accountId);
  }

  // -------------------------------------------------------------------------------------------
  // API keys

  /**
   * Issues a key for the account. The secret comes back from the first call only; with
   * `holdForReveal` it also waits (for 30 days at most) to be shown once by `revealSecret`, which
   * is how a flow hands a key to a person without putting it in the flow's data.
   */
  issueKey(accountId: string, actor: string, idempotencyKey: string, options: { holdForReveal?: boolean; replaces?: string } = {}): IssuedKey {
    return this.transaction(() => {
      const existing = keyByIdempotencyKey(this.db, idempotencyKey);
      if (existing !== undefined) return { key: existing, secret: null };
      const account = getAccount(this.db, accountId);
      if (account.status !== 'active') throw new AccountStateError(`Account ${accountId} is ${account.status}; only an active account gets new keys.`);
      const now = this.clock.now();
      const secret = newSecret();
      const id = stableId('key', idempotencyKey);
      const key = insertKey(this.db, { id, accountId, secret, idempotencyKey }, now);
      if (options.holdForReveal === true) {
        this.db.prepare('INSERT INTO accounts_key_reveals (key_id, secret, expires_at) VALUES (?, ?, ?)').run(id, secret, now + REVEAL_TTL_MS);
      }
      const detail: JsonObject = { prefix: key.prefix };
      if (options.replaces !== undefined) detail['replaces'] = options.replaces;
      appendAudit(this.db, { accountId, actor, action: 'api_key.issued', subject: id, detail }, `${idempotencyKey}:audit`, now);
      return { key, secret };
    });
  }

  /** The secret of a key issued with `holdForReveal`, once: a second call gets null. */
  revealSecret(keyId: string): string | null {
    return this.transaction(() => {
      const row = this.db.prepare<[string], { secret: string; expires_at: number }>('SELECT secret, expires_at FROM accounts_key_reveals WHERE key_id = ?').get(keyId);
      this.db.prepare('DELETE FROM accounts_key_reveals WHERE key_id = ?').run(keyId);
      return row === undefined || row.expires_at <= this.clock.now() ? null : row.secret;
    });
  }

  key(keyId: string): ApiKey {
    return getKey(this.db, keyId);
  }

  keys(accountId: string): ApiKey[] {
    return listKeys(this.db, accountId);
  }

  /** The gateway's check of a presented key; records when the key was last used. */
  verifyKey(secret: string): KeyVerification {
    return this.transaction(() => verifySecret(this.db, secret, this.clock.now()));
  }

  /** Starts a dual-key period: `keyId` stays valid until `sunsetAt`, and `replacedBy` is its successor. */
  deprecateKey(keyId: string, input: { sunsetAt: number; replacedBy: string; actor: string }, idempotencyKey: string): ApiKey {
    return this.transaction(() => {
      const key = getKey(this.db, keyId);
      const now = this.clock.now();
      if (key.status === 'deprecated' && key.replacedBy === input.replacedBy) return key;
      if (key.status !== 'active') throw new AccountStateError(`API key ${keyId} is ${key.status}; only an active key is deprecated.`);
      if (input.sunsetAt <= now) throw new AccountStateError(`A sunset at ${new Date(input.sunsetAt).toISOString()} is not in the future.`);
      setKeyDeprecated(this.db, keyId, input.sunsetAt, input.replacedBy, now);
      appendAudit(
        this.db,
        { accountId: key.accountId, actor: input.actor, action: 'api_key.deprecated', subject: keyId, detail: { sunsetAt: input.sunsetAt, replacedBy: input.replacedBy } },
        `${idempotencyKey}:audit`,
        now,
      );
      return getKey(this.db, keyId);
    });
  }

  revokeKey(keyId: string, input: { reason: string; actor: string }, idempotencyKey: string): ApiKey {
    return this.transaction(() => {
      const key = getKey(this.db, keyId);
      if (key.status === 'revoked') return key;
      const now = this.clock.now();
      setKeyRevoked(this.db, keyId, now);
      this.db.prepare('DELETE FROM accounts_key_reveals WHERE key_id = ?').run(keyId);
      appendAudit(
        this.db,
        { accountId: key.accountId, actor: input.actor, action: 'api_key.revoked', subject: keyId, detail: { reason: input.reason, lastUsedAt: key.lastUsedAt } },
        `${idempotencyKey}:audit`,
        now,
      );
      return getKey(this.db, keyId);
    });
  }

  /** Emails the account about a rotation and audits that it did. */
  notifyRotation(oldKeyId: string, actor: string, idempotencyKey: string): OutboxEmail {
    return this.transaction(() => {
      const oldKey = getKey(this.db, oldKeyId);
      const { newKey, sunsetAt } = this.successorOf(oldKey);
      const account = getAccount(this.db, oldKey.accountId);
      const email = rotationNotice({ name: account.name, oldPrefix: oldKey.prefix, newPrefix: newKey.prefix, sunsetAt });
      return this.queueAndAudit(account, email, { actor, action: 'api_key.rotation_notified', subject: oldKeyId, detail: { newKeyId: newKey.id, sunsetAt } }, idempotencyKey);
    });
  }

  /**
   * Reminds the account that the old key is still in use, quoting the use the caller saw
   * (`lastUsedAt`): a run again after a crash then queues the very same email, however the key
   * was used meanwhile.
   */
  remindRotation(oldKeyId: string, input: { lastUsedAt: number; actor: string }, idempotencyKey: string): OutboxEmail {
    return this.transaction(() => {
      const oldKey = getKey(this.db, oldKeyId);
      const { newKey, sunsetAt } = this.successorOf(oldKey);
      const account = getAccount(this.db, oldKey.accountId);
      const email = rotationReminder({ name: account.name, oldPrefix: oldKey.prefix, newPrefix: newKey.prefix, sunsetAt, lastUsedAt: input.lastUsedAt });
      return this.queueAndAudit(
        account,
        email,
        { actor: input.actor, action: 'api_key.reminder_sent', subject: oldKeyId, detail: { lastUsedAt: input.lastUsedAt } },
        idempotencyKey,
      );
    });
  }

  // -------------------------------------------------------------------------------------------
  // Deletion

  /**
   * Records a deletion request with the customer's reason. `retainedRecently` counts the requests
   * a retention offer ended in the past year: such a customer gets no second offer.
   */
  requestDeletion(
    accountId: string,
    input: { reason: string; comment: string | null; actor: string },
    idempotencyKey: string,
  ): { deletion: DeletionRequest; account: Account; retainedRecently: number } {
    const reason = CANCELLATION_REASONS.find((known) => known === input.reason);
    if (reason === undefined) throw new AccountsError(`"${input.reason}" is not a cancellation reason; the form offers ${CANCELLATION_REASONS.join(', ')}.`);
    return this.transaction(() => {
      const now = this.clock.now();
      let deletion = deletionByIdempotencyKey(this.db, idempotencyKey);
      if (deletion === undefined) {
        const account = getAccount(this.db, accountId);
        if (account.status !== 'active') throw new AccountStateError(`Account ${accountId} is ${account.status}; only an active account can ask to be deleted.`);
        const id = stableId('del', idempotencyKey);
        insertDeletion(this.db, { id, idempotencyKey, accountId, reason, comment: input.comment }, now);
        appendAudit(this.db, { accountId, actor: input.actor, action: 'account.deletion_requested', subject: id, detail: { reason } }, `${idempotencyKey}:audit`, now);
        deletion = getDeletion(this.db, id);
      }
      const retainedRecently = countRetainedSince(this.db, accountId, deletion.requestedAt - RETENTION_COOLDOWN_MS, deletion.id);
      return { deletion, account: getAccount(this.db, accountId), retainedRecently };
    });
  }

  /** The customer took a retention offer: the request ends and the account stays as it was. */
  withdrawDeletion(deletionId: string, actor: string, idempotencyKey: string): DeletionRequest {
    return this.transaction(() => {
      const deletion = getDeletion(this.db, deletionId);
      if (deletion.status === 'retained') return deletion;
      if (deletion.status !== 'requested') throw new AccountStateError(`Deletion ${deletionId} is ${deletion.status}; only a new request can be withdrawn.`);
      updateDeletion(this.db, deletionId, { status: 'retained' });
      appendAudit(this.db, { accountId: deletion.accountId, actor, action: 'account.deletion_withdrawn', subject: deletionId, detail: {} }, `${idempotencyKey}:audit`, this.clock.now());
      return getDeletion(this.db, deletionId);
    });
  }

  /**
   * Shuts the account for the grace period: it is deactivated (so every key is refused) and its
   * keys are revoked. Data stays until the grace period ends, so that `restoreAccount` can undo it.
   */
  deactivateAccount(deletionId: string, input: { graceMs: number; actor: string }, idempotencyKey: string): { deletion: DeletionRequest; revokedKeys: number } {
    return this.transaction(() => {
      const deletion = getDeletion(this.db, deletionId);
      const done = this.db.prepare<[string], { detail: string }>('SELECT detail FROM accounts_audit_log WHERE idempotency_key = ?').get(`${idempotencyKey}:audit`);
      if (done !== undefined) return { deletion, revokedKeys: (JSON.parse(done.detail) as { revokedKeys: number }).revokedKeys };
      if (deletion.status !== 'requested') throw new AccountStateError(`Deletion ${deletionId} is ${deletion.status}; only a new request is carried out.`);
      const now = this.clock.now();
      setAccountStatus(this.db, deletion.accountId, 'deactivated', now);
      const live = listKeys(this.db, deletion.accountId).filter((key) => key.status !== 'revoked');
      for (const key of live) {
        setKeyRevoked(this.db, key.id, now);
        appendAudit(
          this.db,
          { accountId: deletion.accountId, actor: input.actor, action: 'api_key.revoked', subject: key.id, detail: { reason: 'account deactivated', lastUsedAt: key.lastUsedAt } },
          `${idempotencyKey}:revoke:${key.id}`,
          now,
        );
      }
      this.db.prepare('DELETE FROM accounts_key_reveals WHERE key_id IN (SELECT id FROM accounts_api_keys WHERE account_id = ?)').run(deletion.accountId);
      updateDeletion(this.db, deletionId, { status: 'pending', graceUntil: now + input.graceMs });
      appendAudit(
        this.db,
        { accountId: deletion.accountId, actor: input.actor, action: 'account.deactivated', subject: deletionId, detail: { graceUntil: now + input.graceMs, revokedKeys: live.length } },
        `${idempotencyKey}:audit`,
        now,
      );
      return { deletion: getDeletion(this.db, deletionId), revokedKeys: live.length };
    });
  }

  /** The customer changed their mind within the grace period. Revoked keys stay revoked: they make new ones. */
  restoreAccount(deletionId: string, actor: string, idempotencyKey: string): DeletionRequest {
    return this.transaction(() => {
      const deletion = getDeletion(this.db, deletionId);
      if (deletion.status === 'undone') return deletion;
      if (deletion.status !== 'pending') throw new AccountStateError(`Deletion ${deletionId} is ${deletion.status}; only one in its grace period can be undone.`);
      const now = this.clock.now();
      setAccountStatus(this.db, deletion.accountId, 'active', now);
      updateDeletion(this.db, deletionId, { status: 'undone' });
      appendAudit(this.db, { accountId: deletion.accountId, actor, action: 'account.restored', subject: deletionId, detail: {} }, `${idempotencyKey}:audit`, now);
      return getDeletion(this.db, deletionId);
    });
  }

  /**
   * Erases the account's next `batchSize` records. Batches keep each transaction short on a
   * large account; each batch is recorded under its key, so a repeated run reports the same batch.
   */
  eraseBatch(deletionId: string, batchSize: number, idempotencyKey: string): ErasureBatch {
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new AccountsError(`An erasure batch holds at least one record; got ${batchSize}.`);
    return this.transaction(() => {
      const done = this.db.prepare<[string], { erased: number; remaining: number }>('SELECT erased, remaining FROM accounts_erasure_batches WHERE idempotency_key = ?').get(idempotencyKey);
      if (done !== undefined) return { ...done, totalErased: getDeletion(this.db, deletionId).recordsErased };
      const deletion = getDeletion(this.db, deletionId);
      if (deletion.status !== 'pending') throw new AccountStateError(`Deletion ${deletionId} is ${deletion.status}; data is erased only after the grace period.`);
      const now = this.clock.now();
      const erased = deleteRecordBatch(this.db, deletion.accountId, batchSize);
      const remaining = countRecords(this.db, deletion.accountId);
      this.db.prepare('INSERT INTO accounts_erasure_batches (idempotency_key, deletion_id, erased, remaining, at) VALUES (?, ?, ?, ?, ?)').run(idempotencyKey, deletionId, erased, remaining, now);
      updateDeletion(this.db, deletionId, { erasedMore: erased });
      return { erased, remaining, totalErased: deletion.recordsErased + erased };
    });
  }

  /**
   * Ends the deletion: the account row keeps its id (invoices and the audit log refer to it) but
   * loses the email and name, and the request loses the customer's comment.
   */
  completeDeletion(deletionId: string, actor: string, idempotencyKey: string): DeletionRequest {
    return this.transaction(() => {
      const deletion = getDeletion(this.db, deletionId);
      if (deletion.status === 'completed') return deletion;
      if (deletion.status !== 'pending') throw new AccountStateError(`Deletion ${deletionId} is ${deletion.status}; only a pending one is completed.`);
      const left = countRecords(this.db, deletion.accountId);
      if (left > 0) throw new AccountStateError(`Account ${deletion.accountId} still has ${left} records; erase them first.`);
      const now = this.clock.now();
      anonymizeAccount(this.db, deletion.accountId, `deleted-${stableId('acct', deletion.accountId)}@invalid`);
      setAccountStatus(this.db, deletion.accountId, 'deleted', now);
      updateDeletion(this.db, deletionId, { status: 'completed', completedAt: now, eraseComment: true });
      appendAudit(
        this.db,
        { accountId: deletion.accountId, actor, action: 'account.deleted', subject: deletionId, detail: { recordsErased: deletion.recordsErased, reason: deletion.reason } },
        `${idempotencyKey}:audit`,
        now,
      );
      return getDeletion(this.db, deletionId);
    });
  }

  /** The last email to a deleted account, to the address captured when the customer asked. */
  confirmDeletion(deletionId: string, contact: { email: string; name: string | null }, idempotencyKey: string): OutboxEmail {
    return this.transaction(() => {
      const deletion = getDeletion(this.db, deletionId);
      if (deletion.status !== 'completed' || deletion.completedAt === null) throw new AccountStateError(`Deletion ${deletionId} is ${deletion.status}; confirm it once completed.`);
      const email = deletionConfirmation({ name: contact.name, accountId: deletion.accountId, recordsErased: deletion.recordsErased, deletedAt: deletion.completedAt });
      return enqueueEmail(this.db, { ...email, from: this.emailFrom, to: contact.email }, `${idempotencyKey}:email`, this.clock.now()).email;
    });
  }

  deletion(deletionId: string): DeletionRequest {
    return getDeletion(this.db, deletionId);
  }

  // -------------------------------------------------------------------------------------------
  // Audit

  audit(filter: { accountId?: string; afterSeq?: number } = {}): AuditEntry[] {
    return listAudit(this.db, filter);
  }

  verifyAudit(): AuditVerification {
    return verifyAuditChain(this.db);
  }

  // -------------------------------------------------------------------------------------------

  private successorOf(oldKey: ApiKey): { newKey: ApiKey; sunsetAt: number } {
    if (oldKey.status !== 'deprecated' || oldKey.replacedBy === null || oldKey.validUntil === null) {
      throw new AccountStateError(`API key ${oldKey.id} is ${oldKey.status}, not in a dual-key period.`);
    }
    return { newKey: getKey(this.db, oldKey.replacedBy), sunsetAt: oldKey.validUntil };
  }

  private queueAndAudit(account: Account, email: AccountEmail, audit: { actor: string; action: string; subject: string; detail: Record<string, number | string> }, idempotencyKey: string): OutboxEmail {
    const now = this.clock.now();
    const queued = enqueueEmail(this.db, { ...email, from: this.emailFrom, to: account.email }, `${idempotencyKey}:email`, now).email;
    appendAudit(this.db, { accountId: account.id, ...audit, detail: { ...audit.detail, emailId: queued.id } }, `${idempotencyKey}:audit`, now);
    return queued;
  }

  /** `BEGIN IMMEDIATE`: the write lock is taken before the first read, so read-check-write cannot interleave. */
  private transaction<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }
}

/** A row id derived from the key it was created under: a replay computes the same id. */
function stableId(prefix: string, key: string): string {
  return `${prefix}_${createHash('sha256').update(key).digest('hex').slice(0, 20)}`;
}
