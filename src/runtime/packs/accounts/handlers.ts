import type { PackFactory } from '../../builtins';
import { definePack, defineStep, type HandlerContext } from '../../define';
import type { JsonObject } from '../../types';
import type { OutboxEmail } from '../billing/index';
import { durationField, HandlerInputError, integerField, optionalInteger, optionalString, senderAddress, stringField } from '../handler-data';
import type { AccountService } from './account-service';
import { AuditChainError } from './errors';

/** What a sandbox account owns, for a deletion to erase. */
const SANDBOX_RECORDS = [
  { kind: 'project', name: 'sandbox project', bytes: 2_048 },
  { kind: 'file', name: 'sandbox-notes.txt', bytes: 512 },
  { kind: 'member', name: 'sandbox teammate' },
  { kind: 'session', name: 'sandbox session' },
];

/**
 * The `accounts.*` handlers, for API key rotation and account deletion flows. Each reads the
 * fields of the flow's data named in its comment and returns what it adds; every change is
 * written with its audit row under the handler's idempotency key, and the actor in the audit
 * log is `flow:<instance id>`.
 */
export const accountsPack: PackFactory = (environment) => {
  let loading: Promise<AccountService> | undefined;
  // Loaded on a handler's first run: checking a binding never opens the database or loads the mailer.
  const accounts = () =>
    (loading ??= import('./account-service').then(
      ({ AccountService }) => new AccountService({ db: environment.database(), clock: environment.clock, emailFrom: senderAddress('accounts') }),
    ));
  const step = (run: (service: AccountService, context: HandlerContext, actor: string) => JsonObject | Promise<JsonObject>) =>
    defineStep(async (context) => run(await accounts(), context, `flow:${context.instanceId}`));

  return definePack('accounts', {
    /**
     * `accountId`, optional `keyId` (else the account's oldest live key) → `rotation.{accountId, oldKeyId, oldKeyPrefix}`.
     * Without `accountId`, opens a sandbox account with one key to rotate and adds its `accountId`.
     */
    'accounts.selectRotationKey': step((service, { data, idempotencyKey }, actor) => {
      const given = optionalString(data, 'accountId');
      const accountId = given ?? service.openSandboxAccount(idempotencyKey, { apiKey: { actor } }).id;
      const keyId = optionalString(data, 'keyId');
      const candidates = service.keys(accountId).filter((key) => key.status === 'active' && (keyId === undefined || key.id === keyId));
      const key = candidates[0];
      if (key === undefined) throw new HandlerInputError(keyId === undefined ? `account ${accountId} has no active API key to rotate` : `API key ${keyId} of account ${accountId} is not active`);
      return { ...(given === undefined && { accountId }), rotation: { accountId, oldKeyId: key.id, oldKeyPrefix: key.prefix } };
    }),

    /** `rotation.{accountId, oldKeyId}` → `rotation.{newKeyId, newKeyPrefix}`; the secret waits to be revealed once. */
    'accounts.issueReplacementKey': step((service, { data, idempotencyKey }, actor) => {
      const { key } = service.issueKey(stringField(data, 'rotation.accountId'), actor, idempotencyKey, { holdForReveal: true, replaces: stringField(data, 'rotation.oldKeyId') });
      return { rotation: { newKeyId: key.id, newKeyPrefix: key.prefix } };
    }),

    /** `rotation.{oldKeyId, newKeyId}`, `dualKeyPeriod` (7d) → `rotation.sunsetAt`: both keys work until then. */
    'accounts.deprecateKey': step((service, context, actor) => {
      const { data, idempotencyKey } = context;
      const sunsetAt = context.now().getTime() + durationField(data, 'dualKeyPeriod', '7d');
      const key = service.deprecateKey(stringField(data, 'rotation.oldKeyId'), { sunsetAt, replacedBy: stringField(data, 'rotation.newKeyId'), actor }, idempotencyKey);
      return { rotation: { sunsetAt: key.validUntil } };
    }),

    /** `rotation.oldKeyId` → `rotation.{lastNoticeAt, notices}`, with the notice in the outbox. */
    'accounts.notifyKeyRotation': step((service, context, actor) => {
      const { data, idempotencyKey } = context;
      const email = service.notifyRotation(stringField(data, 'rotation.oldKeyId'), actor, idempotencyKey);
      context.emit('accounts.email', emailEffect(email));
      return { rotation: { lastNoticeAt: context.now().getTime(), notices: 1, lastEmailId: email.id } };
    }),

    /**
     * `rotation.{oldKeyId, lastNoticeAt, sunsetAt}`, `checkEvery` (2d): sleeps until the next check
     * (never past the sunset), then → `rotation.{checkedAt, oldKeyLastUsedAt, oldKeyInUse}`, in
     * use meaning called since the last notice.
     */
    'accounts.watchKeyTraffic': step(async (service, context) => {
      const { data } = context;
      const lastNoticeAt = integerField(data, 'rotation.lastNoticeAt');
      const sunsetAt = integerField(data, 'rotation.sunsetAt');
      await context.sleep(new Date(Math.min(lastNoticeAt + durationField(data, 'checkEvery', '2d'), sunsetAt)));
      const lastUsedAt = service.key(stringField(data, 'rotation.oldKeyId')).lastUsedAt;
      return { rotation: { checkedAt: context.now().getTime(), oldKeyLastUsedAt: lastUsedAt, oldKeyInUse: lastUsedAt !== null && lastUsedAt > lastNoticeAt } };
    }),

    /** `rotation.{oldKeyId, oldKeyLastUsedAt, notices}` → `rotation.{lastNoticeAt, notices}`, with the reminder in the outbox. */
    'accounts.remindKeyClients': step((service, context, actor) => {
      const { data, idempotencyKey } = context;
      const lastUsedAt = integerField(data, 'rotation.oldKeyLastUsedAt');
      const email = service.remindRotation(stringField(data, 'rotation.oldKeyId'), { lastUsedAt, actor }, idempotencyKey);
      context.emit('accounts.email', emailEffect(email));
      return { rotation: { lastNoticeAt: context.now().getTime(), notices: (optionalInteger(data, 'rotation.notices') ?? 0) + 1, lastEmailId: email.id } };
    }),

    /** `rotation.oldKeyId` → `rotation.revokedAt`. */
    'accounts.revokeKey': step((service, { data, idempotencyKey }, actor) => {
      const key = service.revokeKey(stringField(data, 'rotation.oldKeyId'), { reason: 'rotated', actor }, idempotencyKey);
      return { rotation: { revokedAt: key.revokedAt } };
    }),

    /**
     * Recomputes the audit log's hash chain (a broken chain fails the step) → `audit.{intact,
     * entries, head, trail}`, the trail being what this instance recorded, in order.
     */
    'accounts.verifyAuditTrail': step((service, { data }, actor) => {
      const verification = service.verifyAudit();
      if (!verification.intact) throw new AuditChainError(`the audit log's hash chain breaks at row ${verification.brokenAt}`);
      const accountId = optionalString(data, 'rotation.accountId') ?? stringField(data, 'accountId');
      const trail = service.audit({ accountId }).filter((entry) => entry.actor === actor);
      return { audit: { intact: true, entries: verification.entries, head: verification.head, trail: trail.map((entry) => `${entry.action} ${entry.subject}`) } };
    }),

    /**
     * `accountId`, `reason`, optional `comment` → `deletion.{id, reason, status, retainedRecently}`, `contact.{email, name}`.
     * Without `accountId`, opens a sandbox account with a few records to erase and adds its
     * `accountId` (and `reason` "other" unless given).
     */
    'accounts.recordDeletionRequest': step((service, { data, idempotencyKey }, actor) => {
      const sandbox =
        optionalString(data, 'accountId') === undefined
          ? { accountId: service.openSandboxAccount(idempotencyKey, { records: SANDBOX_RECORDS }).id, reason: optionalString(data, 'reason') ?? 'other' }
          : undefined;
      const { deletion, account, retainedRecently } = service.requestDeletion(
        sandbox?.accountId ?? stringField(data, 'accountId'),
        { reason: sandbox?.reason ?? stringField(data, 'reason'), comment: optionalString(data, 'comment') ?? null, actor },
        idempotencyKey,
      );
      return { ...sandbox, deletion: { id: deletion.id, reason: deletion.reason, status: deletion.status, retainedRecently }, contact: { email: account.email, name: account.name } };
    }),

    /** `deletion.id` → `deletion.status` (retained). */
    'accounts.withdrawDeletion': step((service, { data, idempotencyKey }, actor) => ({
      deletion: { status: service.withdrawDeletion(stringField(data, 'deletion.id'), actor, idempotencyKey).status },
    })),

    /** `deletion.id`, `gracePeriod` (14d) → `deletion.{status, graceUntil}`, `revokedKeys`. */
    'accounts.deactivateAccount': step((service, { data, idempotencyKey }, actor) => {
      const { deletion, revokedKeys } = service.deactivateAccount(stringField(data, 'deletion.id'), { graceMs: durationField(data, 'gracePeriod', '14d'), actor }, idempotencyKey);
      return { deletion: { status: deletion.status, graceUntil: deletion.graceUntil }, revokedKeys };
    }),

    /** `deletion.id` → `deletion.status` (undone). */
    'accounts.restoreAccount': step((service, { data, idempotencyKey }, actor) => ({
      deletion: { status: service.restoreAccount(stringField(data, 'deletion.id'), actor, idempotencyKey).status },
    })),

    /** `deletion.id`, `eraseBatchSize` (500) → `erasure.{erased, remaining, totalErased}`. */
    'accounts.eraseDataBatch': step((service, { data, idempotencyKey }) => ({
      erasure: { ...service.eraseBatch(stringField(data, 'deletion.id'), optionalInteger(data, 'eraseBatchSize') ?? 500, idempotencyKey) },
    })),

    /** `deletion.id` → `deletion.{status, completedAt}`: the account row is anonymized. */
    'accounts.completeDeletion': step((service, { data, idempotencyKey }, actor) => {
      const deletion = service.completeDeletion(stringField(data, 'deletion.id'), actor, idempotencyKey);
      return { deletion: { status: deletion.status, completedAt: deletion.completedAt } };
    }),

    /** `deletion.id`, `contact.{email, name}` → `confirmationEmail`; removes `contact` from the data, the last copy of the address. */
    'accounts.sendDeletionConfirmation': step((service, context) => {
      const { data, idempotencyKey } = context;
      const email = service.confirmDeletion(
        stringField(data, 'deletion.id'),
        { email: stringField(data, 'contact.email'), name: optionalString(data, 'contact.name') ?? null },
        idempotencyKey,
      );
      // Without the address: the effect outlives the deletion, and the address must not.
      context.emit('accounts.email', emailEffect(email, { withRecipient: false }));
      return { confirmationEmail: { id: email.id, template: email.template }, contact: null };
    }),
  });
};

/** An email the pack queued in the billing outbox, among the instance's effects (`laneflow run` lists them). */
function emailEffect(email: OutboxEmail, options: { withRecipient: boolean } = { withRecipient: true }): JsonObject {
  const status = email.status === 'pending' ? 'queued in the outbox' : email.status;
  return options.withRecipient ? { template: email.template, to: email.to, subject: email.subject, status } : { template: email.template, subject: email.subject, status };
}
