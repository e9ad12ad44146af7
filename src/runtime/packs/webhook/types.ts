/**
 * The webhook pack's data: endpoints and their secrets, deliveries and their attempts, received
 * events and the receiver's counters. Plain JSON; timestamps are UTC milliseconds since the
 * Unix epoch, the engine's convention. The pack declares its own JSON type (the same shape as
 * the engine's) so that it compiles on its own while the engine's types are still moving.
 */

export type WebhookJson = null | boolean | number | string | WebhookJson[] | { [key: string]: WebhookJson };

/**
 * Anything with `now()` in UTC milliseconds; the engine's `Clock` fits, so does a test's
 * virtual clock.
 */
export interface WebhookClock {
  now(): number;
}

/**
 * How a delivery is signed. `standard`: Standard Webhooks (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature: v1,<base64>`). `stripe`: Stripe's `stripe-signature: t=…,v1=<hex>`.
 */
export type SignatureScheme = 'standard' | 'stripe';

export interface WebhookEndpoint {
  id: string;
  url: string;
  scheme: SignatureScheme;
  createdAt: number;
}

/**
 * One version of an endpoint's secret. A rotation gives the old versions a `validUntil` and
 * adds a new one, so during the overlap every delivery carries a signature for each.
 */
export interface EndpointSecret {
  endpoint: string;
  version: number;
  /** `whsec_` + base64 of the key bytes. */
  secret: string;
  validFrom: number;
  validUntil?: number;
}

/** What `registerEndpoint` returns: the endpoint and the secret now in force. */
export interface RegisteredEndpoint {
  endpoint: WebhookEndpoint;
  secret: EndpointSecret;
}

/**
 * `pending`: not tried yet; `retrying`: failed in a retryable way and due again at
 * `nextAttemptAt`; `delivered`: got a 2xx; `failed`: the retry schedule ran out (the dead
 * letter, retried only by `redeliver`); `permanent_failure`: a response that retrying cannot
 * fix (a 4xx other than 408/429, a redirect).
 */
export type DeliveryStatus = 'pending' | 'retrying' | 'delivered' | 'failed' | 'permanent_failure';

/** How one attempt's outcome counts: 2xx; 408/429/5xx/network/timeout; anything else. */
export type AttemptClassification = 'delivered' | 'retryable' | 'permanent';

export interface WebhookDelivery {
  /** The caller's idempotency key, sent as `webhook-id`. */
  id: string;
  endpoint: string;
  eventType: string;
  /** The exact JSON text sent, the same on every attempt. */
  body: string;
  status: DeliveryStatus;
  /** Attempts made, all rounds together: the next attempt's number is this + 1. */
  attempts: number;
  /** Attempts in the current round: `redeliver` starts a new round at the schedule's start. */
  roundAttempts: number;
  nextAttemptAt?: number;
  createdAt: number;
  updatedAt: number;
  lastStatusCode?: number;
  lastError?: string;
}

export interface DeliveryAttempt {
  delivery: string;
  /** 1 for the first attempt; numbers go on across `redeliver` rounds. */
  attempt: number;
  startedAt: number;
  statusCode?: number;
  /** Wall time of the HTTP exchange; absent for an attempt interrupted by a crash. */
  latencyMs?: number;
  error?: string;
  classification: AttemptClassification;
}

/** What a flow handler asks the sender to deliver. */
export interface SendRequest {
  /** Idempotency key (the handler's `instanceId:nodeId:visit`): one delivery per key, ever. */
  key: string;
  endpoint: string;
  /** The event's type, e.g. `invoice.paid`; sent in the body's `type`. */
  type: string;
  /** The event's data; sent in the body's `data`. */
  payload: WebhookJson;
}

/** The JSON body every delivery sends, as the Standard Webhooks spec recommends (plus `id`). */
export interface WebhookEnvelope {
  id: string;
  type: string;
  /** When the event was enqueued, ISO 8601 UTC; fixed across retries so the body is too. */
  timestamp: string;
  data: WebhookJson;
}

/** An event the receiver verified, parsed and recorded; handed to `onEvent`. */
export interface ReceivedWebhook {
  /** `webhook-id` (Standard Webhooks) or the body's `id` (Stripe scheme): the dedup key. */
  id: string;
  /** The body's `type` when it has one. */
  type?: string;
  payload: WebhookJson;
  /** The signature's timestamp. */
  signedAt: number;
  receivedAt: number;
  /** The request path the event came in on (one receiver can serve several endpoints). */
  path: string;
}

/**
 * Every way a request to the receiver can end. `accepted` and `duplicate` answer 200; the rest
 * are refusals, each with its own status (see `receiver.ts`).
 */
export type ReceiverOutcome =
  | 'accepted'
  | 'duplicate'
  | 'bad_signature'
  | 'stale_timestamp'
  | 'missing_headers'
  | 'malformed_json'
  | 'too_large'
  | 'timeout'
  | 'unknown_endpoint'
  | 'method_not_allowed'
  | 'bad_request'
  | 'internal_error';

/** Counters per request outcome, plus what happened to accepted events afterwards. */
export type ReceiverMetrics = Record<ReceiverOutcome | 'processed' | 'processing_failed', number>;

/** Why a signature check failed, or which secret (by position) matched. */
export type VerifyResult =
  | { ok: true; secretIndex: number; timestamp: number }
  | { ok: false; reason: 'missing_headers' | 'stale_timestamp' | 'bad_signature' };
