/**
 * The `plans.*` handlers (the `billing-plans` pack): what a plan downgrade or an account deletion
 * asks of billing, on the engine's database and clock through `PlanChangeService` and the
 * `BillingService` the `billing.*` handlers use (configured alike, see `pack-services.ts`). Each
 * handler reads the fields of the flow's data named in its comment and returns what it adds.
 */
import type { PackFactory } from '../../builtins';
import { definePack, defineStep, type HandlerContext } from '../../define';
import type { Json, JsonObject } from '../../types';
import { HandlerInputError, integerField, objectField, optionalInteger, optionalString, stringField } from '../handler-data';
import type { BillingService } from './billing-service';
import { derivedKey } from './idempotency';
import { formatMinorUnits } from './money';
import type { PlanChangeService, PlanRestrictions } from './plan-changes';
import type { OutboxEmail, PaymentOutcome } from './types';

/**
 * The sandbox subscription `plans.readSubscription` opens when the data names none: the top plan
 * of the flows' catalog, paid by a card that works, so that a downgrade to any plan applies.
 */
const SANDBOX_SUBSCRIPTION = { email: 'sandbox.customer@example.com', name: 'Sandbox customer', plan: 'team', price: 7_900, currency: 'usd' } as const;

interface PlanServices {
  plans: PlanChangeService;
  billing: BillingService;
}

export const billingPlansPack: PackFactory = (environment) => {
  let loading: Promise<PlanServices> | undefined;
  // Loaded on a handler's first run: checking a binding never opens the database or loads the mailer.
  const services = () =>
    (loading ??= Promise.all([import('./pack-services'), import('./plan-changes')]).then(([{ billingConfigFromEnv, openBillingService }, { PlanChangeService }]) => {
      const db = environment.database();
      const config = billingConfigFromEnv();
      const billing = openBillingService(db, environment.clock, config);
      return { plans: new PlanChangeService(billing, db, environment.clock, config.emailFrom), billing };
    }));
  const step = (run: (service: PlanChangeService, context: HandlerContext) => JsonObject | Promise<JsonObject>) =>
    defineStep(async (context) => run((await services()).plans, context));

  return definePack('billing-plans', {
    /**
     * `subscriptionId` → `subscription.{id, customerId, planId, price, currency, state, periodStart, periodEnd}`, `creditBalance`.
     * Without `subscriptionId`, opens a sandbox subscription first (the sandbox gateway, a card
     * that works; `email`, `name`, `plan`, `price`, `currency` optional, the team plan at 79.00
     * USD by default) and adds its `subscriptionId`, with the activation charge among the effects.
     */
    'plans.readSubscription': defineStep(async (context) => {
      const { plans, billing } = await services();
      const given = optionalString(context.data, 'subscriptionId');
      const subscriptionId = given ?? (await openSandboxSubscription(billing, context));
      const subscription = plans.subscription(subscriptionId);
      const { id, customerId, planId, price, currency, state, periodStart, periodEnd } = subscription;
      return {
        ...(given === undefined && { subscriptionId }),
        subscription: { id, customerId, planId, price, currency, state, periodStart, periodEnd },
        creditBalance: plans.creditBalance(id),
      };
    }),

    /** `subscriptionId`, `retentionOffer.{percentOff, months}` → `retentionCredit.{amount, currency, balance}`, with an email. */
    'plans.grantRetentionCredit': step((service, context) => {
      const { data, idempotencyKey } = context;
      const offer = { percentOff: integerField(data, 'retentionOffer.percentOff'), months: integerField(data, 'retentionOffer.months') };
      const { amount, currency, balance } = service.grantRetentionCredit(stringField(data, 'subscriptionId'), offer, idempotencyKey);
      context.emit('plans.credit', { purpose: 'retention', amount: formatMinorUnits(amount, currency), balance: formatMinorUnits(balance, currency) });
      return { retentionCredit: { amount, currency, balance } };
    }),

    /** `subscriptionId`, `targetPlan.id`, `restrictions.{lostFeatures, overLimits}` → `restrictionWarning.emailId`. */
    'plans.warnRestrictions': step((service, context) => {
      const { data, idempotencyKey } = context;
      const email = service.warnRestrictions(stringField(data, 'subscriptionId'), { planId: stringField(data, 'targetPlan.id') }, restrictionsOf(objectField(data, 'restrictions')), idempotencyKey);
      context.emit('plans.email', queuedEmailEffect(email));
      return { restrictionWarning: { emailId: email.id } };
    }),

    /** `subscriptionId`, `targetPlan.{id, price}` → `scheduledChange.{id, effectiveAt}`: the end of the current period. */
    'plans.scheduleDowngrade': step((service, { data, idempotencyKey }) => {
      const change = service.scheduleDowngrade(stringField(data, 'subscriptionId'), { planId: stringField(data, 'targetPlan.id'), price: integerField(data, 'targetPlan.price') }, idempotencyKey);
      return { scheduledChange: { id: change.id, effectiveAt: change.effectiveAt } };
    }),

    /** `scheduledChange.{id, effectiveAt}`: sleeps until then → `scheduledChange.nextPeriodBilled`. */
    'plans.awaitPeriodEnd': step(async (service, context) => {
      await context.sleep(new Date(integerField(context.data, 'scheduledChange.effectiveAt')));
      return { scheduledChange: { nextPeriodBilled: service.nextPeriodBilled(stringField(context.data, 'scheduledChange.id')) } };
    }),

    /** `scheduledChange.id` → `downgrade.{appliedAs, creditAdded, creditBalance}`: the change prorated into credit. */
    'plans.applyDowngradeAsCredit': step(async (service, context) => {
      const { data, idempotencyKey } = context;
      const change = await service.applyAsCredit(stringField(data, 'scheduledChange.id'), idempotencyKey);
      context.emit('plans.credit', { purpose: 'downgrade', amount: formatMinorUnits(change.creditAdded, change.currency), balance: formatMinorUnits(service.creditBalance(change.subscriptionId), change.currency) });
      return { downgrade: { appliedAs: change.appliedAs, planId: change.toPlanId, creditAdded: change.creditAdded, creditBalance: service.creditBalance(change.subscriptionId) } };
    }),

    /** `scheduledChange.id` → `downgrade.{appliedAs, invoiceId, amountCharged, payment}`: renewed on the new plan. */
    'plans.applyDowngradeByRenewal': step(async (service, context) => {
      const { data, idempotencyKey } = context;
      const { change, payment } = await service.applyByRenewal(stringField(data, 'scheduledChange.id'), idempotencyKey);
      emitCharge(context, 'downgrade renewal', payment, formatMinorUnits(change.amountCharged, change.currency));
      return { downgrade: { appliedAs: change.appliedAs, planId: change.toPlanId, invoiceId: change.invoiceId, amountCharged: change.amountCharged, payment: payment.kind } };
    }),

    /** Optional `subscriptionId`, `reason` → `subscriptionEnded.{state, at}`, or null when there was none to end. */
    'plans.terminateSubscription': step((service, { data, idempotencyKey }) => {
      const subscriptionId = optionalString(data, 'subscriptionId');
      if (subscriptionId === undefined) return { subscriptionEnded: null };
      const ended = service.terminate(subscriptionId, `account closed (${optionalString(data, 'reason') ?? 'no reason given'})`, idempotencyKey);
      return { subscriptionEnded: ended === null ? null : { state: ended.to, at: ended.at } };
    }),
  });
};

/** Opens the sandbox subscription under keys derived from the step's, so a rerun opens none twice. */
async function openSandboxSubscription(billing: BillingService, context: HandlerContext): Promise<string> {
  const { data, idempotencyKey: key } = context;
  const currency = optionalString(data, 'currency') ?? SANDBOX_SUBSCRIPTION.currency;
  const customer = billing.createCustomer(
    { email: optionalString(data, 'email') ?? SANDBOX_SUBSCRIPTION.email, name: optionalString(data, 'name') ?? SANDBOX_SUBSCRIPTION.name },
    derivedKey(key, 'sandbox-customer'),
  );
  await billing.attachPaymentMethod(customer.id, 'pm_card_visa', derivedKey(key, 'sandbox-card'));
  const subscription = billing.createSubscription(
    {
      customerId: customer.id,
      planId: optionalString(data, 'plan') ?? SANDBOX_SUBSCRIPTION.plan,
      price: optionalInteger(data, 'price') ?? SANDBOX_SUBSCRIPTION.price,
      currency,
      interval: { unit: 'month', count: 1 },
    },
    derivedKey(key, 'sandbox-subscription'),
  );
  const activation = await billing.activateSubscription(subscription.id, derivedKey(key, 'sandbox-activate'));
  if (activation.kind !== 'paid') throw new HandlerInputError(`the sandbox subscription's first charge was not paid (${activation.kind})`);
  emitCharge(context, 'sandbox activation', activation, formatMinorUnits(activation.amountCharged, currency));
  return subscription.id;
}

/** A charge among the instance's effects, as the `billing.*` handlers record theirs. */
function emitCharge(context: HandlerContext, purpose: string, outcome: PaymentOutcome, amount: string | null): void {
  if ((outcome.kind !== 'paid' && outcome.kind !== 'declined') || outcome.chargeId === null) return;
  context.emit('billing.charge', { purpose, amount, status: outcome.kind === 'paid' ? 'succeeded' : 'declined', chargeId: outcome.chargeId });
}

/** An email the pack queued in the billing outbox, among the instance's effects. */
function queuedEmailEffect(email: OutboxEmail): JsonObject {
  return { template: email.template, to: email.to, subject: email.subject, status: email.status === 'pending' ? 'queued in the outbox' : email.status };
}

function restrictionsOf(value: JsonObject): PlanRestrictions {
  const lost = value['lostFeatures'];
  const over = value['overLimits'];
  if (!Array.isArray(lost) || !lost.every((feature): feature is string => typeof feature === 'string')) {
    throw new HandlerInputError('"restrictions.lostFeatures" must be a list of feature names');
  }
  if (!Array.isArray(over) || !over.every(isLimit)) throw new HandlerInputError('"restrictions.overLimits" must be a list of { resource, used, limit }');
  return { lostFeatures: lost, overLimits: over.map((limit) => ({ resource: limit.resource, used: limit.used, limit: limit.limit })) };
}

function isLimit(value: Json): value is { resource: string; used: number; limit: number } {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && typeof value['resource'] === 'string' && typeof value['used'] === 'number' && typeof value['limit'] === 'number';
}
