/**
 * `laneflow/webhooks`: Standard Webhooks (and Stripe-style) signing and verification, the
 * receiver that verifies, deduplicates and acknowledges incoming events, the bridge that starts
 * or signals a flow instance per event, and the sender with its delivery store.
 *
 * @module laneflow/webhooks
 */
export {
  createWebhookBridge,
  createWebhookReceiver,
  createWebhookSender,
  DEFAULT_RETRY_SCHEDULE,
  DEFAULT_TOLERANCE_SECONDS,
  eventJson,
  generateSecret,
  instanceIdForEvent,
  nextAttemptAt,
  signalSendingInstance,
  signStandard,
  signStripe,
  standardSignatureHeader,
  verifyStandard,
  verifyStripe,
  WebhookError,
  WebhookStore,
  type BridgeRoute,
  type DeliveryFilter,
  type RegisterEndpointInput,
  type RetrySchedule,
  type RotateSecretInput,
  type SignedContent,
  type StandardHeaders,
  type VerifyOptions,
  type WebhookBridgeOptions,
  type WebhookErrorName,
  type WebhookReceiver,
  type WebhookReceiverOptions,
  type WebhookSender,
  type WebhookSenderOptions,
} from './runtime/packs/webhook/index';
export type * from './runtime/packs/webhook/types';
