import http from 'node:http';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createWebhookReceiver,
  generateSecret,
  signStandard,
  type ReceivedWebhook,
  type ReceiverMetrics,
  type WebhookReceiver,
  type WebhookReceiverOptions,
} from '../../../src/runtime/packs/webhook';
import { ManualClock, tempDatabase } from './helpers';

let database: ReturnType<typeof tempDatabase>;
let clock: ManualClock;
let secret: string;
let events: ReceivedWebhook[];
let receiver: WebhookReceiver;
let base: string;

async function startReceiver(overrides: Partial<WebhookReceiverOptions> = {}): Promise<void> {
  receiver = createWebhookReceiver({
    db: database.db,
    clock,
    secretsFor: (path) => (path === '/hooks' ? [secret] : []),
    onEvent: (event) => void events.push(event),
    ...overrides,
  });
  base = await receiver.listen();
}

beforeEach(() => {
  database = tempDatabase();
  clock = new ManualClock(Date.UTC(2025, 5, 1, 12));
  secret = generateSecret();
  events = [];
});

afterEach(async () => {
  await receiver.close();
  database.cleanup();
});

interface Sent {
  status: number;
  body: string;
}

/** One request on a fresh connection, so a refused request cannot affect the next. */
function send(headers: Record<string, string>, body: string | Buffer, path = '/hooks', method = 'POST'): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${base}${path}`, { method, headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body: Buffer.concat(chunks).toString() }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

function signed(body: string | Buffer, options: { id?: string; at?: number; key?: string } = {}): Record<string, string> {
  const id = options.id ?? 'msg_1';
  const timestamp = Math.floor((options.at ?? clock.now()) / 1000);
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signStandard({ id, timestamp, body }, options.key ?? secret),
  };
}

function countReceived(): number {
  return (database.db.prepare('SELECT count(*) AS n FROM webhook_received').get() as { n: number }).n;
}

function expectOnly(metrics: ReceiverMetrics, counted: Partial<ReceiverMetrics>): void {
  const zero = Object.fromEntries(Object.keys(metrics).map((k) => [k, 0]));
  expect(metrics).toEqual({ ...zero, ...counted });
}

const EVENT = JSON.stringify({ id: 'inst-1:n4:1', type: 'invoice.paid', timestamp: '2025-06-01T12:00:00.000Z', data: { amount: 1200 } });

describe('webhook receiver', () => {
  it('acknowledges a valid webhook with 200 and processes it once', async () => {
    await startReceiver();
    const response = await send(signed(EVENT, { id: 'inst-1:n4:1' }), EVENT);
    expect(response).toEqual({ status: 200, body: '{"received":true}' });
    await receiver.idle();
    expect(events).toEqual([
      {
        id: 'inst-1:n4:1',
        type: 'invoice.paid',
        payload: JSON.parse(EVENT),
        signedAt: Math.floor(clock.now() / 1000) * 1000,
        receivedAt: clock.now(),
        path: '/hooks',
      },
    ]);
    expectOnly(receiver.metrics(), { accepted: 1, processed: 1 });
  });

  it('answers a repeated event id with 200 and does not process it again, re-signed or replayed', async () => {
    await startReceiver();
    const headers = signed(EVENT, { id: 'msg_dup' });
    expect((await send(headers, EVENT)).status).toBe(200);
    // A replay of the same request, and a retry signed later with the same id.
    expect(await send(headers, EVENT)).toEqual({ status: 200, body: '{"received":true,"duplicate":true}' });
    clock.advance(60 * 60 * 1000);
    expect((await send(signed(EVENT, { id: 'msg_dup' }), EVENT)).status).toBe(200);
    await receiver.idle();
    expect(events.map((e) => e.id)).toEqual(['msg_dup']);
    expectOnly(receiver.metrics(), { accepted: 1, duplicate: 2, processed: 1 });
  });

  it('records the event before acknowledging, and processes it only after the 200', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let finished = false;
    await startReceiver({
      onEvent: async () => {
        await gate;
        finished = true;
      },
    });
    const response = await send(signed(EVENT, { id: 'msg_slow' }), EVENT);
    expect(response.status).toBe(200);
    expect(finished).toBe(false);
    expect(database.db.prepare('SELECT status FROM webhook_received WHERE event_id = ?').get('msg_slow')).toEqual({ status: 'received' });
    release();
    await receiver.idle();
    expect(finished).toBe(true);
    expect(database.db.prepare('SELECT status FROM webhook_received WHERE event_id = ?').get('msg_slow')).toEqual({ status: 'processed' });
  });

  it('refuses forged signatures, signatures of another body, other secrets and other versions with 401', async () => {
    await startReceiver();
    const forged = { ...signed(EVENT), 'webhook-signature': 'v1,' + Buffer.alloc(32, 7).toString('base64') };
    const otherBody = { ...signed('{"other":true}') };
    const otherSecret = signed(EVENT, { key: generateSecret() });
    const otherVersion = { ...signed(EVENT), 'webhook-signature': signed(EVENT)['webhook-signature']!.replace('v1,', 'v2,') };
    for (const headers of [forged, otherBody, otherSecret, otherVersion]) {
      expect(await send(headers, EVENT)).toEqual({ status: 401, body: '{"error":"bad_signature"}' });
    }
    await receiver.idle();
    expect(events).toEqual([]);
    expect(countReceived()).toBe(0);
    expectOnly(receiver.metrics(), { bad_signature: 4 });
  });

  it('refuses timestamps outside the five-minute tolerance, past and future, with 401', async () => {
    await startReceiver();
    const past = signed(EVENT, { at: clock.now() - 301_000 });
    const future = signed(EVENT, { at: clock.now() + 301_000 });
    for (const headers of [past, future]) {
      expect(await send(headers, EVENT)).toEqual({ status: 401, body: '{"error":"stale_timestamp"}' });
    }
    // Just inside the window on both sides.
    expect((await send(signed(EVENT, { id: 'a', at: clock.now() - 299_000 }), EVENT)).status).toBe(200);
    expect((await send(signed(EVENT, { id: 'b', at: clock.now() + 299_000 }), EVENT)).status).toBe(200);
    await receiver.idle();
    expect(events.map((e) => e.id)).toEqual(['a', 'b']);
    expectOnly(receiver.metrics(), { stale_timestamp: 2, accepted: 2, processed: 2 });
  });

  it('refuses a request without its webhook headers with 400', async () => {
    await startReceiver();
    const full = signed(EVENT);
    for (const missing of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const headers = { ...full };
      delete headers[missing];
      expect(await send(headers, EVENT)).toEqual({ status: 400, body: '{"error":"missing_headers"}' });
    }
    expect((await send({ ...full, 'webhook-timestamp': 'soon' }, EVENT)).status).toBe(400);
    await receiver.idle();
    expect(events).toEqual([]);
    expectOnly(receiver.metrics(), { missing_headers: 4 });
  });

  it('refuses a signed body that is not JSON (or not UTF-8) with 400', async () => {
    await startReceiver();
    const notJson = '{"id": 1,';
    expect(await send(signed(notJson), notJson)).toEqual({ status: 400, body: '{"error":"malformed_json"}' });
    const notUtf8 = Buffer.from([0x22, 0xff, 0x22]);
    expect((await send(signed(notUtf8), notUtf8)).status).toBe(400);
    await receiver.idle();
    expect(events).toEqual([]);
    expect(countReceived()).toBe(0);
    expectOnly(receiver.metrics(), { malformed_json: 2 });
  });

  it('refuses a body over the limit with 413 from its declared length, before reading it', async () => {
    await startReceiver({ maxBodyBytes: 1024 });
    const status = await new Promise<number>((resolve, reject) => {
      const headers = { ...signed('x'), 'content-length': String(10 * 1024 * 1024) };
      const request = http.request(`${base}/hooks`, { method: 'POST', headers, agent: false }, (response) => {
        resolve(response.statusCode!);
        response.resume();
      });
      request.on('error', reject);
      // Only the headers are sent: the answer cannot have waited for the body.
      request.flushHeaders();
    });
    expect(status).toBe(413);
    expectOnly(receiver.metrics(), { too_large: 1 });
  });

  it('refuses a streamed body with 413 as soon as it passes the limit, without reading the rest', async () => {
    await startReceiver({ maxBodyBytes: 64 * 1024 });
    const total = 64 * 1024 * 1024;
    const { status, sentBeforeAnswer } = await new Promise<{ status: number; sentBeforeAnswer: number }>((resolve) => {
      let sent = 0;
      const request = http.request(`${base}/hooks`, { method: 'POST', headers: signed('x'), agent: false }, (response) => {
        resolve({ status: response.statusCode!, sentBeforeAnswer: sent });
        response.resume();
      });
      // The server closes the connection after its answer, so the rest of the upload fails.
      request.on('error', () => undefined);
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const pump = () => {
        while (sent < total) {
          sent += chunk.length;
          if (!request.write(chunk)) return void request.once('drain', pump);
        }
        request.end();
      };
      pump();
    });
    expect(status).toBe(413);
    expect(sentBeforeAnswer).toBeLessThan(total / 4);
    expectOnly(receiver.metrics(), { too_large: 1 });
  });

  it('times out a body that trickles in (slowloris) with 408 and closes the connection', async () => {
    await startReceiver({ bodyTimeoutMs: 300 });
    const headers = signed(EVENT);
    const head = [
      'POST /hooks HTTP/1.1',
      'host: 127.0.0.1',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      `content-length: ${EVENT.length}`,
      '',
      '',
    ].join('\r\n');
    const { answer, elapsed } = await rawExchange(head + EVENT.slice(0, 5), (socket) => {
      // One more byte now and then, never the whole body.
      const drip = setInterval(() => socket.writable && socket.write(' '), 100);
      socket.on('close', () => clearInterval(drip));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"error":"timeout"');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(3000);
    await receiver.idle();
    expect(events).toEqual([]);
    expectOnly(receiver.metrics(), { timeout: 1 });
  });

  it('times out headers that trickle in with 408 and counts it', async () => {
    await startReceiver({ headersTimeoutMs: 300 });
    const { answer, elapsed } = await rawExchange('POST /hooks HTTP/1.1\r\nhost: 127.0.0.1\r\n', (socket) => {
      const drip = setInterval(() => socket.writable && socket.write('x-slow: 1\r\n'), 100);
      socket.on('close', () => clearInterval(drip));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(elapsed).toBeLessThan(3000);
    expectOnly(receiver.metrics(), { timeout: 1 });
  });

  it('answers oversized headers with 431, unknown paths with 404 and other methods with 405', async () => {
    await startReceiver();
    expect((await send({ ...signed(EVENT), 'x-padding': 'p'.repeat(20_000) }, EVENT)).status).toBe(431);
    expect((await send(signed(EVENT), EVENT, '/elsewhere')).status).toBe(404);
    expect((await send({}, '', '/hooks', 'GET')).status).toBe(405);
    expectOnly(receiver.metrics(), { too_large: 1, unknown_endpoint: 1, method_not_allowed: 1 });
  });

  it('hands over again an event whose processing failed, also from a restarted receiver', async () => {
    const failures: string[] = [];
    await startReceiver({
      onEvent: () => {
        throw new Error('engine unavailable');
      },
      onError: (error) => failures.push((error as Error).message),
    });
    expect((await send(signed(EVENT, { id: 'msg_retry' }), EVENT)).status).toBe(200);
    await receiver.idle();
    expect(failures).toEqual(['engine unavailable']);
    expect(database.db.prepare('SELECT status, error FROM webhook_received').get()).toEqual({
      status: 'failed',
      error: 'engine unavailable',
    });
    expectOnly(receiver.metrics(), { accepted: 1, processing_failed: 1 });
    await receiver.close();

    await startReceiver();
    expect(await receiver.processPending()).toBe(1);
    expect(events.map((e) => e.id)).toEqual(['msg_retry']);
    expect(await receiver.processPending()).toBe(0);
    // Still a duplicate for the sender: processed once, acknowledged twice.
    expect((await send(signed(EVENT, { id: 'msg_retry' }), EVENT)).status).toBe(200);
    await receiver.idle();
    expect(events).toHaveLength(1);
    expectOnly(receiver.metrics(), { duplicate: 1, processed: 1 });
  });

  it('forgets processed events older than asked', async () => {
    await startReceiver();
    await send(signed(EVENT, { id: 'old' }), EVENT);
    clock.advance(3 * 24 * 60 * 60 * 1000);
    await send(signed(EVENT, { id: 'new' }), EVENT);
    await receiver.idle();
    expect(receiver.prune(clock.now() - 24 * 60 * 60 * 1000)).toBe(1);
    expect(database.db.prepare('SELECT event_id FROM webhook_received').all()).toEqual([{ event_id: 'new' }]);
  });
});

/** Writes raw bytes, lets `drip` keep the request open, and returns what came back when the server closed. */
function rawExchange(initial: string, drip: (socket: net.Socket) => void): Promise<{ answer: string; elapsed: number }> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let answer = '';
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      socket.write(initial);
      drip(socket);
    });
    socket.on('data', (data) => (answer += data.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve({ answer, elapsed: Date.now() - started }));
  });
}

describe('webhook receiver under concurrency', () => {
  it('accepts one of many simultaneous requests with the same event id, committed in one batch', async () => {
    await startReceiver();
    const headers = signed(EVENT, { id: 'msg_burst' });
    const responses = await Promise.all(Array.from({ length: 20 }, () => send(headers, EVENT)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(responses.filter((r) => r.body === '{"received":true}')).toHaveLength(1);
    await receiver.idle();
    expect(events.map((e) => e.id)).toEqual(['msg_burst']);
    expectOnly(receiver.metrics(), { accepted: 1, duplicate: 19, processed: 1 });
  });
});

describe('webhook receiver faults', () => {
  it('answers 500 without details when its own configuration fails, and tells onError', async () => {
    const errors: unknown[] = [];
    await startReceiver({ secretsFor: () => ['whsec_not*base64'], onError: (error) => errors.push(error) });
    expect(await send(signed(EVENT), EVENT)).toEqual({ status: 500, body: '{"error":"internal_error"}' });
    expect(errors).toEqual([expect.objectContaining({ name: 'WebhookInvalidSecret' })]);
    expect(events).toEqual([]);
    expectOnly(receiver.metrics(), { internal_error: 1 });
  });
});
