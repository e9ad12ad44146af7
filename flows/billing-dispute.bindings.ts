// Handlers for billing-dispute.flow: a card network reports a chargeback, which has already
// debited the disputed amount and a fee. The desk reviews the transaction against the card's
// other payments, scores the fraud signals, gathers the evidence the dispute's reason calls for
// and decides: accept (likely a stolen card, weak evidence, or too small to fight) or contest.
// A contested dispute waits for the issuer's ruling; the issuer may ask for more evidence, which
// the desk answers up to the loop's "3 times" in all. A won dispute returns the amount (not the
// fee), and the merchant is told the outcome through the billing outbox.
import { defineBindings, type Duration } from '../src/runtime/define';
import type { Json } from '../src/runtime/types';
import type { Flow } from './billing-dispute.flow';

/** The signal the network's webhook sends: `{ outcome: 'won' | 'lost' | 'more_info', requested?: string[], note?: string }`. */
export const ISSUER_RULING = 'issuer.ruling';

type Ruling = { outcome: 'won' | 'lost' | 'more_info'; requested: string[] | null; note: string | null };

interface BillingDisputeData {
  disputeId: string;
  transactionId: string;
  reason: string;
  amount: number;
  currency: string;
  evidenceDueBy?: number;
  merchantEmail: string;
  /** How long the issuer has to pursue a dispute after a response; silence means the merchant won. */
  rulingWindow?: Duration;
  dispute?: { status: string; openedAt: number; evidenceDueBy: number };
  balanceEffect?: number;
  recommendation?: { action: 'contest' | 'accept'; reasons: string[] };
  submission?: { round: number; at: number; items: string[] };
  ruling?: Ruling;
  outcome?: { status: string; resolution: string; net: number; closedAt: number };
}

class RulingError extends Error {
  override name = 'RulingError';
}

/** The network's payload, checked: a malformed ruling fails the step rather than guessing. */
function rulingOf(payload: Json): Ruling {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new RulingError(`a ruling is an object, not ${JSON.stringify(payload)}`);
  const { outcome, requested, note } = payload;
  if (outcome !== 'won' && outcome !== 'lost' && outcome !== 'more_info') throw new RulingError(`a ruling's outcome is won, lost or more_info, not ${JSON.stringify(outcome)}`);
  const kinds = Array.isArray(requested) ? requested.filter((kind): kind is string => typeof kind === 'string') : [];
  if (outcome === 'more_info' && kinds.length === 0) throw new RulingError('a request for more information names the evidence it wants');
  return { outcome, requested: outcome === 'more_info' ? kinds : null, note: typeof note === 'string' ? note : null };
}

export default defineBindings<Flow, BillingDisputeData>({
  nodes: {
    'Log dispute intake': { handler: 'disputes.logIntake', retry: false },
    'Review transaction': 'disputes.reviewTransaction',
    'Analyse fraud signals': 'disputes.analyseFraud',
    'Assemble evidence': 'disputes.assembleEvidence',
    'Contest or accept?': ({ data }) => (data.recommendation!.action === 'contest' ? 'Contest' : 'Accept'),
    'Submit representment': 'disputes.submitRepresentment',
    'Await issuer ruling': {
      handler: async (ctx) => {
        const window = ctx.data.rulingWindow ?? '30d';
        const answer = await ctx.waitFor(ISSUER_RULING, { timeout: window });
        if (!answer.received) return { ruling: { outcome: 'won', requested: null, note: `the issuer did not pursue the dispute within ${window} of the response` } };
        const ruling = rulingOf(answer.payload);
        if (ruling.outcome === 'more_info' && (ctx.loop?.remaining ?? 0) === 0) {
          return { ruling: { ...ruling, note: `the issuer asked for ${ruling.requested!.join(', ')} after the last response round` } };
        }
        return { ruling };
      },
      retry: false,
    },
    'Issuer ruling?': ({ data, loop }) => {
      const { outcome } = data.ruling!;
      if (outcome === 'won') return 'Won';
      return outcome === 'more_info' && (loop?.remaining ?? 0) > 0 ? 'More info' : 'Lost';
    },
    'Add requested evidence': 'disputes.addRequestedEvidence',
    'Accept chargeback': 'disputes.acceptChargeback',
    'Recover disputed funds': 'disputes.recoverFunds',
    'Write off chargeback': 'disputes.writeOff',
    'Notify merchant of outcome': 'disputes.notifyMerchant',
  },
});
