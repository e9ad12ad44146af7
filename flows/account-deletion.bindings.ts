// Handlers for account-deletion.flow: a customer asks to delete the account and says why. For
// some reasons a retention offer comes first (once a year at most), paid as billing credit if
// the customer takes it. Otherwise the subscription ends at once, the account is deactivated
// (every API key revoked) and held for a grace period in which the customer can undo, and then
// its data is erased in batches (the loop's "up to 50"), the account row is anonymized and a
// confirmation goes to the address captured with the request, through the billing outbox.
import { defineBindings, type Duration } from '../src/runtime/define';
import type { Flow } from './account-deletion.flow';

/** The signal the offer page sends with `{ accepted: boolean }`. */
export const RETENTION_RESPONSE = 'retention.response';
/** The signal the "undo deletion" link sends during the grace period. */
export const UNDO_DELETION = 'deletion.undo';

/** What each reason earns: the offers answer the reason, and a customer leaving for privacy or a missing feature is not bargained with. */
const OFFERS: Partial<Record<string, { percentOff: number; months: number }>> = {
  too_expensive: { percentOff: 50, months: 3 },
  not_using: { percentOff: 100, months: 1 },
  switching_provider: { percentOff: 30, months: 6 },
};

interface AccountDeletionData {
  accountId: string;
  reason: string;
  comment?: string;
  /** The subscription to end; an account without one skips the offer and the termination. */
  subscriptionId?: string;
  /** How long the customer has to answer the offer, and to undo the deletion. */
  offerTimeout?: Duration;
  gracePeriod?: Duration;
  eraseBatchSize?: number;
  deletion?: { id: string; reason: string; status: string; retainedRecently: number; graceUntil?: number; completedAt?: number };
  contact?: { email: string; name: string | null };
  retentionOffer?: { percentOff: number; months: number };
  offerResponse?: 'accepted' | 'declined' | 'no answer';
  retentionCredit?: { amount: number; currency: string; balance: number };
  subscriptionEnded?: { state: string; at: number } | null;
  revokedKeys?: number;
  undoRequested?: boolean;
  erasure?: { erased: number; remaining: number; totalErased: number };
  confirmationEmail?: { id: number; template: string };
}

export default defineBindings<Flow, AccountDeletionData>({
  nodes: {
    'Give cancellation reason': { handler: 'accounts.recordDeletionRequest', retry: false },
    'Offer retention?': ({ data }) => {
      const eligible = OFFERS[data.deletion!.reason] !== undefined && data.deletion!.retainedRecently === 0 && data.subscriptionId !== undefined;
      return eligible ? 'Yes' : 'No';
    },
    'Prepare retention offer': ({ data }) => ({ retentionOffer: OFFERS[data.deletion!.reason]! }),
    'Consider retention offer': async (ctx) => {
      const answer = await ctx.waitFor(RETENTION_RESPONSE, { timeout: ctx.data.offerTimeout ?? '7d' });
      if (!answer.received) return { offerResponse: 'no answer' as const };
      const accepted = typeof answer.payload === 'object' && answer.payload !== null && !Array.isArray(answer.payload) && answer.payload['accepted'] === true;
      return { offerResponse: accepted ? ('accepted' as const) : ('declined' as const) };
    },
    'Offer accepted?': ({ data }) => (data.offerResponse === 'accepted' ? 'Yes' : 'No'),
    'Apply retention credit': 'plans.grantRetentionCredit',
    'Withdraw deletion request': 'accounts.withdrawDeletion',
    'Terminate subscription': 'plans.terminateSubscription',
    'Deactivate account': 'accounts.deactivateAccount',
    'Hold for grace period': async (ctx) => {
      const remaining = Math.max(0, ctx.data.deletion!.graceUntil! - ctx.now().getTime());
      const undo = await ctx.waitFor(UNDO_DELETION, { timeout: remaining });
      return { undoRequested: undo.received };
    },
    'Undo requested?': ({ data }) => (data.undoRequested === true ? 'Yes' : 'No'),
    'Restore account': 'accounts.restoreAccount',
    'Erase a batch of data': 'accounts.eraseDataBatch',
    'Data left?': ({ data }) => (data.erasure!.remaining > 0 ? 'Yes' : 'No'),
    'Anonymize account record': 'accounts.completeDeletion',
    'Send confirmation email': 'accounts.sendDeletionConfirmation',
  },
});
