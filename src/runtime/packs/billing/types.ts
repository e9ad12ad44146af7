/**
 * The billing pack's data. Everything a service returns is plain JSON (numbers, strings, null),
 * so a flow handler can put it straight into its data patch. Timestamps are UTC milliseconds
 * since the Unix epoch; money is an integer count of the currency's minor unit (cents for usd,
 * yen for jpy) and never a float.
 */

declare const minorUnitsBrand: unique symbol;

/**
 * An integer amount in the currency's minor unit. The brand makes a plain `number` unassignable,
 * so every amount has passed `minorUnits()` (which rejects 12.5, NaN and unsafe integers) on its
 * way in; at run time it is an ordinary number and serializes as one.
 */
export type MinorUnits = number & { readonly [minorUnitsBrand]: true };

/** A lowercase ISO 4217 code, as payment gateways spell it: `usd`, `eur`, `jpy`. */
export type CurrencyCode = string;

/** The engine's clock satisfies this: tests pass a virtual clock, production the wall clock. */
export interface BillingClock {
  now(): number;
}

// ---------------------------------------------------------------------------------------------
// Payment gateway

/** A card stored at the gateway for one customer. */
export interface PaymentMethod {
  id: string;
  customerId: string;
  brand: string;
  last4: string;
  createdAt: number;
}

export interface AttachPaymentMethodRequest {
  customerId: string;
  /** The token the gateway's hosted card form produced; in the sandbox a test token such as `pm_card_visa`. */
  token: string;
}

export interface ChargeRequest {
  customerId: string;
  paymentMethodId: string;
  amount: MinorUnits;
  currency: CurrencyCode;
  description?: string;
}

export type ChargeStatus = 'succeeded' | 'failed';

/** A charge as the gateway recorded it. A decline is a result, not an error: it has a charge id too. */
export interface ChargeResult {
  id: string;
  status: ChargeStatus;
  customerId: string;
  paymentMethodId: string;
  amount: MinorUnits;
  currency: CurrencyCode;
  /** The issuer's reason for a failed charge (`insufficient_funds`, `stolen_card` …); null when it succeeded. */
  declineCode: string | null;
  message: string | null;
  createdAt: number;
  /** True when the idempotency key had been seen and the original result was returned. */
  replayed: boolean;
}

/**
 * What laneflow needs from a payment gateway. Every call that changes something takes an
 * idempotency key: the same key with the same request returns the first result without a
 * second effect; the same key with a different request is an `IdempotencyConflictError`.
 */
export interface PaymentGateway {
  attachPaymentMethod(request: AttachPaymentMethodRequest, idempotencyKey: string): Promise<PaymentMethod>;
  charge(request: ChargeRequest, idempotencyKey: string): Promise<ChargeResult>;
}

// ---------------------------------------------------------------------------------------------
// Declines and dunning

/** How a decline is treated: retried on a schedule, never retried, or retried while asking for a new card. */
export type DeclineClass = 'soft_decline' | 'hard_decline' | 'expired_method';

/** Which issuer decline codes fall in which class; codes in no list get `unknown`. */
export interface DeclineClassification {
  soft_decline: readonly string[];
  hard_decline: readonly string[];
  expired_method: readonly string[];
  unknown: DeclineClass;
}

/** What happens to the subscription when a class's retries run out. */
export type ExhaustedPolicy = 'cancel' | 'mark_unpaid';

/**
 * One class's retry schedule, spelled as in the billing architecture note (snake_case keys,
 * durations such as `24h`). `intervals[i]` is when retry i+1 runs, measured from the first
 * failed charge of the invoice; `max_attempts` counts retries after that first failure, so
 * `max_attempts: 0` means never retried.
 */
export interface DunningClassSchedule {
  intervals: readonly string[];
  max_attempts: number;
  /** The note's `request_update_via_portal`: every dunning email of the class carries the update link, whatever its template. */
  fallback?: 'request_update_via_portal';
  /** laneflow's addition to the note's format: where the subscription goes when retries run out. */
  on_exhausted: ExhaustedPolicy;
}

export type DunningSchedule = Record<DeclineClass, DunningClassSchedule>;

/** The schedule's answer after a failure: when to retry, or that the retries are used up. */
export type DunningStep =
  | { kind: 'retry'; retry: number; at: number }
  | { kind: 'exhausted'; onExhausted: ExhaustedPolicy; fallback: 'request_update_via_portal' | null };

export type DunningCaseStatus = 'open' | 'recovered' | 'exhausted';

/** The recovery of one unpaid invoice. */
export interface DunningCase {
  invoiceId: string;
  subscriptionId: string;
  status: DunningCaseStatus;
  declineClass: DeclineClass;
  declineCode: string;
  /** Failed charges so far, the first (renewal) one included. */
  failures: number;
  firstFailedAt: number;
  lastAttemptAt: number;
  /** When the schedule's next retry is due; null once recovered or exhausted. */
  nextRetryAt: number | null;
  /** The payment method the last attempt charged: a different default means the customer updated it. */
  lastPaymentMethodId: string | null;
}

// ---------------------------------------------------------------------------------------------
// Customers, subscriptions, invoices

export interface Customer {
  id: string;
  email: string;
  name: string;
  defaultPaymentMethodId: string | null;
  createdAt: number;
}

/**
 * The billing architecture note's states plus `unpaid`: a subscription whose retries ran out
 * under the `mark_unpaid` policy. It keeps the customer's data and can be paid back to active
 * (a new card through the update link), or canceled.
 */
export type SubscriptionState = 'draft' | 'active' | 'past_due' | 'unpaid' | 'canceled';

export type BillingIntervalUnit = 'day' | 'month' | 'year';

export interface BillingInterval {
  unit: BillingIntervalUnit;
  count: number;
}

export interface Subscription {
  id: string;
  customerId: string;
  state: SubscriptionState;
  planId: string;
  /** The price of one period. */
  price: MinorUnits;
  currency: CurrencyCode;
  interval: BillingInterval;
  /** The first period's start; null until the subscription is activated. */
  anchorAt: number | null;
  /** 0 for the first period. */
  periodIndex: number;
  periodStart: number | null;
  periodEnd: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface TransitionRecord {
  subscriptionId: string;
  from: SubscriptionState;
  to: SubscriptionState;
  reason: string;
  at: number;
  idempotencyKey: string;
}

export interface TransitionResult extends TransitionRecord {
  /** True when this key had already made the transition and nothing changed now. */
  replayed: boolean;
}

export type InvoiceStatus = 'open' | 'paid' | 'void' | 'uncollectible';

export interface Invoice {
  id: string;
  subscriptionId: string;
  customerId: string;
  periodIndex: number;
  periodStart: number;
  periodEnd: number;
  /** The plan price for the period. */
  subtotal: MinorUnits;
  /** Taken from the customer's credit balance when the invoice was created. */
  creditApplied: MinorUnits;
  /** What is left to charge: subtotal − creditApplied. */
  amountDue: MinorUnits;
  currency: CurrencyCode;
  status: InvoiceStatus;
  createdAt: number;
  paidAt: number | null;
}

// ---------------------------------------------------------------------------------------------
// Outcomes of the services a flow handler calls

/** An invoice was settled: by a charge, or wholly by credit (then `chargeId` is null). */
export interface PaidOutcome {
  kind: 'paid';
  subscriptionId: string;
  invoiceId: string;
  chargeId: string | null;
  amountCharged: MinorUnits;
  creditApplied: MinorUnits;
  state: SubscriptionState;
  /** The outbox email this payment caused (the recovery notice), if any. */
  emailTemplate: string | null;
}

export interface DeclinedOutcome {
  kind: 'declined';
  subscriptionId: string;
  invoiceId: string;
  chargeId: string | null;
  declineCode: string;
  declineClass: DeclineClass;
  failures: number;
  /** When the schedule retries next; null when it will not (hard decline, exhausted, initial charge). */
  nextRetryAt: number | null;
  state: SubscriptionState;
  emailTemplate: string | null;
}

/** A retry was asked for before the schedule's time and without a new payment method: nothing charged. */
export interface NotDueOutcome {
  kind: 'not_due';
  subscriptionId: string;
  nextRetryAt: number;
}

/** A retry was asked for after the schedule ran out and without a new payment method: nothing charged. */
export interface ExhaustedOutcome {
  kind: 'exhausted';
  subscriptionId: string;
  state: SubscriptionState;
}

export type PaymentOutcome = PaidOutcome | DeclinedOutcome | NotDueOutcome | ExhaustedOutcome;

/** What a payment-method-update link says, once its signature and expiry have been checked. */
export interface UpdateLinkClaims {
  customerId: string;
  subscriptionId: string;
  issuedAt: number;
  expiresAt: number;
}

export type UpdateLinkRejection = 'malformed' | 'bad_signature' | 'expired' | 'wrong_customer' | 'wrong_subscription';

export type UpdateLinkVerification = { ok: true; claims: UpdateLinkClaims } | { ok: false; reason: UpdateLinkRejection };

export type PaymentMethodUpdateOutcome =
  | { ok: true; customerId: string; subscriptionId: string; paymentMethodId: string; last4: string }
  | { ok: false; reason: UpdateLinkRejection };

// ---------------------------------------------------------------------------------------------
// Proration and plan changes

/**
 * A mid-period plan change priced by the remaining time. The fraction of the period left is
 * counted in whole seconds; each amount is rounded half-to-even to the minor unit, independently,
 * so that changing to a plan and straight back nets exactly zero.
 */
export interface Proration {
  periodSeconds: number;
  remainingSeconds: number;
  /** The unused part of the current plan, credited back. */
  unusedCredit: MinorUnits;
  /** The remaining part of the new plan, charged. */
  remainingCharge: MinorUnits;
  /** remainingCharge − unusedCredit: positive for an upgrade, negative for a downgrade. Signed minor units. */
  net: number;
}

export type PlanChangeStatus = 'quoted' | 'applied' | 'declined';

export interface PlanChangeOutcome {
  subscriptionId: string;
  status: PlanChangeStatus;
  fromPlanId: string;
  toPlanId: string;
  proration: Proration;
  /** Credit balance spent on an upgrade before charging. */
  creditApplied: MinorUnits;
  /** Credit added to the balance by a downgrade. */
  creditAdded: MinorUnits;
  /** The gateway charge for an upgrade's remainder. */
  amountCharged: MinorUnits;
  chargeId: string | null;
  declineCode: string | null;
  changeAt: number;
}

// ---------------------------------------------------------------------------------------------
// Entitlements

/**
 * Graduated access instead of a delinquent flag: `restricted` turns premium features off and
 * keeps core access; `suspended` turns access off but keeps the account payable; `none` is a
 * subscription that was never paid or is canceled.
 */
export type EntitlementLevel = 'full' | 'restricted' | 'suspended' | 'none';

export interface EntitlementThresholds {
  /** How long past due before premium features are turned off (`72h`). */
  restrict_after: string;
  /** How long past due before access is suspended. */
  suspend_after: string;
}

export type EntitlementPolicy = Record<DeclineClass, EntitlementThresholds>;

export interface Entitlement {
  subscriptionId: string;
  customerId: string;
  level: EntitlementLevel;
  features: { core: boolean; premium: boolean };
  reason: string;
  /** When this level began (by the policy's clock arithmetic, not when it was noticed). */
  since: number;
  /** When the level changes next if nothing else happens; a flow can sleep until then. */
  nextChangeAt: number | null;
}

export interface EntitlementChange {
  id: number;
  subscriptionId: string;
  customerId: string;
  from: EntitlementLevel | null;
  to: EntitlementLevel;
  reason: string;
  at: number;
}

export interface EntitlementRefresh {
  entitlement: Entitlement;
  /** The change this refresh recorded; null when the level was already current. */
  change: EntitlementChange | null;
}

// ---------------------------------------------------------------------------------------------
// Email

export interface OutgoingEmail {
  from: string;
  to: string;
  subject: string;
  text: string;
  /** Stable per outbox row, so a receiver can drop the copy a crash mid-send may cause. */
  messageId: string;
}

/** Where outbox rows go; `createSmtpMailer` is the nodemailer-backed one. */
export interface Mailer {
  send(email: OutgoingEmail): Promise<{ messageId: string }>;
}

export type OutboxStatus = 'pending' | 'sending' | 'sent' | 'failed';

export interface OutboxEmail {
  id: number;
  idempotencyKey: string;
  template: string;
  to: string;
  from: string;
  subject: string;
  text: string;
  status: OutboxStatus;
  attempts: number;
  lastError: string | null;
  createdAt: number;
  sentAt: number | null;
  messageId: string;
}

export interface DispatchReport {
  sent: number;
  /** Send errors this round; those rows are pending again (or failed after the last attempt). */
  errors: number;
}
