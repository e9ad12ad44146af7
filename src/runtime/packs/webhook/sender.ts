import type Database from 'better-sqlite3';
import type { OutgoingHttpHeaders } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { classifyAttempt } from './classify';
import { WebhookError } from './errors';
import { GroupCommit } from './group-commit';
import { createHttpPoster, type HttpPoster } from './http-post';
import { DEFAULT_RETRY_SCHEDULE, nextAttemptAt, type RetrySchedule } from './retry-schedule';
import { generateSecret, secretKey } from './secrets';
import { signStripe, standardSignatureHeader } from './signature';
import { WebhookStore, type DeliveryFilter } from './sqlite-store';
import type {
  DeliveryAttempt,
  DeliveryStatus,
  EndpointSecret,
  RegisteredEndpoint,
  SendRequest,
  SignatureScheme,
  WebhookClock,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEnvelope,
} from './types';

export interface WebhookSenderOptions {
  /** The engine's database (WAL mode); the sender adds its `webhook_*` tables. */
  db: Database.Database;
  /** UTC milliseconds; the wall clock unless told. Retries are due by this clock. */
  clock?: WebhookClock;
  schedule?: RetrySchedule;
  /** Longest wait for one attempt's complete response. */
  timeoutMs?: number;
  /** Kept-alive connections per endpoint host. */
  maxSockets?: number;
  /** Attempts `deliverDue` runs at once. */
  concurrency?: number;
  userAgent?: string;
}

export interface RegisterEndpointInput {
  /** The endpoint's name, chosen by the caller: registering it again is a no-op. */
  id: string;
  url: string;
  scheme?: SignatureScheme;
  /** A `whsec_` secret to use; one is generated when absent. */
  secret?: string;
}

export interface RotateSecretInput {
  /** Idempotency key of the rotation: the same key never rotates twice. */
  key: string;
  /** How long the old secrets stay valid beside the new one; a day unless told. */
  overlapMs?: number;
  secret?: string;
}

export interface WebhookSender {
  registerEndpoint(input: RegisterEndpointInput): RegisteredEndpoint;
  rotateSecret(endpoint: string, input: RotateSecretInput): EndpointSecret;
  /** The secrets a delivery to `endpoint` is signed with at `at` (now unless told), newest first. */
  secretsAt(endpoint: string, at?: number): EndpointSecret[];
  /** Records the delivery (once per key) without sending it; `deliverDue` sends it. */
  enqueue(request: SendRequest): WebhookDelivery;
  /**
   * Records the delivery once per key and makes its first attempt now; returns the delivery as
   * it stands afterwards. Called again with the same key it sends nothing more once delivered
   * (or dead): it returns the stored state, after any attempt still in flight.
   */
  send(request: SendRequest): Promise<WebhookDelivery>;
  /** One attempt of one delivery, if it is due and not held by another attempt. */
  attempt(id: string): Promise<WebhookDelivery>;
  /** Attempts every delivery due by the clock (at most `limit`); returns them as they ended. */
  deliverDue(limit?: number): Promise<WebhookDelivery[]>;
  /** When the next waiting delivery is due; undefined when none waits. */
  nextDueAt(): number | undefined;
  /** Retries a dead letter or permanent failure by command: a fresh round, first attempt now. */
  redeliver(id: string): Promise<WebhookDelivery>;
  delivery(id: string): WebhookDelivery | undefined;
  attempts(id: string): DeliveryAttempt[];
  deliveries(filter?: DeliveryFilter): WebhookDelivery[];
  /**
   * Runs `deliverDue` every `intervalMs` (1 s) until the returned stop is called, for when no
   * engine timer drives the retries; stop resolves once the pass under way has finished.
   */
  startRetrying(intervalMs?: number): () => Promise<void>;
  /** Closes idle connections; attempts in flight finish. */
  close(): void;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_OVERLAP_MS = 24 * 60 * 60 * 1000;
/** A claim outlives the attempt's timeout by this much before another sender may take it over. */
const LEASE_MARGIN_MS = 30_000;
/** Header values must be visible ASCII; ids go into `webhook-id` unchanged. */
const HEADER_SAFE_ID = /^[\x21-\x7e]{1,255}$/;

/**
 * Delivers signed webhooks exactly once per idempotency key, as far as the store can tell: a
 * delivery is recorded before it is sent and its outcome in the same transaction as the attempt.
 * On the wire it is at least once: if the process stops between the POST and that
 * transaction, the claim's lease runs out and the next attempt sends the same `webhook-id`
 * again, which the receiver's deduplication absorbs.
 */
export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const store = new WebhookStore(options.db);
  const clock = options.clock ?? { now: () => Date.now() };
  const schedule = options.schedule ?? DEFAULT_RETRY_SCHEDULE;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const concurrency = options.concurrency ?? 32;
  const userAgent = options.userAgent ?? 'laneflow-webhooks/0.1';
  const poster: HttpPoster = createHttpPoster({ maxSockets: options.maxSockets ?? 64 });
  /** Attempts this process is making, so a second caller waits for the first one's outcome. */
  const inFlight = new Map<string, Promise<WebhookDelivery>>();
  const commits = new GroupCommit(options.db);
  const endpoints = new Map<string, WebhookEndpoint>();

  function registerEndpoint(input: RegisterEndpointInput): RegisteredEndpoint {
    const scheme = input.scheme ?? 'standard';
    const url = checkedUrl(input.url);
    const existing = endpointById(input.id);
    if (existing) {
      if (existing.url !== url || existing.scheme !== scheme) {
        throw new WebhookError(
          'WebhookEndpointConflict',
          `Endpoint "${input.id}" is registered with ${existing.scheme} signing to ${existing.url}.`,
        );
      }
      return { endpoint: existing, secret: store.latestSecret(input.id)! };
    }
    const secret = input.secret ?? generateSecret();
    secretKey(secret);
    const endpoint = { id: input.id, url, scheme, createdAt: clock.now() };
    store.insertEndpoint(endpoint, secret);
    return { endpoint, secret: store.latestSecret(input.id)! };
  }

  function rotateSecret(endpoint: string, input: RotateSecretInput): EndpointSecret {
    requireEndpoint(endpoint);
    const secret = input.secret ?? generateSecret();
    secretKey(secret);
    return store.rotate(endpoint, input.key, secret, clock.now(), input.overlapMs ?? DEFAULT_OVERLAP_MS);
  }

  function enqueue(request: SendRequest): WebhookDelivery {
    checkRequest(request);
    return insertChecked(request);
  }

  async function send(request: SendRequest): Promise<WebhookDelivery> {
    checkRequest(request);
    const running = inFlight.get(request.key);
    if (!running) return attempt(request.key, () => insertChecked(request));
    await commits.run(() => insertChecked(request));
    return running;
  }

  /**
   * Claims the delivery (after `prepare`, in the same transaction) and, if the claim holds,
   * posts it. Registered as in flight at once, so that callers in the same tick share it.
   */
  function attempt(id: string, prepare?: () => void): Promise<WebhookDelivery> {
    const running = inFlight.get(id);
    if (running) return running;
    const started = (async () => {
      const claimed = await commits.run(() => {
        prepare?.();
        const now = clock.now();
        const claim = store.claim(id, now, now + timeoutMs + LEASE_MARGIN_MS);
        return claim && { ...claim, now };
      });
      if (claimed) return post(claimed.delivery, claimed.attempt, claimed.now);
      const stored = store.delivery(id);
      if (!stored) throw new WebhookError('WebhookUnknownDelivery', `No webhook delivery "${id}".`);
      return stored;
    })().finally(() => inFlight.delete(id));
    inFlight.set(id, started);
    return started;
  }

  function checkRequest(request: SendRequest): void {
    if (!HEADER_SAFE_ID.test(request.key)) {
      throw new WebhookError('WebhookInvalidRequest', 'An idempotency key must be 1 to 255 visible ASCII characters.');
    }
    requireEndpoint(request.endpoint);
  }

  /** Records the delivery unless its key is known, and checks a known key means the same event. */
  function insertChecked(request: SendRequest): WebhookDelivery {
    const now = clock.now();
    const envelope: WebhookEnvelope = {
      id: request.key,
      type: request.type,
      timestamp: new Date(now).toISOString(),
      data: request.payload,
    };
    const { delivery, created } = store.insertDelivery({
      id: request.key,
      endpoint: request.endpoint,
      eventType: request.type,
      body: JSON.stringify(envelope),
      now,
      firstAttemptAt: nextAttemptAt(0, now, schedule) ?? now,
    });
    if (!created) requireSameRequest(delivery, request);
    return delivery;
  }

  async function post(delivery: WebhookDelivery, attemptNumber: number, startedAt: number): Promise<WebhookDelivery> {
    const endpoint = endpointById(delivery.endpoint)!;
    const secrets = store.secretsAt(endpoint.id, startedAt).map((s) => s.secret);
    const result = await poster.post(
      new URL(endpoint.url),
      signedHeaders(endpoint.scheme, delivery, secrets, startedAt),
      delivery.body,
      timeoutMs,
    );
    const classification = classifyAttempt(result.statusCode);
    const endedAt = clock.now();
    const retryAt = classification === 'retryable' ? nextAttemptAt(delivery.roundAttempts, endedAt, schedule) : undefined;
    return commits.run(() => store.settle(delivery.id, {
      attempt: {
        delivery: delivery.id,
        attempt: attemptNumber,
        startedAt,
        ...(result.statusCode !== undefined && { statusCode: result.statusCode }),
        latencyMs: result.latencyMs,
        ...(result.error !== undefined && { error: result.error }),
        classification,
      },
      status: statusAfter(classification, retryAt),
      ...(retryAt !== undefined && { nextAttemptAt: retryAt }),
      now: endedAt,
    }));
  }

  function signedHeaders(
    scheme: SignatureScheme,
    delivery: WebhookDelivery,
    secrets: string[],
    now: number,
  ): OutgoingHttpHeaders {
    // A fresh timestamp on every attempt: a retry hours later must still pass the receiver's
    // five-minute tolerance. The id stays the same, which is what the receiver dedups on.
    const timestamp = Math.floor(now / 1000);
    const common = { 'content-type': 'application/json', 'user-agent': userAgent, 'webhook-id': delivery.id };
    if (scheme === 'stripe') {
      return { ...common, 'stripe-signature': signStripe({ timestamp, body: delivery.body }, secrets) };
    }
    const content = { id: delivery.id, timestamp, body: delivery.body };
    return { ...common, 'webhook-timestamp': String(timestamp), 'webhook-signature': standardSignatureHeader(content, secrets) };
  }

  async function deliverDue(limit = 1000): Promise<WebhookDelivery[]> {
    const ids = store.dueIds(clock.now(), limit);
    const results: WebhookDelivery[] = new Array(ids.length);
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const index = next++;
        results[index] = await attempt(ids[index]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
    return results;
  }

  async function redeliver(id: string): Promise<WebhookDelivery> {
    const delivery = store.delivery(id);
    if (!delivery) throw new WebhookError('WebhookUnknownDelivery', `No webhook delivery "${id}".`);
    if (!store.restartRound(id, clock.now())) {
      throw new WebhookError(
        'WebhookNotRedeliverable',
        `Delivery "${id}" is ${delivery.status}; only failed and permanent_failure deliveries can be redelivered.`,
      );
    }
    return attempt(id);
  }

  function startRetrying(intervalMs = 1000): () => Promise<void> {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let pass: Promise<unknown> = Promise.resolve();
    const tick = () => {
      pass = deliverDue().finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
    };
    timer = setTimeout(tick, intervalMs);
    return async () => {
      stopped = true;
      clearTimeout(timer);
      await pass.catch(() => undefined);
    };
  }

  /** Endpoints never change once registered, so each is read from the store once. */
  function endpointById(id: string): WebhookEndpoint | undefined {
    let endpoint = endpoints.get(id);
    if (!endpoint) {
      endpoint = store.endpoint(id);
      if (endpoint) endpoints.set(id, endpoint);
    }
    return endpoint;
  }

  function requireEndpoint(id: string): void {
    if (!endpointById(id)) throw new WebhookError('WebhookUnknownEndpoint', `No webhook endpoint "${id}" is registered.`);
  }

  return {
    registerEndpoint,
    rotateSecret,
    secretsAt: (endpoint, at) => store.secretsAt(endpoint, at ?? clock.now()),
    enqueue,
    send,
    attempt: (id) => attempt(id),
    deliverDue,
    nextDueAt: () => store.nextDueAt(),
    redeliver,
    delivery: (id) => store.delivery(id),
    attempts: (id) => store.attempts(id),
    deliveries: (filter) => store.deliveries(filter),
    startRetrying,
    close: () => poster.close(),
  };
}

function statusAfter(classification: DeliveryAttempt['classification'], retryAt: number | undefined): DeliveryStatus {
  if (classification === 'delivered') return 'delivered';
  if (classification === 'permanent') return 'permanent_failure';
  return retryAt === undefined ? 'failed' : 'retrying';
}

function isWaiting(status: DeliveryStatus): boolean {
  return status === 'pending' || status === 'retrying';
}

function checkedUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookError('WebhookInvalidRequest', `"${text}" is not a URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebhookError('WebhookInvalidRequest', `A webhook URL must be http or https, not ${url.protocol}.`);
  }
  return url.href;
}

/**
 * The same key must mean the same event: a handler that retries with a different payload has
 * a bug, and silently keeping the first payload would hide it.
 */
function requireSameRequest(stored: WebhookDelivery, request: SendRequest): void {
  const envelope = JSON.parse(stored.body) as WebhookEnvelope;
  const same =
    stored.endpoint === request.endpoint &&
    stored.eventType === request.type &&
    isDeepStrictEqual(envelope.data, JSON.parse(JSON.stringify(request.payload)));
  if (!same) {
    throw new WebhookError(
      'WebhookKeyConflict',
      `Idempotency key "${request.key}" was already used for a different ${stored.eventType} delivery to "${stored.endpoint}".`,
    );
  }
}
