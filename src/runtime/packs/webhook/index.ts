/**
 * The webhook pack: a sender that signs, delivers, retries and records webhooks exactly once
 * per idempotency key, and a receiver that verifies, deduplicates, acknowledges and hands
 * events to a flow. Flow handlers call these services; the engine wires them in.
 */
export { classifyAttempt } from './classify';
export { WebhookError, type WebhookErrorName } from './errors';
export { createWebhookReceiver, type WebhookReceiver, type WebhookReceiverOptions } from './receiver';
export { DEFAULT_RETRY_SCHEDULE, nextAttemptAt, type RetrySchedule } from './retry-schedule';
export { generateSecret, secretKey } from './secrets';
export {
  createWebhookSender,
  type RegisterEndpointInput,
  type RotateSecretInput,
  type WebhookSender,
  type WebhookSenderOptions,
} from './sender';
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
export { WebhookStore, type DeliveryFilter } from './sqlite-store';
export type * from './types';
export {
  createWebhookPack,
  deliveryKeyFor,
  instanceOfDelivery,
  HANDOFF_SIGNAL,
  WEBHOOK_STEP_ERRORS,
  WebhookStepError,
  type WebhookRequestData,
} from './handlers';
export { createWebhookBridge, eventJson, instanceIdForEvent, signalSendingInstance, type BridgeRoute, type WebhookBridgeOptions } from './bridge';
