import { afterEach, describe, expect, it } from 'vitest';
import { AccountService, AccountsError, AccountStateError } from '../../../src/runtime/packs/accounts/index';
import { DAY, START, TestClock, tempDatabase } from '../billing/helpers';

const opened: Array<{ close(): void }> = [];
afterEach(() => opened.splice(0).forEach((database) => database.close()));

function service() {
  const database = tempDatabase();
  opened.push(database);
  const clock = new TestClock(START);
  const accounts = new AccountService({ db: database.db, clock, emailFrom: 'test@laneflow.test' });
  accounts.createAccount({ id: 'acct_1', email: 'a@example.test', name: 'A' }, [
    { kind: 'project', name: 'one' },
    { kind: 'project', name: 'two' },
    { kind: 'file', name: 'three', bytes: 12 },
  ]);
  return { accounts, clock, db: database.db };
}

describe('AccountService', () => {
  it('issues one key per idempotency key: a replay returns the key without its secret and audits once', () => {
    const { accounts } = service();
    const first = accounts.issueKey('acct_1', 'test', 'issue-1');
    const again = accounts.issueKey('acct_1', 'test', 'issue-1');
    expect(again).toEqual({ key: first.key, secret: null });
    expect(accounts.keys('acct_1')).toHaveLength(1);
    expect(accounts.audit().map((entry) => entry.action)).toEqual(['api_key.issued']);
    expect(accounts.verifyKey(first.secret!)).toMatchObject({ ok: true, keyId: first.key.id });
    expect(accounts.verifyKey(`${first.secret!}x`)).toEqual({ ok: false, reason: 'unknown' });
  });

  it('accepts a deprecated key until its sunset only, and refuses to deprecate a revoked one', () => {
    const { accounts, clock } = service();
    const old = accounts.issueKey('acct_1', 'test', 'old');
    const fresh = accounts.issueKey('acct_1', 'test', 'new');
    accounts.deprecateKey(old.key.id, { sunsetAt: START + DAY, replacedBy: fresh.key.id, actor: 'test' }, 'deprecate');
    clock.set(START + DAY - 1);
    expect(accounts.verifyKey(old.secret!)).toEqual({ ok: true, keyId: old.key.id, accountId: 'acct_1', deprecated: true, sunsetAt: START + DAY });
    clock.set(START + DAY);
    expect(accounts.verifyKey(old.secret!)).toEqual({ ok: false, reason: 'expired' });
    expect(accounts.key(old.key.id).lastUsedAt).toBe(START + DAY - 1);
    accounts.revokeKey(fresh.key.id, { reason: 'test', actor: 'test' }, 'revoke');
    expect(() => accounts.deprecateKey(fresh.key.id, { sunsetAt: START + 2 * DAY, replacedBy: old.key.id, actor: 'test' }, 'again')).toThrow(AccountStateError);
  });

  it('queues one reminder per key, the same email however the key was used since', () => {
    const { accounts, clock } = service();
    const old = accounts.issueKey('acct_1', 'test', 'old');
    const fresh = accounts.issueKey('acct_1', 'test', 'new');
    accounts.deprecateKey(old.key.id, { sunsetAt: START + 7 * DAY, replacedBy: fresh.key.id, actor: 'test' }, 'deprecate');
    clock.set(START + DAY);
    accounts.verifyKey(old.secret!);
    const first = accounts.remindRotation(old.key.id, { lastUsedAt: START + DAY, actor: 'test' }, 'remind');
    clock.set(START + 2 * DAY);
    accounts.verifyKey(old.secret!);
    expect(accounts.remindRotation(old.key.id, { lastUsedAt: START + DAY, actor: 'test' }, 'remind')).toEqual(first);
    expect(accounts.audit().filter((entry) => entry.action === 'api_key.reminder_sent')).toHaveLength(1);
    expect(first.text).toContain(`${old.key.prefix}… at 2025-01-16 09:00 UTC`);
  });

  it('detects an edited or deleted audit row at the first row whose hash no longer matches', () => {
    const { accounts, db } = service();
    for (const n of [1, 2, 3]) accounts.issueKey('acct_1', 'test', `key-${n}`);
    expect(accounts.verifyAudit()).toMatchObject({ intact: true, entries: 3 });
    const [, second, third] = accounts.audit();
    db.prepare('DELETE FROM accounts_audit_log WHERE seq = ?').run(second!.seq);
    expect(accounts.verifyAudit()).toMatchObject({ intact: false, brokenAt: third!.seq });
  });

  it('erases in batches recorded per key, and refuses an unknown cancellation reason', () => {
    const { accounts } = service();
    expect(() => accounts.requestDeletion('acct_1', { reason: 'bored', comment: null, actor: 'test' }, 'req')).toThrow(AccountsError);
    const { deletion } = accounts.requestDeletion('acct_1', { reason: 'other', comment: 'bye', actor: 'test' }, 'req');
    expect(() => accounts.eraseBatch(deletion.id, 2, 'batch-1')).toThrow(/only after the grace period/);
    accounts.deactivateAccount(deletion.id, { graceMs: DAY, actor: 'test' }, 'deactivate');
    expect(accounts.eraseBatch(deletion.id, 2, 'batch-1')).toEqual({ erased: 2, remaining: 1, totalErased: 2 });
    expect(accounts.eraseBatch(deletion.id, 2, 'batch-1')).toEqual({ erased: 2, remaining: 1, totalErased: 2 });
    expect(accounts.recordCount('acct_1')).toBe(1);
    expect(() => accounts.completeDeletion(deletion.id, 'test', 'complete')).toThrow(/still has 1 records/);
    expect(accounts.eraseBatch(deletion.id, 2, 'batch-2')).toEqual({ erased: 1, remaining: 0, totalErased: 3 });
    expect(accounts.completeDeletion(deletion.id, 'test', 'complete')).toMatchObject({ status: 'completed', recordsErased: 3, comment: null });
  });
});
