import { BillingConfigError } from './errors';
import type { DeclineClass, DeclineClassification } from './types';

/**
 * The decline codes of the issuers (as Stripe reports them) sorted by what a retry can do.
 * Soft: the same card may work later (funds arrive, the issuer comes back). Hard: the card is
 * dead or the issuer says never (stolen, lost, fraud, do not honor); retrying only raises the
 * merchant's decline rate. Expired method: the card on file needs replacing, so the customer is
 * asked to update it while the schedule retries. A code in no list is treated as `unknown`,
 * soft by default: wrongly calling a card dead loses a customer, wrongly retrying costs a retry.
 */
export const DEFAULT_DECLINE_CLASSIFICATION: DeclineClassification = {
  soft_decline: [
    'insufficient_funds',
    'processing_error',
    'try_again_later',
    'issuer_not_available',
    'reenter_transaction',
    'approve_with_id',
    'call_issuer',
    'card_velocity_exceeded',
    'withdrawal_count_limit_exceeded',
    'generic_decline',
    'no_action_taken',
  ],
  hard_decline: [
    'stolen_card',
    'lost_card',
    'fraudulent',
    'do_not_honor',
    'pickup_card',
    'restricted_card',
    'security_violation',
    'merchant_blacklist',
    'revocation_of_all_authorizations',
    'revocation_of_authorization',
    'stop_payment_order',
    'invalid_account',
    'card_not_supported',
    'currency_not_supported',
    'transaction_not_allowed',
    'not_permitted',
    'service_not_allowed',
  ],
  expired_method: [
    'expired_card',
    'incorrect_number',
    'incorrect_cvc',
    'invalid_expiry_month',
    'invalid_expiry_year',
    'new_account_information_available',
    'no_payment_method',
  ],
  unknown: 'soft_decline',
};

const CLASSES: readonly DeclineClass[] = ['soft_decline', 'hard_decline', 'expired_method'];

/** The class of a decline code under `classification`. */
export function classifyDecline(declineCode: string, classification: DeclineClassification = DEFAULT_DECLINE_CLASSIFICATION): DeclineClass {
  for (const declineClass of CLASSES) {
    if (classification[declineClass].includes(declineCode)) return declineClass;
  }
  return classification.unknown;
}

/** Refuses a classification that puts one code in two classes: which schedule applies would depend on list order. */
export function checkDeclineClassification(classification: DeclineClassification): DeclineClassification {
  const seen = new Map<string, DeclineClass>();
  for (const declineClass of CLASSES) {
    for (const code of classification[declineClass]) {
      const earlier = seen.get(code);
      if (earlier !== undefined) throw new BillingConfigError(`Decline code ${code} is in both ${earlier} and ${declineClass}.`);
      seen.set(code, declineClass);
    }
  }
  if (!CLASSES.includes(classification.unknown)) throw new BillingConfigError(`unknown must name a decline class; got ${String(classification.unknown)}.`);
  return classification;
}
