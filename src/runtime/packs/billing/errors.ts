import type { SubscriptionState } from './types';

/**
 * Errors the billing services throw. Declines, expired links and retries that are not due are
 * not errors: they come back as values. These are misuse (a bad amount, a reused key, a
 * transition the state machine forbids) that a flow's retry policy can match by `name`.
 */
export class BillingError extends Error {
  override name = 'BillingError';
}

/** An amount that is not a safe integer of minor units, or a negative one where that makes no sense. */
export class MoneyError extends BillingError {
  override name = 'MoneyError';
}

/** The state machine has no edge from `from` to `to`. */
export class InvalidTransitionError extends BillingError {
  override name = 'InvalidTransitionError';
  constructor(
    readonly subscriptionId: string,
    readonly from: SubscriptionState,
    readonly to: SubscriptionState,
  ) {
    super(`Subscription ${subscriptionId} cannot go from ${from} to ${to}.`);
  }
}

/** An idempotency key reused for a different request, as real gateways refuse it. */
export class IdempotencyConflictError extends BillingError {
  override name = 'IdempotencyConflictError';
  constructor(
    readonly idempotencyKey: string,
    what: string,
  ) {
    super(`Idempotency key ${JSON.stringify(idempotencyKey)} was already used for a different ${what}.`);
  }
}

export class NotFoundError extends BillingError {
  override name = 'NotFoundError';
  constructor(kind: string, id: string) {
    super(`No ${kind} ${JSON.stringify(id)}.`);
  }
}

/** A request the gateway refuses before charging (unknown token, card of another customer…). */
export class GatewayRequestError extends BillingError {
  override name = 'GatewayRequestError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A service called when the subscription is not in a state that allows it (renewing a draft…). */
export class BillingStateError extends BillingError {
  override name = 'BillingStateError';
}

/** Another attempt to pay the same invoice is under way (its key is named); retry later or resume it with that key. */
export class PaymentInProgressError extends BillingError {
  override name = 'PaymentInProgressError';
  constructor(
    readonly invoiceId: string,
    readonly pendingKey: string,
  ) {
    super(`Invoice ${invoiceId} already has a payment attempt under way (key ${JSON.stringify(pendingKey)}).`);
  }
}

/** A dunning schedule, decline classification or entitlement policy that does not make sense. */
export class BillingConfigError extends BillingError {
  override name = 'BillingConfigError';
}
