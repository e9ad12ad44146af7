/**
 * The billing pack as built-in flow handlers (`billing.*`), for a payment-recovery flow such as
 * `flows/payment-failure-recovery.flow`. Each handler is one node's work on the engine's own
 * database and clock; configuration comes from the environment (see `pack-services.ts`).
 *
 * Idempotency: every call with an effect passes the node visit's key (`instanceId:node:visit`),
 * so a handler run again after a crash or a retry gets the first result back. A loop's revisit
 * of a node is a new visit with a new key, which is what a retry is: a new charge. What must
 * happen once per invoice whatever the keys (one renewal charge per period, one dunning email
 * per failed charge, one transition per state change) the billing service keys by invoice itself.
 *
 * Transactions: the services commit each write in its own SQLite transaction on the engine's
 * connection, before the handler returns; the executor commits the step afterwards, in another
 * one. A handler never runs inside the executor's group commit (handlers run between commits,
 * and a better-sqlite3 transaction cannot span an await), and the handlers refuse to start if a
 * transaction is open on the connection: their writes would become savepoints of it, committed
 * or rolled back with someone else's batch.
 */
import type { PackFactory } from '../../builtins';
import { defineDecision, definePack, defineStep, type HandlerContext } from '../../define';
import type { Json, JsonObject } from '../../types';
import { BillingError, GatewayRequestError } from './errors';
import { derivedKey } from './idempotency';
import { formatMinorUnits, minorUnits } from './money';
import type { BillingPackServices, QueuedEmail } from './pack-services';
import type { Database } from './sqlite';
import type { DeclineClass, Entitlement, PaymentOutcome } from './types';

/** The signal a card-update page sends to the waiting instance once the customer has entered a new card. */
export const PAYMENT_METHOD_UPDATED = 'payment-method-updated';

/** The sandbox subscription `billing.loadSubscription` opens when the data names none: a card that is declined twice, then pays. */
const SANDBOX_DEFAULTS = {
  email: 'ada@example.com',
  name: 'Ada',
  plan: 'pro',
  price: 2_500,
  currency: 'usd',
  card: 'pm_sandbox_declineFirst2_insufficient_funds',
} as const;

/** How soon an email that another worker is sending is looked at again. */
const SENDING_RECHECK_MS = 5_000;

const DECLINE_LABELS: Record<DeclineClass, 'Soft decline' | 'Hard decline' | 'Expired card'> = {
  soft_decline: 'Soft decline',
  hard_decline: 'Hard decline',
  expired_method: 'Expired card',
};

/** The last payment attempt, as the decisions read it from the flow's data. */
interface PaymentRecord {
  key: string;
  outcome: PaymentOutcome['kind'];
  nextRetryAt: string | null;
}

export const billingPack: PackFactory = (environment) => {
  let services: BillingPackServices | undefined;

  async function open(): Promise<BillingPackServices> {
    const db = environment.database();
    refuseOpenTransaction(db);
    if (services === undefined) {
      // Loaded on the first run, not with the pack: the service and nodemailer take a while to load.
      const { BillingPackServices } = await import('./pack-services');
      services ??= new BillingPackServices(db, environment.clock);
    }
    refuseOpenTransaction(db);
    return services;
  }

  return definePack('billing', {
    /**
     * With `subscriptionId` in the data, reads that subscription. Without one, opens a
     * subscription in the sandbox gateway (the pack has no live gateway): a customer (`email`,
     * `name`) on `plan` at `price` minor units of `currency`, activated with a working card that
     * is then replaced by `card`, the card the renewal will charge.
     */
    'billing.loadSubscription': defineStep(async (ctx) => {
      const { billing } = await open();
      let subscriptionId = optionalText(ctx.data, 'subscriptionId');
      if (subscriptionId === undefined) {
        const input = sandboxInput(ctx.data);
        const key = ctx.idempotencyKey;
        const customer = billing.createCustomer({ email: input.email, name: input.name }, derivedKey(key, 'customer'));
        await billing.attachPaymentMethod(customer.id, 'pm_card_visa', derivedKey(key, 'first-card'));
        const subscription = billing.createSubscription(
          { customerId: customer.id, planId: input.plan, price: input.price, currency: input.currency, interval: { unit: 'month', count: 1 } },
          derivedKey(key, 'subscription'),
        );
        const activation = await billing.activateSubscription(subscription.id, derivedKey(key, 'activate'));
        if (activation.kind !== 'paid') throw new BillingError(`the sandbox subscription's first charge was not paid (${activation.kind})`);
        emitCharge(ctx, 'activation', activation, formatMinorUnits(activation.amountCharged, input.currency));
        await billing.attachPaymentMethod(customer.id, input.card, derivedKey(key, 'card-on-file'));
        subscriptionId = subscription.id;
      }
      const subscription = billing.subscription(subscriptionId);
      const customer = billing.customer(subscription.customerId);
      return {
        subscriptionId,
        customerId: customer.id,
        email: customer.email,
        plan: subscription.planId,
        price: formatMinorUnits(subscription.price, subscription.currency),
        state: subscription.state,
      };
    }),

    /** Sleeps until the current period ends, when the renewal is due. */
    'billing.waitForRenewal': defineStep(async (ctx) => {
      const { billing } = await open();
      const { periodEnd } = billing.subscription(text(ctx.data, 'subscriptionId'));
      if (periodEnd === null) throw new BillingError('the subscription is not active: it has no period to renew');
      if (periodEnd > ctx.now().getTime()) await ctx.sleep(new Date(periodEnd));
      return { renewalDueAt: iso(periodEnd) };
    }),

    /** Charges the next period; a decline opens the dunning case and queues its first email. */
    'billing.renewSubscription': defineStep(async (ctx) => {
      const services = await open();
      const subscriptionId = text(ctx.data, 'subscriptionId');
      const outcome = await services.billing.renewSubscription(subscriptionId, ctx.idempotencyKey);
      emitCharge(ctx, 'renewal', outcome, amountOf(services, subscriptionId, outcome));
      return paymentPatch(ctx, ctx.idempotencyKey, outcome);
    }),

    /**
     * One retry of the open invoice. The wait nodes before it make it due; if it is asked early
     * all the same, the service charges nothing and answers `not_due`, and the handler sleeps
     * until the retry is due and asks again, so that the loop spends no iteration on it.
     */
    'billing.retryPayment': defineStep(async (ctx) => {
      const services = await open();
      const subscriptionId = text(ctx.data, 'subscriptionId');
      let key = ctx.idempotencyKey;
      let outcome = await services.billing.retryPayment(subscriptionId, key);
      if (outcome.kind === 'not_due') {
        await ctx.sleep(new Date(outcome.nextRetryAt));
        key = derivedKey(ctx.idempotencyKey, 'when-due');
        outcome = await services.billing.retryPayment(subscriptionId, key);
      }
      emitCharge(ctx, 'retry', outcome, amountOf(services, subscriptionId, outcome));
      return paymentPatch(ctx, key, outcome);
    }),

    /**
     * Sleeps until the schedule's next retry, waking on the way whenever the entitlement policy
     * changes the customer's access (premium features off after 72 hours of a soft decline…).
     */
    'billing.waitForNextRetry': defineStep(async (ctx) => {
      const { billing } = await open();
      const subscriptionId = text(ctx.data, 'subscriptionId');
      let entitlement: Entitlement;
      while (true) {
        entitlement = billing.refreshEntitlement(subscriptionId).entitlement;
        const dunning = billing.dunningCase(subscriptionId);
        const retryAt = dunning?.status === 'open' ? dunning.nextRetryAt : null;
        const now = ctx.now().getTime();
        if (retryAt === null || retryAt <= now) break;
        await ctx.sleep(new Date(Math.min(retryAt, entitlement.nextChangeAt ?? retryAt)));
      }
      return { entitlement: entitlementPatch(entitlement) };
    }),

    /**
     * Waits for the customer to put in a new card through the emailed link, until the
     * schedule's next retry is due. The card-update page attaches the card itself and sends
     * `payment-method-updated`; a payload `{ link, paymentMethodToken }` asks this handler to
     * attach it through the link instead (what `laneflow signal` can do). A signal that brings
     * no new card (a rejected link, a refused card) is recorded, and the wait goes on.
     */
    'billing.waitForCardUpdate': defineStep(async (ctx) => {
      const { billing } = await open();
      const subscriptionId = text(ctx.data, 'subscriptionId');
      const rejected: string[] = [];
      let signals = 0;
      let entitlement: Entitlement;
      let cardUpdate: JsonObject | null = null;
      while (true) {
        entitlement = billing.refreshEntitlement(subscriptionId).entitlement;
        const dunning = billing.dunningCase(subscriptionId);
        if (dunning === null) throw new BillingError(`subscription ${subscriptionId} has no unpaid invoice to wait on`);
        const card = billing.customer(billing.subscription(subscriptionId).customerId).defaultPaymentMethodId;
        const now = ctx.now().getTime();
        if (card !== null && card !== dunning.lastPaymentMethodId) {
          cardUpdate = { paymentMethodId: card, at: iso(now) };
          break;
        }
        const retryAt = dunning.status === 'open' ? dunning.nextRetryAt : null;
        if (retryAt !== null && retryAt <= now) break;
        const wakeAt = Math.min(retryAt ?? Infinity, entitlement.nextChangeAt ?? Infinity);
        const result = await ctx.waitFor(PAYMENT_METHOD_UPDATED, Number.isFinite(wakeAt) ? { timeout: wakeAt - now } : {});
        if (!result.received) continue;
        signals += 1;
        const request = linkRequest(result.payload);
        if (request === undefined) continue;
        try {
          const update = await billing.updatePaymentMethodWithLink(request.link, request.paymentMethodToken, derivedKey(ctx.idempotencyKey, `card-${signals}`));
          if (!update.ok) rejected.push(`link ${update.reason}`);
        } catch (error) {
          if (!(error instanceof GatewayRequestError)) throw error;
          rejected.push(`card refused: ${error.message}`);
        }
      }
      return { cardUpdate, cardUpdatesRejected: rejected.length === 0 ? null : rejected, entitlement: entitlementPatch(entitlement) };
    }),

    /**
     * Sends the email the last payment attempt queued (a decline notice, a reminder with the
     * update link, the final notice or the receipt) over SMTP. A failed send is tried again on
     * the outbox's schedule, sleeping durably in between, until it is sent or given up; without
     * an SMTP server the email stays in the outbox and the flow goes on.
     */
    'billing.sendDunningEmail': defineStep(async (ctx) => {
      const services = await open();
      const emailKey = derivedKey(lastPayment(ctx.data).key, 'email');
      let email = services.queuedEmail(emailKey);
      if (email === undefined) return { lastEmail: null };
      const mailer = services.mailer;
      if (mailer === null) {
        ctx.emit('billing.email', emailEffect(email, 'not sent (no SMTP server: set LANEFLOW_SMTP_URL); kept in the outbox'));
        return { lastEmail: { template: email.template, status: email.status } };
      }
      while (true) {
        await services.dispatch(mailer);
        email = services.queuedEmail(emailKey)!;
        if (email.retryAt === null) break;
        // A row another worker is sending is looked at again soon: its claim lasts a minute only in case that worker died.
        await ctx.sleep(new Date(email.status === 'sending' ? Math.min(email.retryAt, ctx.now().getTime() + SENDING_RECHECK_MS) : email.retryAt));
      }
      ctx.emit('billing.email', emailEffect(email, email.status === 'sent' ? 'sent' : `failed after ${email.attempts} attempts: ${email.lastError ?? ''}`));
      return { lastEmail: { template: email.template, status: email.status } };
    }),

    /** Recomputes the customer's access from the subscription's state and how long it has been unpaid. */
    'billing.applyEntitlements': defineStep(async (ctx) => {
      const { billing } = await open();
      return { entitlement: entitlementPatch(billing.refreshEntitlement(text(ctx.data, 'subscriptionId')).entitlement) };
    }),

    /** "Paid?": whether the last attempt settled the invoice. */
    'billing.paymentSucceeded': defineDecision(['Yes', 'No'], (ctx) => (lastPayment(ctx.data).outcome === 'paid' ? 'Yes' : 'No')),

    /** "Decline class?": the class of the invoice's latest decline, which picks the retry schedule. */
    'billing.declineClass': defineDecision(['Soft decline', 'Hard decline', 'Expired card'], (ctx) => {
      const declineClass = ctx.data['declineClass'];
      if (typeof declineClass !== 'string' || !(declineClass in DECLINE_LABELS)) {
        throw new BillingError('the flow has no declined payment to classify: bind "billing.renewSubscription" or "billing.retryPayment" before this decision');
      }
      return DECLINE_LABELS[declineClass as DeclineClass];
    }),

    /** "Retries remaining?": whether the schedule has another retry for the open invoice. */
    'billing.retriesRemaining': defineDecision(['Yes', 'No'], (ctx) => {
      const payment = lastPayment(ctx.data);
      return payment.outcome === 'not_due' || (payment.outcome === 'declined' && payment.nextRetryAt !== null) ? 'Yes' : 'No';
    }),
  });
};

function refuseOpenTransaction(db: Database): void {
  if (db.inTransaction) {
    throw new BillingError('a billing handler ran inside an open SQLite transaction; its writes would commit or roll back with that transaction, so it refuses to run');
  }
}

/** The data's record of an attempt: the key its email is queued under, and what the decisions read. */
function paymentPatch(ctx: HandlerContext, key: string, outcome: PaymentOutcome): JsonObject {
  const declined = outcome.kind === 'declined' ? outcome : undefined;
  const lastPaymentRecord: JsonObject = {
    key,
    outcome: outcome.kind,
    at: iso(ctx.now().getTime()),
    state: outcome.kind === 'not_due' ? null : outcome.state,
    chargeId: outcome.kind === 'paid' || outcome.kind === 'declined' ? outcome.chargeId : null,
    declineCode: declined?.declineCode ?? null,
    failures: declined?.failures ?? null,
    nextRetryAt: retryAtOf(outcome),
    emailTemplate: outcome.kind === 'paid' || outcome.kind === 'declined' ? outcome.emailTemplate : null,
  };
  const patch: JsonObject = { lastPayment: lastPaymentRecord };
  if (outcome.kind !== 'not_due') patch['state'] = outcome.state;
  if (declined !== undefined) patch['declineClass'] = declined.declineClass;
  return patch;
}

/** When the schedule retries next, or null when it will not. */
function retryAtOf(outcome: PaymentOutcome): string | null {
  if (outcome.kind === 'not_due') return iso(outcome.nextRetryAt);
  return outcome.kind === 'declined' && outcome.nextRetryAt !== null ? iso(outcome.nextRetryAt) : null;
}

/** Records a gateway charge among the instance's effects: `laneflow run` and `inspect` list them. */
function emitCharge(ctx: HandlerContext, purpose: string, outcome: PaymentOutcome, amount: string | null): void {
  if ((outcome.kind !== 'paid' && outcome.kind !== 'declined') || outcome.chargeId === null) return;
  const effect: JsonObject = { purpose, amount, status: outcome.kind === 'paid' ? 'succeeded' : 'declined' };
  if (outcome.kind === 'declined') {
    effect['declineCode'] = outcome.declineCode;
    effect['declineClass'] = outcome.declineClass;
  }
  effect['chargeId'] = outcome.chargeId;
  ctx.emit('billing.charge', effect);
}

function amountOf(services: BillingPackServices, subscriptionId: string, outcome: PaymentOutcome): string | null {
  if (outcome.kind !== 'paid' && outcome.kind !== 'declined') return null;
  const invoice = services.billing.invoices(subscriptionId).find((i) => i.id === outcome.invoiceId);
  return invoice === undefined ? null : formatMinorUnits(invoice.amountDue, invoice.currency);
}

function emailEffect(email: QueuedEmail, status: string): JsonObject {
  return { template: email.template, to: email.to, subject: email.subject, status };
}

function entitlementPatch(entitlement: Entitlement): JsonObject {
  return { level: entitlement.level, reason: entitlement.reason, nextChangeAt: entitlement.nextChangeAt === null ? null : iso(entitlement.nextChangeAt) };
}

function lastPayment(data: JsonObject): PaymentRecord {
  const record = data['lastPayment'];
  if (record === null || typeof record !== 'object' || Array.isArray(record) || typeof record['key'] !== 'string' || typeof record['outcome'] !== 'string') {
    throw new BillingError('the flow has no payment attempt yet: bind "billing.renewSubscription" or "billing.retryPayment" before this node');
  }
  const nextRetryAt = record['nextRetryAt'];
  return { key: record['key'], outcome: record['outcome'] as PaymentOutcome['kind'], nextRetryAt: typeof nextRetryAt === 'string' ? nextRetryAt : null };
}

function sandboxInput(data: JsonObject) {
  const price = data['price'] ?? SANDBOX_DEFAULTS.price;
  if (typeof price !== 'number') throw new BillingError(`price is a whole number of minor units (cents); got ${JSON.stringify(price)}`);
  return {
    email: optionalText(data, 'email') ?? SANDBOX_DEFAULTS.email,
    name: optionalText(data, 'name') ?? SANDBOX_DEFAULTS.name,
    plan: optionalText(data, 'plan') ?? SANDBOX_DEFAULTS.plan,
    price: minorUnits(price),
    currency: optionalText(data, 'currency') ?? SANDBOX_DEFAULTS.currency,
    card: optionalText(data, 'card') ?? SANDBOX_DEFAULTS.card,
  };
}

/** A signal payload that asks the handler to use the update link itself. */
function linkRequest(payload: Json): { link: string; paymentMethodToken: string } | undefined {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  const { link, paymentMethodToken } = payload;
  return typeof link === 'string' && typeof paymentMethodToken === 'string' ? { link, paymentMethodToken } : undefined;
}

function text(data: JsonObject, key: string): string {
  const value = optionalText(data, key);
  if (value === undefined) throw new BillingError(`the flow's data has no ${key}: bind "billing.loadSubscription" to the flow's first step`);
  return value;
}

function optionalText(data: JsonObject, key: string): string | undefined {
  const value = data[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value === '') throw new BillingError(`${key} must be a non-empty string; got ${JSON.stringify(value)}`);
  return value;
}

function iso(at: number): string {
  return new Date(at).toISOString();
}
