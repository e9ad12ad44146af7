import { afterEach, describe, expect, it } from 'vitest';
import bindings from '../../flows/api-key-rotation.bindings';
import { AccountService } from '../../src/runtime/packs/accounts/index';
import { listOutbox } from '../../src/runtime/packs/billing/index';
import { DAY, type FlowHarness, openFlow } from './flow-harness';

const T0 = Date.UTC(2025, 2, 3, 9, 0, 0);
const harnesses: FlowHarness[] = [];

afterEach(() => {
  for (const harness of harnesses.splice(0)) harness.close();
});

/** The flow deployed on a fresh database, with an account that has one key in use. */
function rotationFixture() {
  const h = openFlow('api-key-rotation', bindings, T0);
  harnesses.push(h);
  const accounts = new AccountService({ db: h.db, clock: h.clock, emailFrom: 'test@laneflow.test' });
  accounts.createAccount({ id: 'acct_acme', email: 'ops@acme.test', name: 'Acme Ops' });
  const { key: oldKey, secret } = accounts.issueKey('acct_acme', 'operator:setup', 'setup:first-key');
  return { h, accounts, oldKey, oldSecret: secret! };
}

/** Runs due work up to `at`, then sets the clock there (the next timer may be later). */
async function runTo(h: FlowHarness, at: number): Promise<void> {
  await h.engine.runUntilIdle({ horizon: at });
  h.clock.advance(at - h.clock.now());
}

describe('api-key-rotation.flow', () => {
  it('keeps both keys valid during the dual-key period, reminds while the old key is used, and revokes it at the deadline', async () => {
    const { h, accounts, oldKey, oldSecret } = rotationFixture();
    expect(accounts.verifyKey(oldSecret)).toMatchObject({ ok: true, deprecated: false });
    const id = h.engine.start(h.version, { input: { accountId: 'acct_acme', dualKeyPeriod: '7d', checkEvery: '2d' } });

    // Day 1: the new key exists, the old one is deprecated with a sunset, both are accepted.
    await runTo(h, T0 + DAY);
    const rotation = h.instance(id).snapshot.data['rotation'] as { newKeyId: string; newKeyPrefix: string; sunsetAt: number };
    expect(rotation.sunsetAt).toBe(T0 + 7 * DAY);
    const newSecret = accounts.revealSecret(rotation.newKeyId)!;
    expect(newSecret).toMatch(/^lfk_[A-Za-z0-9_-]{43}$/);
    expect(newSecret.startsWith(rotation.newKeyPrefix)).toBe(true);
    expect(accounts.revealSecret(rotation.newKeyId)).toBeNull();
    expect(accounts.verifyKey(oldSecret)).toEqual({ ok: true, keyId: oldKey.id, accountId: 'acct_acme', deprecated: true, sunsetAt: T0 + 7 * DAY });
    expect(accounts.verifyKey(newSecret)).toEqual({ ok: true, keyId: rotation.newKeyId, accountId: 'acct_acme', deprecated: false, sunsetAt: null });
    // The database holds hashes, never a secret, and neither does the flow's data.
    const stored = h.db.prepare('SELECT secret_hash FROM accounts_api_keys').all() as { secret_hash: string }[];
    expect(stored.map((row) => row.secret_hash)).toHaveLength(2);
    expect(JSON.stringify(h.instance(id))).not.toContain(newSecret);

    // Day 2's check sees the call of day 1 and reminds; by day 4 the clients have switched.
    await runTo(h, T0 + 3 * DAY);
    expect(accounts.verifyKey(newSecret).ok).toBe(true);
    await runTo(h, T0 + 7 * DAY - 1);
    expect(accounts.verifyKey(oldSecret)).toMatchObject({ ok: true, deprecated: true });
    // At the sunset the validity window refuses the old key, before the flow has even revoked it.
    h.clock.advance(1);
    expect(accounts.verifyKey(oldSecret)).toEqual({ ok: false, reason: 'expired' });
    await h.engine.runUntilIdle();

    const instance = h.instance(id);
    expect(instance.status).toBe('completed');
    expect(h.route(id)).toEqual([
      'Rotation due',
      'Choose key to rotate',
      'Generate new key',
      'Deprecate old key',
      'Notify clients of new key',
      'Watch old key traffic',
      'Old key still in use? → Yes',
      'Remind clients on old key',
      'Watch old key traffic',
      'Old key still in use? → No',
      'Wait for dual-key deadline',
      'Revoke old key',
      'Verify audit trail',
      'Rotation complete',
    ]);
    expect(accounts.verifyKey(oldSecret)).toEqual({ ok: false, reason: 'revoked' });
    expect(accounts.verifyKey(newSecret).ok).toBe(true);
    expect(accounts.key(oldKey.id)).toMatchObject({ status: 'revoked', revokedAt: T0 + 7 * DAY, validUntil: T0 + 7 * DAY, replacedBy: rotation.newKeyId });

    const audit = accounts.audit({ accountId: 'acct_acme' });
    expect(audit.map((entry) => [entry.action, entry.subject, entry.at])).toEqual([
      ['api_key.issued', oldKey.id, T0],
      ['api_key.issued', rotation.newKeyId, T0],
      ['api_key.deprecated', oldKey.id, T0],
      ['api_key.rotation_notified', oldKey.id, T0],
      ['api_key.reminder_sent', oldKey.id, T0 + 2 * DAY],
      ['api_key.revoked', oldKey.id, T0 + 7 * DAY],
    ]);
    expect(audit[4]!.detail).toMatchObject({ lastUsedAt: T0 + DAY });
    expect(accounts.verifyAudit()).toMatchObject({ intact: true, entries: 6, brokenAt: null });
    expect(instance.snapshot.data['audit']).toMatchObject({ intact: true, entries: 6, head: audit[5]!.hash, trail: audit.slice(1).map((e) => `${e.action} ${e.subject}`) });

    const emails = listOutbox(h.db);
    expect(emails.map((email) => [email.template, email.to])).toEqual([
      ['accounts.api_key_rotation', 'ops@acme.test'],
      ['accounts.api_key_reminder', 'ops@acme.test'],
    ]);
    expect(emails[0]!.text).toContain(`Both keys work until 2025-03-10 09:00 UTC`);
    expect(emails[0]!.text).toContain(rotation.newKeyPrefix);
    expect(emails[1]!.text).toContain('at 2025-03-04 09:00 UTC');
    for (const email of emails) expect(email.text).not.toContain(newSecret.slice(rotation.newKeyPrefix.length));
  });

  it('sends at most three reminders to clients that never switch, then revokes on time', async () => {
    const { h, accounts, oldSecret } = rotationFixture();
    const id = h.engine.start(h.version, { input: { accountId: 'acct_acme', dualKeyPeriod: '10d', checkEvery: '2d' } });
    const accepted: boolean[] = [];
    for (let day = 1; day <= 12; day++) {
      await runTo(h, T0 + day * DAY - 1);
      accepted.push(accounts.verifyKey(oldSecret).ok);
    }
    await h.engine.runUntilIdle();

    expect(h.instance(id).status).toBe('completed');
    // Accepted through the last millisecond before the sunset at day 10, refused after.
    expect(accepted).toEqual([true, true, true, true, true, true, true, true, true, true, false, false]);
    const route = h.route(id);
    expect(route.filter((step) => step === 'Remind clients on old key')).toHaveLength(3);
    expect(route.filter((step) => step.startsWith('Old key still in use?'))).toEqual([
      'Old key still in use? → Yes',
      'Old key still in use? → Yes',
      'Old key still in use? → Yes',
      'Old key still in use? → No',
    ]);
    expect(h.instance(id).snapshot.data['rotation']).toMatchObject({ notices: 4, revokedAt: T0 + 10 * DAY });
    expect(accounts.audit().filter((entry) => entry.action === 'api_key.reminder_sent').map((entry) => entry.at)).toEqual([2, 4, 6].map((d) => T0 + d * DAY));
    expect(listOutbox(h.db).map((email) => email.template)).toEqual(['accounts.api_key_rotation', ...Array(3).fill('accounts.api_key_reminder')]);
  });

  it('fails the rotation at "Verify audit trail" when a row of the audit log was altered', async () => {
    const { h, accounts } = rotationFixture();
    const id = h.engine.start(h.version, { input: { accountId: 'acct_acme', dualKeyPeriod: '1d', checkEvery: '1d' } });
    await runTo(h, T0 + DAY / 2);
    const deprecated = accounts.audit().find((entry) => entry.action === 'api_key.deprecated')!;
    h.db.prepare('UPDATE accounts_audit_log SET detail = ? WHERE seq = ?').run('{"sunsetAt":0}', deprecated.seq);
    await h.engine.runUntilIdle();

    const instance = h.instance(id);
    expect(instance.status).toBe('failed');
    expect(instance.snapshot.error).toMatchObject({ name: 'AuditChainError', message: `the audit log's hash chain breaks at row ${deprecated.seq}` });
    expect(h.route(id).at(-1)).toBe('Revoke old key');
  });
});
