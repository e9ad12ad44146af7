/**
 * The disputes pack: the merchant's transaction records, chargebacks from intake through
 * transaction review, fraud scoring and evidence to the issuer's ruling, and the balance
 * movements they cause. Flows use its `disputes.*` handlers (see `handlers.ts`); tests and
 * services use `DisputeService`.
 */
export { DisputeService, DISPUTE_FEE, DISPUTE_REASONS, type DisputeServiceOptions } from './dispute-service';
export { CONTEST_THRESHOLD, MIN_CONTESTED_AMOUNT, compileEvidence, recommend } from './evidence';
export { assessFraud } from './fraud';
export { disputesPack } from './handlers';
export { ensureDisputesSchema } from './schema';
export * from './errors';
export type * from './types';
