import { InvalidTransitionError } from './errors';
import type { SubscriptionState } from './types';

/**
 * Every edge the subscription state machine has. The first four are the billing architecture
 * note's transition matrix; the `unpaid` edges are ours, for retries that ran out under the
 * `mark_unpaid` policy (hard declines, expired cards): access is suspended but the account is
 * kept, a payment brings it back, or it is canceled for good. `active → canceled` is ours too,
 * for a customer who closes the account. There is deliberately no edge out of `canceled` and
 * none back to `draft`.
 */
export const SUBSCRIPTION_TRANSITIONS: ReadonlyArray<{ from: SubscriptionState; to: SubscriptionState; when: string }> = [
  { from: 'draft', to: 'active', when: 'the initial charge succeeded' },
  { from: 'active', to: 'past_due', when: 'a renewal charge failed' },
  { from: 'past_due', to: 'active', when: 'a recovery payment succeeded' },
  { from: 'past_due', to: 'canceled', when: 'the retries ran out under the cancel policy' },
  { from: 'past_due', to: 'unpaid', when: 'the retries ran out under the mark_unpaid policy' },
  { from: 'unpaid', to: 'active', when: 'a payment with an updated method succeeded' },
  { from: 'unpaid', to: 'canceled', when: 'the unpaid subscription was given up' },
  { from: 'active', to: 'canceled', when: 'the customer closed the account' },
];

export function canTransition(from: SubscriptionState, to: SubscriptionState): boolean {
  return SUBSCRIPTION_TRANSITIONS.some((edge) => edge.from === from && edge.to === to);
}

export function assertTransition(subscriptionId: string, from: SubscriptionState, to: SubscriptionState): void {
  if (!canTransition(from, to)) throw new InvalidTransitionError(subscriptionId, from, to);
}
