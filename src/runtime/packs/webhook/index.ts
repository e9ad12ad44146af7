/**
 * The webhook pack: a sender that signs, delivers, retries and records webhooks exactly once
 * per idempotency key, and a receiver that verifies, deduplicates, acknowledges and hands
 * events to a flow. Flow handlers call these services; the engine wires them in.
 */
export { WebhookError, type WebhookErrorName } from './errors';
export { generateSecret, secretKey } from './secrets';
export {
  DEFAULT_TOLERANCE_SECONDS,
  signStandard,
  signStripe,
  standardSignatureHeader,
  verifyStandard,
  verifyStripe,
  type SignedContent,
  type StandardHeaders,
  type VerifyOptions,
} from './signature';
export type * from './types';
