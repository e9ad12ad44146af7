// Handlers for webhook-integration.flow: a sender signs an event with HMAC-SHA256 and posts it;
// the receiver checks the signature, acknowledges and processes it, or answers 401, which sends
// the delivery round the retry loop (bounded by the loop's "up to 5 times") with a durable
// exponential backoff. The HTTP hop is simulated in process: the request and response are data.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { defineBindings } from '../src/runtime/define';
import type { Flow } from './webhook-integration.flow';

interface WebhookEvent {
  id: string;
  type: string;
  amountCents: number;
}

interface WebhookData {
  event: WebhookEvent;
  /** The secret the sender signs with, and the one the receiver expects. */
  senderSecret: string;
  receiverSecret: string;
  /** On this retry the sender re-fetches the signing secret (0: never). */
  refreshSecretOnRetry: number;
  request?: { deliveryId: string; body: string; timestamp: number; signature: string };
  signatureValid?: boolean;
  parsed?: WebhookEvent;
  response?: { status: number; body: string };
  queued?: string;
  route?: string;
  ledger?: { paidCents: number; refundedCents: number };
  processed?: string[];
  delivered?: { deliveryId: string; status: number };
  retries?: number;
  backoffSeconds?: number;
}

const DEFAULT_SECRET = 'whsec_test_secret';

function sign(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export default defineBindings<Flow, WebhookData>({
  nodes: {
    'Event occurs': (ctx) => ({
      event: ctx.data.event ?? { id: 'evt_0001', type: 'invoice.paid', amountCents: 2_900 },
      senderSecret: ctx.data.senderSecret ?? DEFAULT_SECRET,
      receiverSecret: ctx.data.receiverSecret ?? DEFAULT_SECRET,
      refreshSecretOnRetry: ctx.data.refreshSecretOnRetry ?? 0,
    }),
    'Prepare webhook payload': (ctx) => {
      const body = JSON.stringify(ctx.data.event);
      const timestamp = Math.floor(ctx.now().getTime() / 1000);
      return { request: { deliveryId: '', body, timestamp, signature: sign(ctx.data.senderSecret, timestamp, body) } };
    },
    // Each attempt is its own visit, so the delivery id (the idempotency key) differs per attempt
    // and the receiver can dedupe a redelivered attempt.
    'Send HTTP POST request': (ctx) => {
      ctx.emit('webhook.post', { deliveryId: ctx.idempotencyKey, body: ctx.data.request!.body });
      return { request: { deliveryId: ctx.idempotencyKey } };
    },
    'Validate signature header': (ctx) => {
      const { body, timestamp, signature } = ctx.data.request!;
      const expected = Buffer.from(sign(ctx.data.receiverSecret, timestamp, body), 'hex');
      const given = Buffer.from(signature, 'hex');
      return { signatureValid: given.length === expected.length && timingSafeEqual(given, expected) };
    },
    'Signature valid?': (ctx) => (ctx.data.signatureValid === true ? 'Yes' : 'No'),
    // A body that is not JSON is the sender's fault: answer 400 at once instead of retrying the parse.
    'Parse JSON payload': {
      handler: (ctx) => ({ parsed: JSON.parse(ctx.data.request!.body) as WebhookEvent }),
      retry: false,
      catch: { next: 'Return 400 Bad Request', errorEquals: ['SyntaxError'] },
    },
    'Acknowledge with 200 OK': () => ({ response: { status: 200, body: 'ok' } }),
    'Return 401 Unauthorized': () => ({ response: { status: 401, body: 'invalid signature' } }),
    'Return 400 Bad Request': () => ({ response: { status: 400, body: 'malformed payload' } }),
    'Queue for async processing': (ctx) => {
      ctx.emit('queue.event', { eventId: ctx.data.parsed!.id });
      return { queued: ctx.data.parsed!.id };
    },
    'Response 2xx?': (ctx) => (ctx.data.response!.status >= 200 && ctx.data.response!.status < 300 ? 'Yes' : 'No'),
    'Log successful delivery': (ctx) => ({ delivered: { deliveryId: ctx.data.request!.deliveryId, status: ctx.data.response!.status } }),
    'Add to retry queue': (ctx) => ({ retries: ctx.loop!.iteration }),
    'Wait with backoff': async (ctx) => {
      const seconds = 2 ** (ctx.loop!.iteration - 1) * 30;
      await ctx.sleep(seconds * 1000);
      return { backoffSeconds: seconds };
    },
    'Retry delivery': (ctx) => {
      if (ctx.data.refreshSecretOnRetry !== ctx.loop!.iteration) return {};
      // The sender re-fetches its signing secret: re-sign the same body with the receiver's.
      const { body, timestamp } = ctx.data.request!;
      return { senderSecret: ctx.data.receiverSecret, request: { signature: sign(ctx.data.receiverSecret, timestamp, body) } };
    },
    'Deserialize event data': (ctx) => ({ parsed: { ...ctx.data.parsed! } }),
    'Route to handler': (ctx) => ({ route: ctx.data.parsed!.type.startsWith('invoice.') ? 'billing' : 'ignore' }),
    'Execute business logic': (ctx) => {
      const ledger = ctx.data.ledger ?? { paidCents: 0, refundedCents: 0 };
      const { type, amountCents } = ctx.data.parsed!;
      if (ctx.data.route !== 'billing') return {};
      if (type === 'invoice.paid') return { ledger: { ...ledger, paidCents: ledger.paidCents + amountCents } };
      if (type === 'invoice.refunded') return { ledger: { ...ledger, refundedCents: ledger.refundedCents + amountCents } };
      return {};
    },
    'Update local state': (ctx) => ({ processed: [...(ctx.data.processed ?? []), ctx.data.parsed!.id] }),
  },
});
