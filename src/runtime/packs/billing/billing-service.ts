import { creditBalance, postCredit } from './credits';
import { checkDeclineClassification, classifyDecline, DEFAULT_DECLINE_CLASSIFICATION } from './declines';
import { DEFAULT_DUNNING_EMAILS, type DunningEmailEvent, type DunningEmailSequence, dunningTemplateFor } from './dunning-emails';
import { checkDunningSchedule, DEFAULT_DUNNING_SCHEDULE, nextDunningStep } from './dunning-schedule';
import {
  checkEntitlementPolicy,
  computeEntitlement,
  DEFAULT_ENTITLEMENT_POLICY,
  entitlementsForCustomer,
  listEntitlementChanges,
  storeEntitlement,
} from './entitlements';
import { BillingStateError, GatewayRequestError, IdempotencyConflictError, PaymentInProgressError } from './errors';
import { checkIdempotencyKey, derivedKey, fingerprint, stableId } from './idempotency';
import {
  getInvoice,
  insertInvoice,
  latestDunningCase,
  listInvoices,
  openDunningCase,
  setInvoiceStatus,
  setPendingAttempt,
  updateDunningCase,
} from './invoices';
import { currencyCode, formatMinorUnits, minorUnits, positiveMinorUnits } from './money';
import { type DispatchOptions, dispatchEmails, enqueueEmail, listOutbox } from './outbox';
import { periodBounds } from './periods';
import { prorate, settle } from './proration';
import { ensureBillingSchema } from './schema';
import { type Database, immediately } from './sqlite';
import {
  createCustomer,
  createSubscription,
  getCustomer,
  getSubscription,
  listTransitions,
  type NewCustomer,
  type NewSubscription,
  setDefaultPaymentMethod,
  setSubscriptionPeriod,
  setSubscriptionPlan,
  transitionSubscription,
} from './subscriptions';
import type {
  BillingClock,
  ChargeResult,
  Customer,
  DeclineClassification,
  DeclinedOutcome,
  DispatchReport,
  DunningCase,
  DunningSchedule,
  Entitlement,
  EntitlementChange,
  EntitlementPolicy,
  EntitlementRefresh,
  Invoice,
  Mailer,
  MinorUnits,
  OutboxEmail,
  OutboxStatus,
  PaidOutcome,
  PaymentGateway,
  PaymentMethod,
  PaymentMethodUpdateOutcome,
  PaymentOutcome,
  PlanChangeOutcome,
  PlanChangeStatus,
  Proration,
  Subscription,
  SubscriptionState,
  TransitionRecord,
  TransitionResult,
} from './types';
import { createUpdateLink, updateLinkToken, verifyUpdateLinkToken } from './update-link';

export interface BillingServiceOptions {
  /** The engine's database handle; the billing tables are created in it. */
  db: Database;
  gateway: PaymentGateway;
  clock: BillingClock;
  /** The sender address of dunning emails. */
  emailFrom: string;
  updateLinks: {
    /** HMAC key, at least 32 bytes. */
    secret: string | Buffer;
    /** The payment-method-update page; the token goes in its `token` parameter. */
    baseUrl: string;
    /** How long a link in an email stays valid; 7 days by default. */
    ttlMs?: number;
  };
  schedule?: DunningSchedule;
  declineClassification?: DeclineClassification;
  entitlementPolicy?: EntitlementPolicy;
  emails?: DunningEmailSequence;
}

export interface PlanChange {
  planId: string;
  price: number;
}

type Operation = 'activate' | 'renew' | 'retry';

/** What the first transaction of a payment attempt fixed: replays charge exactly this. */
interface PreparedCharge {
  invoiceId: string;
  paymentMethodId: string | null;
  amount: MinorUnits;
  currency: string;
}

interface AttemptRow {
  operation: Operation;
  subscription_id: string;
  invoice_id: string | null;
  payment_method_id: string | null;
  amount: number;
  currency: string;
  status: 'pending' | 'completed';
  outcome: string | null;
}

interface PlanChangeRow {
  request_hash: string;
  subscription_id: string;
  status: PlanChangeStatus;
  from_plan_id: string;
  to_plan_id: string;
  to_price: number;
  change_at: number;
  proration: string;
  credit_applied: number;
  credit_added: number;
  amount_to_charge: number;
  charge_id: string | null;
  decline_code: string | null;
}

/** What a dunning email is about. */
interface EmailSubject {
  subscriptionId: string;
  invoice: Invoice;
  declineCode: string | null;
  failures: number;
  nextRetryAt: number | null;
}

/** The charge outcome a payment attempt acts on: the gateway's, or a decline made up when no card is on file. */
type AttemptCharge = { status: 'succeeded'; chargeId: string | null } | { status: 'failed'; chargeId: string | null; declineCode: string };

const DEFAULT_LINK_TTL_MS = 7 * 86_400_000;

/**
 * The billing services a payment-recovery or plan-change flow calls. Every method that has an
 * effect takes the handler's idempotency key (`instanceId:nodeId:visit`): run it again with the
 * same key, after a crash or a retry, and it returns the first result without charging,
 * emailing or transitioning again.
 *
 * A payment attempt runs in three steps, because the gateway is outside the database:
 * (1) a transaction fixes what to charge under the key (invoice, card, amount) and marks the
 * invoice as having a payment under way; (2) the gateway is charged with a key derived from
 * it, so a repeat is replayed by the gateway; (3) a transaction records the result with
 * everything it causes (invoice status, subscription transition, dunning case, outbox email,
 * entitlement) and stores the outcome under the key. A crash between any two steps resumes at
 * the first unfinished one when the handler runs again; a completed attempt is answered from
 * the database without calling the gateway, whose own keys expire (Stripe's after 24 hours).
 */
export class BillingService {
  private readonly db: Database;
  private readonly gateway: PaymentGateway;
  private readonly clock: BillingClock;
  private readonly schedule: DunningSchedule;
  private readonly classification: DeclineClassification;
  private readonly entitlementPolicy: EntitlementPolicy;
  private readonly emails: DunningEmailSequence;
  private readonly options: BillingServiceOptions;

  constructor(options: BillingServiceOptions) {
    this.options = options;
    this.db = options.db;
    this.gateway = options.gateway;
    this.clock = options.clock;
    this.schedule = checkDunningSchedule(options.schedule ?? DEFAULT_DUNNING_SCHEDULE);
    this.classification = checkDeclineClassification(options.declineClassification ?? DEFAULT_DECLINE_CLASSIFICATION);
    this.entitlementPolicy = checkEntitlementPolicy(options.entitlementPolicy ?? DEFAULT_ENTITLEMENT_POLICY);
    this.emails = options.emails ?? DEFAULT_DUNNING_EMAILS;
    ensureBillingSchema(this.db);
  }

  // -------------------------------------------------------------------------------------------
  // Customers and payment methods

  createCustomer(input: NewCustomer, idempotencyKey: string): Customer {
    return createCustomer(this.db, input, idempotencyKey, this.clock.now());
  }

  /** Attaches a card (a gateway token) to the customer and makes it the default. */
  async attachPaymentMethod(customerId: string, token: string, idempotencyKey: string): Promise<PaymentMethod> {
    checkIdempotencyKey(idempotencyKey);
    getCustomer(this.db, customerId);
    const method = await this.gateway.attachPaymentMethod({ customerId, token }, derivedKey(idempotencyKey, 'attach'));
    this.recordPaymentMethodChange(method, null, 'api', idempotencyKey);
    return method;
  }

  /**
   * The customer's side of the update link: checks the link, attaches the new card at the
   * gateway and makes it the default. A rejected link changes nothing and says why. After an
   * `ok`, the flow should retry the payment at once (`retryPayment`): a changed card makes the
   * retry due whatever the schedule says, also after the schedule ran out.
   */
  async updatePaymentMethodWithLink(linkOrToken: string, paymentMethodToken: string, idempotencyKey: string): Promise<PaymentMethodUpdateOutcome> {
    checkIdempotencyKey(idempotencyKey);
    const done = this.db
      .prepare<[string], { customer_id: string; subscription_id: string | null; payment_method_id: string; last4: string }>(
        'SELECT customer_id, subscription_id, payment_method_id, last4 FROM billing_payment_method_changes WHERE idempotency_key = ?',
      )
      .get(idempotencyKey);
    if (done !== undefined) {
      if (done.subscription_id === null) throw new IdempotencyConflictError(idempotencyKey, 'payment method change');
      return { ok: true, customerId: done.customer_id, subscriptionId: done.subscription_id, paymentMethodId: done.payment_method_id, last4: done.last4 };
    }
    const verified = verifyUpdateLinkToken(updateLinkToken(linkOrToken), this.options.updateLinks.secret, this.clock.now());
    if (!verified.ok) return verified;
    const { customerId, subscriptionId } = verified.claims;
    if (getSubscription(this.db, subscriptionId).customerId !== customerId) return { ok: false, reason: 'wrong_customer' };
    const method = await this.gateway.attachPaymentMethod({ customerId, token: paymentMethodToken }, derivedKey(idempotencyKey, 'attach'));
    this.recordPaymentMethodChange(method, subscriptionId, 'update_link', idempotencyKey);
    return { ok: true, customerId, subscriptionId, paymentMethodId: method.id, last4: method.last4 };
  }

  /** A signed link for the customer to replace the card behind `subscriptionId`, valid for the configured time. */
  paymentMethodUpdateLink(subscriptionId: string): string {
    return this.updateLink(getSubscription(this.db, subscriptionId), this.clock.now());
  }

  // -------------------------------------------------------------------------------------------
  // Subscriptions and payments

  createSubscription(input: NewSubscription, idempotencyKey: string): Subscription {
    return createSubscription(this.db, input, idempotencyKey, this.clock.now());
  }

  /**
   * The initial charge (the customer is at checkout): paid → draft→active and the first period
   * starts; declined → still draft, the invoice void, no dunning and no email, since the
   * customer sees the error and can try another card.
   */
  activateSubscription(subscriptionId: string, idempotencyKey: string): Promise<PaymentOutcome> {
    return this.attempt('activate', subscriptionId, idempotencyKey);
  }

  /**
   * Charges the next period once the current one has ended (the flow sleeps until
   * `periodEnd`). Paid → stays active. Declined → active→past_due, a dunning case opens with
   * the decline's class, the first dunning email is queued, and `nextRetryAt` says when to call
   * `retryPayment`; a hard decline is exhausted at once (→ unpaid, no retry).
   */
  renewSubscription(subscriptionId: string, idempotencyKey: string): Promise<PaymentOutcome> {
    return this.attempt('renew', subscriptionId, idempotencyKey);
  }

  /**
   * One dunning retry of the open invoice. Charges only when the schedule's retry is due or the
   * customer has put in a different card since the last attempt; otherwise answers `not_due`
   * or `exhausted` without touching the gateway, so a hard-declined card is never charged again.
   */
  retryPayment(subscriptionId: string, idempotencyKey: string): Promise<PaymentOutcome> {
    return this.attempt('retry', subscriptionId, idempotencyKey);
  }

  /** Ends a subscription that is past due or unpaid, or an active one whose customer closes the account. */
  cancelSubscription(subscriptionId: string, reason: string, idempotencyKey: string): TransitionResult {
    checkIdempotencyKey(idempotencyKey);
    return immediately(this.db, () => {
      const now = this.clock.now();
      const result = transitionSubscription(this.db, { subscriptionId, to: 'canceled', reason }, idempotencyKey, now);
      if (!result.replayed) {
        const open = latestDunningCase(this.db, subscriptionId);
        if (open !== null && open.status === 'open') updateDunningCase(this.db, open.invoiceId, { status: 'exhausted', nextRetryAt: null, closedAt: now });
        if (open !== null && getInvoice(this.db, open.invoiceId).status === 'open') setInvoiceStatus(this.db, open.invoiceId, 'uncollectible', now);
        this.refreshEntitlementNow(subscriptionId, now);
      }
      return result;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Plan changes

  /**
   * Changes the plan in the middle of the period, prorated (see `prorate`). A downgrade adds its
   * net to the credit balance and applies at once. An upgrade spends the credit balance first
   * and charges the rest; it applies when the charge succeeds, and a declined charge gives the
   * spent credit back and leaves the plan as it was.
   */
  async changePlan(subscriptionId: string, change: PlanChange, idempotencyKey: string): Promise<PlanChangeOutcome> {
    checkIdempotencyKey(idempotencyKey);
    const newPrice = positiveMinorUnits(change.price, 'price');
    const requestHash = fingerprint({ subscriptionId, planId: change.planId, price: newPrice });
    const quoted = immediately(this.db, () => {
      const existing = this.planChangeRow(idempotencyKey);
      if (existing !== undefined) {
        if (existing.request_hash !== requestHash) throw new IdempotencyConflictError(idempotencyKey, 'plan change');
        return existing;
      }
      const now = this.clock.now();
      const subscription = getSubscription(this.db, subscriptionId);
      if (subscription.state !== 'active' || subscription.periodStart === null || subscription.periodEnd === null) {
        throw new BillingStateError(`Subscription ${subscriptionId} is ${subscription.state}; only an active subscription changes plan.`);
      }
      if (now >= subscription.periodEnd) throw new BillingStateError(`Subscription ${subscriptionId} must be renewed before it changes plan.`);
      const proration = prorate({
        periodStart: subscription.periodStart,
        periodEnd: subscription.periodEnd,
        changeAt: now,
        currentPrice: subscription.price,
        newPrice,
      });
      const settlement = settle(proration.net, creditBalance(this.db, subscription.customerId, subscription.currency));
      const creditKey = derivedKey(idempotencyKey, 'credit');
      const credit = { customerId: subscription.customerId, currency: subscription.currency, reference: idempotencyKey };
      postCredit(this.db, { ...credit, amount: -settlement.creditApplied, reason: `upgrade to ${change.planId}` }, creditKey, now);
      postCredit(this.db, { ...credit, amount: settlement.creditAdded, reason: `downgrade to ${change.planId}` }, creditKey, now);
      const status: PlanChangeStatus = settlement.amountToCharge === 0 ? 'applied' : 'quoted';
      if (status === 'applied') setSubscriptionPlan(this.db, subscriptionId, change.planId, newPrice, now);
      this.db
        .prepare(
          `INSERT INTO billing_plan_changes
             (idempotency_key, request_hash, subscription_id, status, from_plan_id, to_plan_id, from_price, to_price, change_at, proration,
              credit_applied, credit_added, amount_to_charge, completed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          idempotencyKey,
          requestHash,
          subscriptionId,
          status,
          subscription.planId,
          change.planId,
          subscription.price,
          newPrice,
          now,
          JSON.stringify(proration),
          settlement.creditApplied,
          settlement.creditAdded,
          settlement.amountToCharge,
          status === 'applied' ? now : null,
        );
      return this.planChangeRow(idempotencyKey)!;
    });
    if (quoted.status !== 'quoted') return planChangeOutcome(quoted);

    const subscription = getSubscription(this.db, subscriptionId);
    const customer = getCustomer(this.db, subscription.customerId);
    const charge =
      customer.defaultPaymentMethodId === null
        ? null
        : await this.gateway.charge(
            {
              customerId: customer.id,
              paymentMethodId: customer.defaultPaymentMethodId,
              amount: minorUnits(quoted.amount_to_charge),
              currency: subscription.currency,
              description: `Upgrade to ${quoted.to_plan_id}`,
            },
            derivedKey(idempotencyKey, 'charge'),
          );
    return immediately(this.db, () => {
      const row = this.planChangeRow(idempotencyKey)!;
      if (row.status !== 'quoted') return planChangeOutcome(row);
      const now = this.clock.now();
      if (charge !== null && charge.status === 'succeeded') {
        setSubscriptionPlan(this.db, subscriptionId, row.to_plan_id, minorUnits(row.to_price), now);
        this.db.prepare(`UPDATE billing_plan_changes SET status = 'applied', charge_id = ?, completed_at = ? WHERE idempotency_key = ?`).run(charge.id, now, idempotencyKey);
      } else {
        postCredit(
          this.db,
          { customerId: subscription.customerId, currency: subscription.currency, amount: row.credit_applied, reason: 'declined upgrade', reference: idempotencyKey },
          derivedKey(idempotencyKey, 'credit-release'),
          now,
        );
        this.db
          .prepare(`UPDATE billing_plan_changes SET status = 'declined', charge_id = ?, decline_code = ?, completed_at = ? WHERE idempotency_key = ?`)
          .run(charge?.id ?? null, charge?.declineCode ?? 'no_payment_method', now, idempotencyKey);
      }
      return planChangeOutcome(this.planChangeRow(idempotencyKey)!);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Entitlements

  /**
   * Recomputes the subscription's entitlement at the clock's time and records a change if its
   * level moved. A flow can sleep until the returned `nextChangeAt` and call it again.
   */
  refreshEntitlement(subscriptionId: string): EntitlementRefresh {
    return immediately(this.db, () => this.refreshEntitlementNow(subscriptionId, this.clock.now()));
  }

  entitlements(customerId: string): Entitlement[] {
    return entitlementsForCustomer(this.db, customerId);
  }

  /** Entitlement changes in order, after a consumer's cursor: the events that replace a delinquent flag. */
  entitlementChanges(filter: { customerId?: string; afterId?: number } = {}): EntitlementChange[] {
    return listEntitlementChanges(this.db, filter);
  }

  // -------------------------------------------------------------------------------------------
  // Email

  /** Sends the pending dunning emails through `mailer` (see `dispatchEmails`). */
  dispatchEmails(mailer: Mailer, options: Omit<DispatchOptions, 'now'> = {}): Promise<DispatchReport> {
    return dispatchEmails(this.db, mailer, { ...options, now: () => this.clock.now() });
  }

  outbox(filter: { to?: string; status?: OutboxStatus } = {}): OutboxEmail[] {
    return listOutbox(this.db, filter);
  }

  // -------------------------------------------------------------------------------------------
  // Queries

  subscription(subscriptionId: string): Subscription {
    return getSubscription(this.db, subscriptionId);
  }

  customer(customerId: string): Customer {
    return getCustomer(this.db, customerId);
  }

  transitions(subscriptionId: string): TransitionRecord[] {
    return listTransitions(this.db, subscriptionId);
  }

  invoices(subscriptionId: string): Invoice[] {
    return listInvoices(this.db, subscriptionId);
  }

  /** The subscription's latest dunning case: a decision node's "retries remaining?" reads `status` and `nextRetryAt`. */
  dunningCase(subscriptionId: string): DunningCase | null {
    return latestDunningCase(this.db, subscriptionId);
  }

  creditBalance(customerId: string, currency: string): MinorUnits {
    return creditBalance(this.db, customerId, currencyCode(currency));
  }

  // -------------------------------------------------------------------------------------------
  // The payment attempt

  private async attempt(operation: Operation, subscriptionId: string, idempotencyKey: string): Promise<PaymentOutcome> {
    checkIdempotencyKey(idempotencyKey);
    const prepared = immediately(this.db, (): PreparedCharge | PaymentOutcome => {
      const row = this.attemptRow(idempotencyKey);
      if (row !== undefined) {
        if (row.operation !== operation || row.subscription_id !== subscriptionId) throw new IdempotencyConflictError(idempotencyKey, 'payment attempt');
        if (row.status === 'completed') return JSON.parse(row.outcome!) as PaymentOutcome;
        return { invoiceId: row.invoice_id!, paymentMethodId: row.payment_method_id, amount: minorUnits(row.amount), currency: row.currency };
      }
      const now = this.clock.now();
      const decided = this.prepareAttempt(operation, subscriptionId, idempotencyKey, now);
      if ('kind' in decided) {
        // Recorded under the key too, so a handler run again gets this same answer.
        this.insertAttempt(idempotencyKey, operation, subscriptionId, null, { paymentMethodId: null, amount: 0, currency: '' }, now);
        this.completeAttempt(idempotencyKey, decided, now);
        return decided;
      }
      const invoice = getInvoice(this.db, decided.invoiceId);
      if (invoice.pendingAttemptKey !== null) throw new PaymentInProgressError(invoice.id, invoice.pendingAttemptKey);
      setPendingAttempt(this.db, invoice.id, idempotencyKey);
      this.insertAttempt(idempotencyKey, operation, subscriptionId, invoice.id, decided, now);
      return decided;
    });
    if ('kind' in prepared) return prepared;

    const charge = await this.chargeFor(subscriptionId, prepared, idempotencyKey);
    return immediately(this.db, () => {
      const row = this.attemptRow(idempotencyKey)!;
      if (row.status === 'completed') return JSON.parse(row.outcome!) as PaymentOutcome;
      const now = this.clock.now();
      const outcome = this.recordAttempt(operation, subscriptionId, prepared, charge, idempotencyKey, now);
      setPendingAttempt(this.db, prepared.invoiceId, null);
      this.completeAttempt(idempotencyKey, outcome, now);
      return outcome;
    });
  }

  /**
   * Step 1: what this attempt will charge, or an answer that needs no charge. Creates the
   * invoice for `activate` and `renew` (spending credit first); `retry` reuses the open one.
   */
  private prepareAttempt(operation: Operation, subscriptionId: string, idempotencyKey: string, now: number): PreparedCharge | PaymentOutcome {
    const subscription = getSubscription(this.db, subscriptionId);
    const customer = getCustomer(this.db, subscription.customerId);
    if (operation === 'retry') {
      if (subscription.state !== 'past_due' && subscription.state !== 'unpaid') {
        throw new BillingStateError(`Subscription ${subscriptionId} is ${subscription.state}; only a past_due or unpaid one is retried.`);
      }
      const open = latestDunningCase(this.db, subscriptionId);
      if (open === null || open.status === 'recovered') throw new BillingStateError(`Subscription ${subscriptionId} has no unpaid invoice.`);
      const newCard = customer.defaultPaymentMethodId !== null && customer.defaultPaymentMethodId !== open.lastPaymentMethodId;
      if (open.status === 'exhausted' && !newCard) return { kind: 'exhausted', subscriptionId, state: subscription.state };
      if (open.status === 'open' && open.nextRetryAt !== null && now < open.nextRetryAt && !newCard) {
        return { kind: 'not_due', subscriptionId, nextRetryAt: open.nextRetryAt };
      }
      const invoice = getInvoice(this.db, open.invoiceId);
      return { invoiceId: invoice.id, paymentMethodId: customer.defaultPaymentMethodId, amount: invoice.amountDue, currency: invoice.currency };
    }

    let index: number;
    let anchorAt: number;
    let invoiceId: string;
    if (operation === 'activate') {
      if (subscription.state !== 'draft') throw new BillingStateError(`Subscription ${subscriptionId} is ${subscription.state}; only a draft is activated.`);
      index = 0;
      anchorAt = now;
      invoiceId = stableId('in', idempotencyKey);
    } else {
      if (subscription.state !== 'active' || subscription.anchorAt === null || subscription.periodEnd === null) {
        throw new BillingStateError(`Subscription ${subscriptionId} is ${subscription.state}; only an active subscription renews.`);
      }
      if (now < subscription.periodEnd) {
        throw new BillingStateError(`Subscription ${subscriptionId} renews at ${new Date(subscription.periodEnd).toISOString()}, not before.`);
      }
      index = subscription.periodIndex + 1;
      anchorAt = subscription.anchorAt;
      // One invoice per period, whatever key asks: a second renewal of the same period cannot charge twice.
      invoiceId = stableId('in', subscriptionId, String(index));
    }
    const bounds = periodBounds(anchorAt, subscription.interval, index);
    if (operation === 'renew') setSubscriptionPeriod(this.db, subscriptionId, { anchorAt, index, ...bounds }, now);
    const creditApplied = minorUnits(Math.min(creditBalance(this.db, customer.id, subscription.currency), subscription.price));
    postCredit(
      this.db,
      { customerId: customer.id, currency: subscription.currency, amount: -creditApplied, reason: 'applied to invoice', reference: invoiceId },
      derivedKey(invoiceId, 'credit'),
      now,
    );
    insertInvoice(this.db, {
      id: invoiceId,
      subscriptionId,
      customerId: customer.id,
      periodIndex: index,
      periodStart: bounds.start,
      periodEnd: bounds.end,
      subtotal: subscription.price,
      creditApplied,
      amountDue: minorUnits(subscription.price - creditApplied),
      currency: subscription.currency,
      createdAt: now,
    });
    return { invoiceId, paymentMethodId: customer.defaultPaymentMethodId, amount: minorUnits(subscription.price - creditApplied), currency: subscription.currency };
  }

  /** Step 2: the gateway charge, keyed so that a repeat is the gateway's replay. */
  private async chargeFor(subscriptionId: string, prepared: PreparedCharge, idempotencyKey: string): Promise<AttemptCharge> {
    if (prepared.amount === 0) return { status: 'succeeded', chargeId: null };
    if (prepared.paymentMethodId === null) return { status: 'failed', chargeId: null, declineCode: 'no_payment_method' };
    let result: ChargeResult;
    try {
      result = await this.gateway.charge(
        {
          customerId: getSubscription(this.db, subscriptionId).customerId,
          paymentMethodId: prepared.paymentMethodId,
          amount: prepared.amount,
          currency: prepared.currency,
          description: `Invoice ${prepared.invoiceId}`,
        },
        derivedKey(idempotencyKey, 'charge'),
      );
    } catch (error) {
      // A refusal before charging leaves nothing to resume: free the invoice for another attempt.
      // Any other error (a timeout) may hide a charge, so the attempt stays pending for its key.
      if (error instanceof GatewayRequestError) {
        immediately(this.db, () => {
          this.db.prepare('DELETE FROM billing_payment_attempts WHERE idempotency_key = ?').run(idempotencyKey);
          setPendingAttempt(this.db, prepared.invoiceId, null);
        });
      }
      throw error;
    }
    return result.status === 'succeeded'
      ? { status: 'succeeded', chargeId: result.id }
      : { status: 'failed', chargeId: result.id, declineCode: result.declineCode ?? 'generic_decline' };
  }

  /** Step 3: everything the charge's result causes, in the caller's transaction. */
  private recordAttempt(operation: Operation, subscriptionId: string, prepared: PreparedCharge, charge: AttemptCharge, key: string, now: number): PaymentOutcome {
    const subscription = getSubscription(this.db, subscriptionId);
    const invoice = getInvoice(this.db, prepared.invoiceId);
    if (charge.status === 'succeeded') {
      setInvoiceStatus(this.db, invoice.id, 'paid', now);
      let emailTemplate: string | null = null;
      if (operation === 'activate') {
        setSubscriptionPeriod(this.db, subscriptionId, { anchorAt: invoice.periodStart, index: 0, start: invoice.periodStart, end: invoice.periodEnd }, now);
        transitionSubscription(this.db, { subscriptionId, to: 'active', reason: 'initial charge succeeded' }, derivedKey(key, 'active'), now);
      } else if (operation === 'retry') {
        updateDunningCase(this.db, invoice.id, { status: 'recovered', lastAttemptAt: now, nextRetryAt: null, lastPaymentMethodId: prepared.paymentMethodId, closedAt: now });
        transitionSubscription(this.db, { subscriptionId, to: 'active', reason: 'recovery payment succeeded' }, derivedKey(key, 'active'), now);
        emailTemplate = this.queueDunningEmail({ kind: 'recovered' }, { subscriptionId, invoice, declineCode: null, failures: 0, nextRetryAt: null }, key, now);
      }
      this.refreshEntitlementNow(subscriptionId, now);
      const paid: PaidOutcome = {
        kind: 'paid',
        subscriptionId,
        invoiceId: invoice.id,
        chargeId: charge.chargeId,
        amountCharged: prepared.amount,
        creditApplied: invoice.creditApplied,
        state: getSubscription(this.db, subscriptionId).state,
        emailTemplate,
      };
      return paid;
    }

    const declineClass = classifyDecline(charge.declineCode, this.classification);
    const declined = (failures: number, nextRetryAt: number | null, emailTemplate: string | null): DeclinedOutcome => ({
      kind: 'declined',
      subscriptionId,
      invoiceId: invoice.id,
      chargeId: charge.chargeId,
      declineCode: charge.declineCode,
      declineClass,
      failures,
      nextRetryAt,
      state: getSubscription(this.db, subscriptionId).state,
      emailTemplate,
    });

    if (operation === 'activate') {
      setInvoiceStatus(this.db, invoice.id, 'void', now);
      postCredit(
        this.db,
        { customerId: subscription.customerId, currency: invoice.currency, amount: invoice.creditApplied, reason: 'void invoice', reference: invoice.id },
        derivedKey(invoice.id, 'credit-release'),
        now,
      );
      return declined(1, null, null);
    }

    let failures: number;
    let firstFailedAt: number;
    if (operation === 'renew') {
      transitionSubscription(this.db, { subscriptionId, to: 'past_due', reason: `renewal declined: ${charge.declineCode}` }, derivedKey(key, 'past_due'), now);
      openDunningCase(this.db, { invoiceId: invoice.id, subscriptionId, declineClass, declineCode: charge.declineCode, at: now, paymentMethodId: prepared.paymentMethodId });
      failures = 1;
      firstFailedAt = now;
    } else {
      const open = latestDunningCase(this.db, subscriptionId)!;
      failures = open.failures + 1;
      firstFailedAt = open.firstFailedAt;
      updateDunningCase(this.db, invoice.id, { declineClass, declineCode: charge.declineCode, failures, lastAttemptAt: now, lastPaymentMethodId: prepared.paymentMethodId });
      // After the schedule ran out the customer is on the update page and sees the decline there: no email, no transition.
      if (open.status === 'exhausted') return declined(failures, null, null);
    }

    const step = nextDunningStep(this.schedule, declineClass, failures - 1, firstFailedAt);
    if (step.kind === 'retry') {
      updateDunningCase(this.db, invoice.id, { nextRetryAt: step.at });
      const template = this.queueDunningEmail(
        { kind: 'failed', declineClass, failures },
        { subscriptionId, invoice, declineCode: charge.declineCode, failures, nextRetryAt: step.at },
        key,
        now,
      );
      this.refreshEntitlementNow(subscriptionId, now);
      return declined(failures, step.at, template);
    }
    updateDunningCase(this.db, invoice.id, { status: 'exhausted', nextRetryAt: null, closedAt: now });
    const to: SubscriptionState = step.onExhausted === 'cancel' ? 'canceled' : 'unpaid';
    transitionSubscription(this.db, { subscriptionId, to, reason: `retries exhausted after ${failures} failed charges (${declineClass})` }, derivedKey(key, to), now);
    if (to === 'canceled') setInvoiceStatus(this.db, invoice.id, 'uncollectible', now);
    const template = this.queueDunningEmail(
      { kind: 'exhausted', declineClass },
      { subscriptionId, invoice, declineCode: charge.declineCode, failures, nextRetryAt: null },
      key,
      now,
    );
    this.refreshEntitlementNow(subscriptionId, now);
    return declined(failures, null, template);
  }

  /** Renders the event's template and queues it in the outbox, in the caller's transaction. */
  private queueDunningEmail(event: DunningEmailEvent, about: EmailSubject, key: string, now: number): string | null {
    const template = dunningTemplateFor(this.emails, event);
    if (template === null) return null;
    const { subscriptionId, invoice } = about;
    const subscription = getSubscription(this.db, subscriptionId);
    const customer = getCustomer(this.db, subscription.customerId);
    // The schedule's `request_update_via_portal` fallback puts the link in every email of its class, whatever the template says.
    const portalFallback = event.kind !== 'recovered' && this.schedule[event.declineClass].fallback === 'request_update_via_portal';
    const updateLink = template.includesUpdateLink || portalFallback ? this.updateLink(subscription, now) : null;
    const rendered = template.render({
      customerName: customer.name,
      planId: subscription.planId,
      amount: formatMinorUnits(invoice.amountDue, invoice.currency),
      declineCode: about.declineCode ?? '',
      failures: about.failures,
      nextRetryAt: about.nextRetryAt === null ? null : formatUtc(about.nextRetryAt),
      updateLink,
    });
    enqueueEmail(
      this.db,
      { template: template.id, from: this.options.emailFrom, to: customer.email, subject: rendered.subject, text: rendered.text },
      derivedKey(key, 'email'),
      now,
    );
    return template.id;
  }

  private updateLink(subscription: Subscription, now: number): string {
    const expiresAt = now + (this.options.updateLinks.ttlMs ?? DEFAULT_LINK_TTL_MS);
    return createUpdateLink({ customerId: subscription.customerId, subscriptionId: subscription.id, issuedAt: now, expiresAt }, this.options.updateLinks);
  }

  private refreshEntitlementNow(subscriptionId: string, now: number): EntitlementRefresh {
    const subscription = getSubscription(this.db, subscriptionId);
    const history = listTransitions(this.db, subscriptionId);
    const stateSince = history.length === 0 ? subscription.createdAt : history[history.length - 1]!.at;
    const dunning = subscription.state === 'past_due' || subscription.state === 'unpaid' ? latestDunningCase(this.db, subscriptionId) : null;
    const entitlement = computeEntitlement({ subscription, stateSince, dunning, now }, this.entitlementPolicy);
    return { entitlement, change: storeEntitlement(this.db, entitlement, now) };
  }

  private recordPaymentMethodChange(method: PaymentMethod, subscriptionId: string | null, via: 'api' | 'update_link', idempotencyKey: string): void {
    immediately(this.db, () => {
      const inserted = this.db
        .prepare(
          `INSERT INTO billing_payment_method_changes (idempotency_key, customer_id, subscription_id, payment_method_id, brand, last4, via, at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
        )
        .run(idempotencyKey, method.customerId, subscriptionId, method.id, method.brand, method.last4, via, this.clock.now());
      if (inserted.changes === 1) setDefaultPaymentMethod(this.db, method.customerId, method.id);
    });
  }

  private attemptRow(idempotencyKey: string): AttemptRow | undefined {
    return this.db.prepare<[string], AttemptRow>('SELECT * FROM billing_payment_attempts WHERE idempotency_key = ?').get(idempotencyKey);
  }

  private insertAttempt(
    idempotencyKey: string,
    operation: Operation,
    subscriptionId: string,
    invoiceId: string | null,
    charge: { paymentMethodId: string | null; amount: number; currency: string },
    now: number,
  ): void {
    this.db
      .prepare(
        `INSERT INTO billing_payment_attempts (idempotency_key, operation, subscription_id, invoice_id, payment_method_id, amount, currency, status, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
      )
      .run(idempotencyKey, operation, subscriptionId, invoiceId, charge.paymentMethodId, charge.amount, charge.currency, now);
  }

  private completeAttempt(idempotencyKey: string, outcome: PaymentOutcome, now: number): void {
    this.db
      .prepare(`UPDATE billing_payment_attempts SET status = 'completed', outcome = ?, completed_at = ? WHERE idempotency_key = ?`)
      .run(JSON.stringify(outcome), now, idempotencyKey);
  }

  private planChangeRow(idempotencyKey: string): PlanChangeRow | undefined {
    return this.db.prepare<[string], PlanChangeRow>('SELECT * FROM billing_plan_changes WHERE idempotency_key = ?').get(idempotencyKey);
  }
}

function planChangeOutcome(row: PlanChangeRow): PlanChangeOutcome {
  return {
    subscriptionId: row.subscription_id,
    status: row.status,
    fromPlanId: row.from_plan_id,
    toPlanId: row.to_plan_id,
    proration: JSON.parse(row.proration) as Proration,
    creditApplied: minorUnits(row.credit_applied),
    creditAdded: minorUnits(row.credit_added),
    amountCharged: minorUnits(row.status === 'applied' ? row.amount_to_charge : 0),
    chargeId: row.charge_id,
    declineCode: row.decline_code,
    changeAt: row.change_at,
  };
}

/** "2025-03-04 09:30 UTC": emails have no customer time zone to convert to, so they say UTC. */
function formatUtc(at: number): string {
  return `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
