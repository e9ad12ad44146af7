/**
 * The webhook pack's flow steps (`webhook.*`), for a flow like the seed's webhook integration:
 * prepare a delivery, POST it for real through the pack's sender, branch on the answer, wait
 * with backoff and retry, and read what the receiving side made of it.
 *
 * One delivery per event: its id is `<instance>:webhook` (or the data's `webhook.key`), not the
 * per-visit idempotency key, so a flow that loops back to its send step attempts the same
 * delivery again, with the same `webhook-id`, and every attempt is recorded under it.
 *
 * The sender shares the engine's SQLite connection. Its group commit is safe beside the
 * executor's: both collect work for one event-loop turn and then run it as one synchronous
 * better-sqlite3 transaction, so neither is ever open when the other begins (no savepoint of
 * one inside the other, no commit swallowed or rolled back with the other's), and on one
 * connection in one thread nothing can wait for a lock.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { intervalBackoff, baseDelayMs } from '../../backoff';
import type { PackEnvironment, PackFactory } from '../../builtins';
import { defineDecision, definePack, defineStep, type Duration, type HandlerContext } from '../../define';
import { durationMs } from '../../duration';
import type { Json, JsonObject } from '../../types';
import { DEFAULT_RETRY_SCHEDULE, type RetrySchedule } from './retry-schedule';
import { createWebhookSender, type WebhookSender } from './sender';
import { WebhookStore } from './sqlite-store';
import type { DeliveryAttempt, WebhookDelivery, WebhookEnvelope } from './types';

/** The signal the receiver bridge sends a waiting instance when it hands an event over. */
export const HANDOFF_SIGNAL = 'webhook.received';

/**
 * The names these steps fail with, for a binding's retry and catch policies:
 * `attemptFailed` (5xx, 408, 429, timeout, no connection: worth another attempt),
 * `refused` (a 4xx other than 401, a redirect: retrying cannot fix it), `deadLetter` (the retry
 * queue will not take a delivery whose schedule ran out or that was refused), `noVerdict` (the
 * answer says nothing about the signature), `notHandedOver` (the receiver acknowledged the
 * event but did not hand it over in time), `invalidData` (the instance's data lacks what a step needs).
 */
export const WEBHOOK_STEP_ERRORS = {
  attemptFailed: 'WebhookAttemptFailed',
  refused: 'WebhookRefused',
  deadLetter: 'WebhookDeadLetter',
  noVerdict: 'WebhookNoVerdict',
  notHandedOver: 'WebhookNotHandedOver',
  invalidData: 'WebhookInvalidData',
} as const;

type WebhookStepErrorName = (typeof WEBHOOK_STEP_ERRORS)[keyof typeof WEBHOOK_STEP_ERRORS];

export class WebhookStepError extends Error {
  override readonly name: WebhookStepErrorName;

  constructor(name: WebhookStepErrorName, message: string) {
    super(message);
    this.name = name;
  }
}

/** The delivery id of the one delivery an instance makes. */
export function deliveryKeyFor(instanceId: string): string {
  return `${instanceId}:webhook`;
}

/** The instance that made a delivery, from the delivery's id (the receiver's event id). */
export function instanceOfDelivery(deliveryId: string): string | undefined {
  const suffix = ':webhook';
  return deliveryId.endsWith(suffix) && deliveryId.length > suffix.length ? deliveryId.slice(0, -suffix.length) : undefined;
}

/**
 * What `webhook.prepare` reads from the instance's `webhook` field: the registered endpoint,
 * the event's type and data, optionally the delivery id, and the attempt schedule (waits before
 * attempt 1, 2, …; the pack's default is immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
 */
export interface WebhookRequestData {
  endpoint: string;
  type: string;
  payload: Json;
  key?: string;
  schedule?: Duration[];
  /** How long `webhook.awaitHandoff` waits for the receiver's hand-off; for ever unless told. */
  handoffTimeout?: Duration;
}

/** The services of one engine: a sender per attempt schedule, and a store for queries. */
interface WebhookServices {
  sender(schedule: RetrySchedule): WebhookSender;
  store(): WebhookStore;
}

/** One set per engine (its pack environment), however often its flows' bindings are read. */
const servicesByEnvironment = new WeakMap<PackEnvironment, WebhookServices>();

function servicesOf(environment: PackEnvironment): WebhookServices {
  let services = servicesByEnvironment.get(environment);
  if (services === undefined) {
    const senders = new Map<string, WebhookSender>();
    let store: WebhookStore | undefined;
    let db: BetterSqlite3.Database | undefined;
    const database = () => (db ??= environment.database());
    services = {
      sender(schedule) {
        const key = schedule.join(',');
        let sender = senders.get(key);
        if (sender === undefined) {
          sender = createWebhookSender({ db: database(), clock: environment.clock, schedule });
          senders.set(key, sender);
        }
        return sender;
      },
      store: () => (store ??= new WebhookStore(database())),
    };
    servicesByEnvironment.set(environment, services);
  }
  return services;
}

type Context = HandlerContext<JsonObject>;

/** The delivery a step works on, with the sender for its schedule. */
function deliveryOf(services: WebhookServices, context: Context): { sender: WebhookSender; delivery: WebhookDelivery; schedule: RetrySchedule } {
  const webhook = objectField(context, 'webhook');
  const id = webhook['delivery'];
  if (typeof id !== 'string') {
    throw new WebhookStepError('WebhookInvalidData', `${context.node.id}: the instance has no webhook.delivery; run webhook.prepare first`);
  }
  const schedule = scheduleOf(context, webhook['schedule']);
  const sender = services.sender(schedule);
  const delivery = sender.delivery(id);
  if (delivery === undefined) throw new WebhookStepError('WebhookInvalidData', `${context.node.id}: there is no webhook delivery "${id}"`);
  return { sender, delivery, schedule };
}

/** The data a step records about a delivery: where it stands and how its last attempt went. */
function summary(delivery: WebhookDelivery, last: DeliveryAttempt | undefined): JsonObject {
  const result: JsonObject = { id: delivery.id, status: delivery.status, attempts: delivery.attempts };
  if (last !== undefined) {
    if (last.statusCode !== undefined) result['statusCode'] = last.statusCode;
    if (last.latencyMs !== undefined) result['latencyMs'] = Math.round(last.latencyMs * 10) / 10;
    if (last.error !== undefined) result['error'] = last.error;
  }
  if (delivery.nextAttemptAt !== undefined && (delivery.status === 'pending' || delivery.status === 'retrying')) {
    result['nextAttemptAt'] = new Date(delivery.nextAttemptAt).toISOString();
  }
  return result;
}

function lastAttempt(sender: WebhookSender, delivery: WebhookDelivery): DeliveryAttempt | undefined {
  if (delivery.attempts === 0) return undefined;
  const attempts = sender.attempts(delivery.id);
  return attempts[attempts.length - 1];
}

/** How the last answer reads: the body was refused for its signature (401), or accepted (2xx). */
function signatureVerdict(delivery: WebhookDelivery, context: Context): 'valid' | 'invalid' {
  const code = delivery.lastStatusCode;
  if (delivery.status === 'delivered') return 'valid';
  if (code === 401) return 'invalid';
  const answer = code === undefined ? (delivery.lastError ?? 'no answer') : `status ${code}`;
  throw new WebhookStepError('WebhookNoVerdict', `${context.node.id}: delivery ${delivery.id} got ${answer}, which says nothing about its signature`);
}

function describeAnswer(delivery: WebhookDelivery): string {
  if (delivery.lastStatusCode !== undefined) return `${delivery.lastStatusCode}${delivery.lastError === undefined ? '' : ` (${delivery.lastError})`}`;
  return delivery.lastError ?? 'no answer';
}

/** Built once per engine; services are created on a step's first run, inside the engine. */
export const createWebhookPack: PackFactory = (environment) => {
  const services = () => servicesOf(environment);

  return definePack('webhook', {
    /** Records the delivery (its body fixed from now on) without sending it. */
    'webhook.prepare': defineStep((context) => {
      const request = requestOf(context);
      const schedule = scheduleOf(context, request['schedule']);
      const sender = services().sender(schedule);
      const key = typeof request['key'] === 'string' ? request['key'] : deliveryKeyFor(context.instanceId);
      const delivery = sender.enqueue({ key, endpoint: request['endpoint'] as string, type: request['type'] as string, payload: request['payload'] ?? null });
      return { webhook: { delivery: key }, delivery: summary(delivery, lastAttempt(sender, delivery)) };
    }),

    /**
     * One real HTTP attempt, once the delivery is due (sleeping durably until then). A 2xx and
     * a 401 (the receiver's verdict on the signature) complete the step; otherwise it fails with
     * `WebhookAttemptFailed` (worth retrying) or `WebhookRefused` (not), for the binding's catch
     * routes. Run again for the same visit, it reports the delivery as it stands instead of
     * sending twice, unless the delivery is due again.
     */
    'webhook.send': defineStep(async (context) => {
      const { sender, delivery: before } = deliveryOf(services(), context);
      const waiting = before.status === 'pending' || before.status === 'retrying';
      if (waiting && before.nextAttemptAt !== undefined && before.nextAttemptAt > context.now().getTime()) {
        await context.sleep(new Date(before.nextAttemptAt));
      }
      const delivery = await sender.attempt(before.id);
      const patch = { delivery: summary(delivery, lastAttempt(sender, delivery)) };
      // Listed by `laneflow run` among the instance's effects; an attempt that fails the step is in the delivery's attempts instead.
      context.emit('webhook.attempt', { ...patch.delivery, endpoint: delivery.endpoint });
      if (delivery.status === 'delivered') return patch;
      if (delivery.status === 'permanent_failure') {
        if (delivery.lastStatusCode === 401) return patch;
        throw new WebhookStepError('WebhookRefused', `delivery ${delivery.id}: the endpoint answered ${describeAnswer(delivery)}, which retrying cannot fix`);
      }
      const attempt = delivery.attempts === 0 ? 'no attempt yet' : `attempt ${delivery.attempts}`;
      throw new WebhookStepError('WebhookAttemptFailed', `delivery ${delivery.id}, ${attempt}: ${describeAnswer(delivery)}`);
    }),

    /** "Response 2xx?": Yes once the delivery is delivered. */
    'webhook.delivered': defineDecision(['Yes', 'No'], (context) => (deliveryOf(services(), context).delivery.status === 'delivered' ? 'Yes' : 'No')),

    'webhook.logDelivery': defineStep((context) => {
      const { sender, delivery } = deliveryOf(services(), context);
      return { delivery: summary(delivery, lastAttempt(sender, delivery)) };
    }),

    /** Takes the delivery back for another attempt, unless its schedule ran out or it was refused. */
    'webhook.queueRetry': defineStep((context) => {
      const { sender, delivery } = deliveryOf(services(), context);
      if (delivery.status === 'failed') {
        throw new WebhookStepError('WebhookDeadLetter', `delivery ${delivery.id} is a dead letter: all ${delivery.roundAttempts} attempts of its schedule failed, the last with ${describeAnswer(delivery)}`);
      }
      if (delivery.status === 'permanent_failure' && delivery.lastStatusCode !== 401) {
        throw new WebhookStepError('WebhookDeadLetter', `delivery ${delivery.id} is a dead letter: the endpoint answered ${describeAnswer(delivery)}, which retrying cannot fix`);
      }
      return { delivery: summary(delivery, lastAttempt(sender, delivery)) };
    }),

    /**
     * Sleeps before retry `n` (the loop's iteration, else the visit) as the delivery's schedule
     * says, counted from its last attempt, and never before the sender would attempt it.
     */
    'webhook.waitWithBackoff': defineStep(async (context) => {
      const { delivery, schedule } = deliveryOf(services(), context);
      const retry = context.loop?.iteration ?? context.visit;
      const waits = intervalBackoff(schedule.length > 1 ? schedule.slice(1) : [0]);
      const waiting = delivery.status === 'pending' || delivery.status === 'retrying';
      const until = Math.max(delivery.updatedAt + baseDelayMs(waits, retry), waiting ? (delivery.nextAttemptAt ?? 0) : 0);
      if (until > context.now().getTime()) await context.sleep(new Date(until));
      return { backoffWait: { retry, until: new Date(until).toISOString() } };
    }),

    /**
     * "Retry delivery": a delivery the receiver refused for its signature (401) is opened for a
     * fresh round, so the next attempt signs with the endpoint's secrets in force by then (a
     * rotation meanwhile takes effect); one that failed in a retryable way is due by itself.
     */
    'webhook.retryDelivery': defineStep((context) => {
      const { sender, delivery } = deliveryOf(services(), context);
      if (delivery.status === 'permanent_failure' && delivery.lastStatusCode === 401) {
        services().store().restartRound(delivery.id, context.now().getTime());
      }
      const current = sender.delivery(delivery.id)!;
      return { delivery: summary(current, lastAttempt(sender, current)) };
    }),

    /** "Validate signature header": the receiver's verdict, as its answer to the POST gives it. */
    'webhook.readVerdict': defineStep((context) => {
      const { delivery } = deliveryOf(services(), context);
      return { receiver: { signature: signatureVerdict(delivery, context), statusCode: delivery.lastStatusCode ?? null } };
    }),

    'webhook.signatureValid': defineDecision(['Yes', 'No'], (context) => (signatureVerdict(deliveryOf(services(), context).delivery, context) === 'valid' ? 'Yes' : 'No')),

    /** "Parse JSON payload": the exact JSON the receiver accepted, the same on every attempt. */
    'webhook.parsePayload': defineStep((context) => {
      const { delivery } = deliveryOf(services(), context);
      const envelope = JSON.parse(delivery.body) as WebhookEnvelope;
      return { envelope: { id: envelope.id, type: envelope.type, timestamp: envelope.timestamp, data: envelope.data as Json } };
    }),

    /** "Acknowledge with 200 OK": the acknowledging attempt, its status and latency. */
    'webhook.acknowledged': defineStep((context) => {
      const { sender, delivery } = deliveryOf(services(), context);
      const last = lastAttempt(sender, delivery);
      if (delivery.status !== 'delivered' || last === undefined) {
        throw new WebhookStepError('WebhookNoVerdict', `${context.node.id}: delivery ${delivery.id} is ${delivery.status}, not acknowledged`);
      }
      return { acknowledged: { ...summary(delivery, last), at: new Date(last.startedAt).toISOString() } };
    }),

    /** "Return 401 Unauthorized", "Return 400 Bad Request": the refusing answer, recorded. */
    'webhook.recordRefusal': defineStep((context) => {
      const { sender, delivery } = deliveryOf(services(), context);
      return { refusal: { ...summary(delivery, lastAttempt(sender, delivery)), ...(context.caught !== undefined && { reason: context.caught.message }) } };
    }),

    /**
     * "Queue for async processing": waits for the receiver bridge to hand the event over
     * (`HANDOFF_SIGNAL`, sent after the receiver verified, recorded and acknowledged it), and
     * records the event as the receiver got it.
     */
    'webhook.awaitHandoff': defineStep(async (context) => {
      const timeout = objectField(context, 'webhook')['handoffTimeout'];
      const result = await context.waitFor(HANDOFF_SIGNAL, typeof timeout === 'string' || typeof timeout === 'number' ? { timeout: timeout as Duration } : {});
      if (!result.received) {
        throw new WebhookStepError('WebhookNotHandedOver', `${context.node.id}: the receiver did not hand the event over within ${String(timeout)}`);
      }
      return { received: result.payload };
    }),
  });
};

function objectField(context: Context, name: string): JsonObject {
  const value = context.data[name];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new WebhookStepError('WebhookInvalidData', `${context.node.id}: the instance's data has no ${name} object`);
  }
  return value;
}

function requestOf(context: Context): JsonObject {
  const request = objectField(context, 'webhook');
  const problems: string[] = [];
  if (typeof request['endpoint'] !== 'string') problems.push('webhook.endpoint (a registered endpoint id)');
  if (typeof request['type'] !== 'string') problems.push('webhook.type (the event type)');
  if (!('payload' in request)) problems.push('webhook.payload (the event data)');
  if (problems.length > 0) throw new WebhookStepError('WebhookInvalidData', `${context.node.id}: the instance's data lacks ${problems.join(', ')}`);
  return request;
}

/** The attempt schedule in the data (durations), or the pack's default. */
function scheduleOf(context: Context, given: Json | undefined): RetrySchedule {
  if (given === undefined || given === null) return DEFAULT_RETRY_SCHEDULE;
  const waits = Array.isArray(given) ? given.map((wait) => (typeof wait === 'string' || typeof wait === 'number' ? durationMs(wait) : undefined)) : [];
  if (waits.length === 0 || waits.some((ms) => ms === undefined)) {
    throw new WebhookStepError('WebhookInvalidData', `${context.node.id}: webhook.schedule ${JSON.stringify(given)} is not a list of durations such as ["0s", "5s", "5m"]`);
  }
  return waits as number[];
}
