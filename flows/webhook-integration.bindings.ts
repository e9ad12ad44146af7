// Handlers for webhook-integration.flow, on the built-in webhook pack. An instance follows one
// event across both systems the diagram draws: the sender's steps POST it for real (signed with
// the endpoint's secret, one delivery id per event, every attempt recorded with its status code
// and latency); the receiver lane reads the receiver's answer (a 401 means it refused the
// signature, and the diagram's 401 path leads back to the retry loop); a failed attempt goes
// round the loop, "retry up to 5 times", waiting as the delivery's schedule says. The receiver
// (`createWebhookBridge` with `signalSendingInstance`) hands the accepted event back to the
// instance, whose event processor lane then processes the event as the receiver got it.
//
// Input: `{ "endpoint": "<registered endpoint id>", "event": { "id", "type", "amountCents" } }`.
import { defineBindings } from '../src/runtime/define';
import { WEBHOOK_STEP_ERRORS, type WebhookRequestData } from '../src/runtime/packs/webhook/handlers';
import type { Flow } from './webhook-integration.flow';

interface BillingEvent {
  id: string;
  type: string;
  amountCents: number;
}

interface WebhookData {
  endpoint: string;
  event: BillingEvent;
  webhook?: WebhookRequestData & { delivery?: string };
  /** What the receiver handed over: the envelope it verified and parsed, under `payload`. */
  received?: { id: string; payload: { id: string; type: string; data: BillingEvent } };
  incoming?: BillingEvent;
  route?: 'billing' | 'ignore';
  ledger?: { paidCents: number; refundedCents: number };
  processed?: string[];
}

/**
 * The pack's default schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) cut to
 * the six attempts the diagram's loop allows: the first and five retries. The delivery becomes a
 * dead letter when the last fails, as the loop runs out.
 */
const ATTEMPTS = ['0s', '5s', '5m', '30m', '2h', '5h'] as const;

const DEFAULT_EVENT: BillingEvent = { id: 'evt_0001', type: 'invoice.paid', amountCents: 2_900 };

class MalformedEvent extends Error {
  override name = 'MalformedEvent';
}

export default defineBindings<Flow, WebhookData>({
  nodes: {
    'Event occurs': (ctx) => {
      const event = ctx.data.event ?? DEFAULT_EVENT;
      return { event, webhook: { endpoint: ctx.data.endpoint ?? 'webhook-integration', type: event.type, payload: { ...event }, schedule: [...ATTEMPTS] } };
    },
    'Prepare webhook payload': {
      handler: 'webhook.prepare',
      retry: [{ errorEquals: [WEBHOOK_STEP_ERRORS.invalidData, 'WebhookUnknownEndpoint', 'WebhookKeyConflict'], maxAttempts: 0 }, {}],
    },
    'Send HTTP POST request': {
      handler: 'webhook.send',
      // The diagram's loop retries a failed attempt, so the engine does not retry it in place.
      retry: [{ errorEquals: [WEBHOOK_STEP_ERRORS.attemptFailed, WEBHOOK_STEP_ERRORS.refused], maxAttempts: 0 }, {}],
      catch: [
        { errorEquals: [WEBHOOK_STEP_ERRORS.attemptFailed], next: 'Response 2xx?' },
        { errorEquals: [WEBHOOK_STEP_ERRORS.refused], next: 'Return 400 Bad Request' },
      ],
    },
    'Response 2xx?': 'webhook.delivered',
    'Log successful delivery': 'webhook.logDelivery',
    'Validate signature header': 'webhook.readVerdict',
    'Signature valid?': 'webhook.signatureValid',
    // A body that does not parse takes the diagram's 400 path at once instead of retrying the parse.
    'Parse JSON payload': { handler: 'webhook.parsePayload', retry: false, catch: { next: 'Return 400 Bad Request', errorEquals: ['SyntaxError'] } },
    'Acknowledge with 200 OK': 'webhook.acknowledged',
    'Return 401 Unauthorized': 'webhook.recordRefusal',
    'Return 400 Bad Request': 'webhook.recordRefusal',
    'Queue for async processing': 'webhook.awaitHandoff',
    'Add to retry queue': {
      handler: 'webhook.queueRetry',
      retry: [{ errorEquals: [WEBHOOK_STEP_ERRORS.deadLetter], maxAttempts: 0 }, {}],
    },
    'Wait with backoff': 'webhook.waitWithBackoff',
    'Retry delivery': 'webhook.retryDelivery',
    'Deserialize event data': {
      handler: (ctx) => {
        const data = ctx.data.received?.payload.data;
        if (data === undefined || typeof data.id !== 'string' || typeof data.type !== 'string' || !Number.isInteger(data.amountCents)) {
          throw new MalformedEvent(`the event handed over is not a billing event: ${JSON.stringify(ctx.data.received ?? null)}`);
        }
        return { incoming: { id: data.id, type: data.type, amountCents: data.amountCents } };
      },
      retry: false,
    },
    'Route to handler': (ctx) => ({ route: ctx.data.incoming!.type.startsWith('invoice.') ? 'billing' : 'ignore' }),
    'Execute business logic': (ctx) => {
      const ledger = ctx.data.ledger ?? { paidCents: 0, refundedCents: 0 };
      const { type, amountCents } = ctx.data.incoming!;
      if (ctx.data.route !== 'billing') return {};
      if (type === 'invoice.paid') return { ledger: { ...ledger, paidCents: ledger.paidCents + amountCents } };
      if (type === 'invoice.refunded') return { ledger: { ...ledger, refundedCents: ledger.refundedCents + amountCents } };
      return {};
    },
    'Update local state': (ctx) => ({ processed: [...(ctx.data.processed ?? []), ctx.data.incoming!.id] }),
  },
});
