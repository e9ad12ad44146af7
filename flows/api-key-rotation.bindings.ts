// Handlers for api-key-rotation.flow: an account's API key is replaced without breaking its
// clients. A new random key is issued (the database keeps only its SHA-256 hash; the secret waits
// in the dashboard to be shown once), the old key is deprecated with a sunset, so both keys work
// during the dual-key period, and the account is emailed. Until the sunset the flow watches the
// old key's traffic and reminds the account while clients still use it (the loop's "up to 3
// times"), then revokes the old key at the deadline on a durable timer. Every change writes a row
// of the hash-chained audit log in its own transaction; the last step verifies the chain.
import { defineBindings } from '../src/runtime/define';
import type { Flow } from './api-key-rotation.flow';

interface KeyRotationData {
  accountId: string;
  /** The key to rotate; the account's oldest active key when absent. */
  keyId?: string;
  /** How long both keys work, and how often the old key's traffic is checked. */
  dualKeyPeriod?: string;
  checkEvery?: string;
  rotation?: {
    accountId: string;
    oldKeyId: string;
    oldKeyPrefix: string;
    newKeyId?: string;
    newKeyPrefix?: string;
    sunsetAt?: number;
    lastNoticeAt?: number;
    notices?: number;
    checkedAt?: number;
    oldKeyLastUsedAt?: number | null;
    oldKeyInUse?: boolean;
    revokedAt?: number;
  };
  audit?: { intact: boolean; entries: number; head: string; trail: string[] };
}

export default defineBindings<Flow, KeyRotationData>({
  nodes: {
    'Choose key to rotate': { handler: 'accounts.selectRotationKey', retry: false },
    'Generate new key': 'accounts.issueReplacementKey',
    'Deprecate old key': 'accounts.deprecateKey',
    'Notify clients of new key': 'accounts.notifyKeyRotation',
    'Watch old key traffic': 'accounts.watchKeyTraffic',
    // Remind only while a reminder can still help: the old key was called since the last email,
    // the loop allows another round, and the sunset has not come.
    'Old key still in use?': ({ data, loop }) => {
      const rotation = data.rotation!;
      const stillUsed = rotation.oldKeyInUse === true && rotation.checkedAt! < rotation.sunsetAt!;
      return stillUsed && (loop?.remaining ?? 0) > 0 ? 'Yes' : 'No';
    },
    'Remind clients on old key': 'accounts.remindKeyClients',
    'Wait for dual-key deadline': async (ctx) => {
      await ctx.sleep(new Date(ctx.data.rotation!.sunsetAt!));
    },
    'Revoke old key': 'accounts.revokeKey',
    'Verify audit trail': { handler: 'accounts.verifyAuditTrail', retry: false },
  },
});
