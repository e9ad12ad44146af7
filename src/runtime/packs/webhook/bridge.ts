import type { Engine } from '../../engine';
import type { Json, JsonObject } from '../../types';
import { HANDOFF_SIGNAL, instanceOfDelivery } from './handlers';
import { createWebhookReceiver, type WebhookReceiver, type WebhookReceiverOptions } from './receiver';
import type { ReceivedWebhook } from './types';

/**
 * What an accepted event does in the engine. `start`: an instance of a deployed machine, with
 * the id `webhook:<event id>` unless told, so that an event handed over twice starts one
 * instance; its input is `{ event }` unless told. `signal`: a signal to a running instance,
 * `HANDOFF_SIGNAL` with the event as payload unless told.
 */
export type BridgeRoute =
  | { start: { machine: string; id?: string; input?: JsonObject; start?: string } }
  | { signal: { instance: string; name?: string; payload?: Json } };

export interface WebhookBridgeOptions extends Omit<WebhookReceiverOptions, 'onEvent'> {
  engine: Engine;
  /** Where each accepted event goes; undefined: nowhere (it is acknowledged and recorded only). */
  route(event: ReceivedWebhook): BridgeRoute | undefined;
}

/**
 * A webhook receiver whose accepted events start or signal flow instances: verification,
 * deduplication and acknowledgement are the receiver's, so each event id reaches `route` once,
 * or again only through `processPending` after processing was cut short, which finds the
 * instance it started before. (A signal handed over again in that window is sent again: the
 * engine does not deduplicate signals.)
 */
export function createWebhookBridge(options: WebhookBridgeOptions): WebhookReceiver {
  const { engine, route, ...receiver } = options;
  return createWebhookReceiver({
    ...receiver,
    onEvent(event) {
      const target = route(event);
      if (target === undefined) return;
      if ('start' in target) {
        startOnce(engine, event, target.start);
        return;
      }
      engine.signal(target.signal.instance, target.signal.name ?? HANDOFF_SIGNAL, target.signal.payload ?? eventJson(event));
    },
  });
}

/** The route for a flow that sent the event itself: signal the instance named by the delivery id. */
export function signalSendingInstance(event: ReceivedWebhook): BridgeRoute | undefined {
  const instance = instanceOfDelivery(event.id);
  return instance === undefined ? undefined : { signal: { instance } };
}

/** The id an event's instance gets when its route names none. */
export function instanceIdForEvent(eventId: string): string {
  return `webhook:${eventId}`;
}

/** The event as plain JSON, for an instance's input or a signal's payload. */
export function eventJson(event: ReceivedWebhook): JsonObject {
  const json: JsonObject = { id: event.id, payload: event.payload as Json, signedAt: event.signedAt, receivedAt: event.receivedAt, path: event.path };
  if (event.type !== undefined) json['type'] = event.type;
  return json;
}

function startOnce(engine: Engine, event: ReceivedWebhook, start: { machine: string; id?: string; input?: JsonObject; start?: string }): void {
  const id = start.id ?? instanceIdForEvent(event.id);
  // `engine.instance` also finds an id by a unique prefix: only the exact id counts here.
  const startedBefore = () => engine.instance(id)?.id === id;
  if (startedBefore()) return;
  try {
    engine.start(start.machine, { id, input: start.input ?? { event: eventJson(event) }, ...(start.start !== undefined && { start: start.start }) });
  } catch (error) {
    // Another process started it between the look and the insert: the id is taken, as wanted.
    if (startedBefore()) return;
    throw error;
  }
}
