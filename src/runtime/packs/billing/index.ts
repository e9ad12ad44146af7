/**
 * The billing pack: payment-recovery and plan-change services for flow handlers. Construct a
 * `BillingService` with the engine's database, a gateway and the clock, and call its methods
 * with the handler's idempotency key.
 */
export { BillingService, type BillingServiceOptions, type PlanChange } from './billing-service';
export { SandboxGateway, sandboxTestTokens } from './sandbox-gateway';
export { classifyDecline, DEFAULT_DECLINE_CLASSIFICATION } from './declines';
export { DEFAULT_DUNNING_SCHEDULE, nextDunningStep } from './dunning-schedule';
export { canTransition, SUBSCRIPTION_TRANSITIONS } from './subscription-machine';
export { prorate, settle } from './proration';
export { DEFAULT_DUNNING_EMAILS, type DunningEmailSequence, type DunningEmailTemplate, type DunningEmailVars } from './dunning-emails';
export { createSmtpMailer, dispatchEmails, enqueueEmail, listOutbox, type EmailToQueue } from './outbox';
export { createUpdateLink, signUpdateLinkToken, verifyUpdateLinkToken } from './update-link';
export { computeEntitlement, DEFAULT_ENTITLEMENT_POLICY, listEntitlementChanges } from './entitlements';
export { minorUnits, formatMinorUnits } from './money';
export { ensureBillingSchema } from './schema';
export type { NewCustomer, NewSubscription } from './subscriptions';
export * from './errors';
export type * from './types';
