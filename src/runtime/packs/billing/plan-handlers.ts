/**
 * The `plans.*` handlers (the `billing-plans` pack): what a plan downgrade or an account deletion
 * asks of billing, on the engine's database and clock through `PlanChangeService` and the
 * `BillingService` the `billing.*` handlers use (configured alike, see `pack-services.ts`). Each
 * handler reads the fields of the flow's data named in its comment and returns what it adds.
 */
import type { PackFactory } from '../../builtins';
import { definePack, defineStep, type HandlerContext } from '../../define';
import type { Json, JsonObject } from '../../types';
import { HandlerInputError, integerField, objectField, optionalString, stringField } from '../handler-data';
import type { PlanChangeService, PlanRestrictions } from './plan-changes';

export const billingPlansPack: PackFactory = (environment) => {
  let loading: Promise<PlanChangeService> | undefined;
  // Loaded on a handler's first run: checking a binding never opens the database or loads the mailer.
  const plans = () =>
    (loading ??= Promise.all([import('./pack-services'), import('./plan-changes')]).then(([{ billingConfigFromEnv, openBillingService }, { PlanChangeService }]) => {
      const db = environment.database();
      const config = billingConfigFromEnv();
      return new PlanChangeService(openBillingService(db, environment.clock, config), db, environment.clock, config.emailFrom);
    }));
  const step = (run: (service: PlanChangeService, context: HandlerContext) => JsonObject | Promise<JsonObject>) =>
    defineStep(async (context) => run(await plans(), context));

  return definePack('billing-plans', {
    /** `subscriptionId` → `subscription.{id, customerId, planId, price, currency, state, periodStart, periodEnd}`, `creditBalance`. */
    'plans.readSubscription': step((service, { data }) => {
      const subscription = service.subscription(stringField(data, 'subscriptionId'));
      const { id, customerId, planId, price, currency, state, periodStart, periodEnd } = subscription;
      return { subscription: { id, customerId, planId, price, currency, state, periodStart, periodEnd }, creditBalance: service.creditBalance(id) };
    }),

    /** `subscriptionId`, `retentionOffer.{percentOff, months}` → `retentionCredit.{amount, currency, balance}`, with an email. */
    'plans.grantRetentionCredit': step((service, { data, idempotencyKey }) => {
      const offer = { percentOff: integerField(data, 'retentionOffer.percentOff'), months: integerField(data, 'retentionOffer.months') };
      const { amount, currency, balance } = service.grantRetentionCredit(stringField(data, 'subscriptionId'), offer, idempotencyKey);
      return { retentionCredit: { amount, currency, balance } };
    }),

    /** `subscriptionId`, `targetPlan.id`, `restrictions.{lostFeatures, overLimits}` → `restrictionWarning.emailId`. */
    'plans.warnRestrictions': step((service, { data, idempotencyKey }) => {
      const email = service.warnRestrictions(stringField(data, 'subscriptionId'), { planId: stringField(data, 'targetPlan.id') }, restrictionsOf(objectField(data, 'restrictions')), idempotencyKey);
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
    'plans.applyDowngradeAsCredit': step(async (service, { data, idempotencyKey }) => {
      const change = await service.applyAsCredit(stringField(data, 'scheduledChange.id'), idempotencyKey);
      return { downgrade: { appliedAs: change.appliedAs, planId: change.toPlanId, creditAdded: change.creditAdded, creditBalance: service.creditBalance(change.subscriptionId) } };
    }),

    /** `scheduledChange.id` → `downgrade.{appliedAs, invoiceId, amountCharged, payment}`: renewed on the new plan. */
    'plans.applyDowngradeByRenewal': step(async (service, { data, idempotencyKey }) => {
      const { change, payment } = await service.applyByRenewal(stringField(data, 'scheduledChange.id'), idempotencyKey);
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
