import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  classifyAttempt,
  createWebhookReceiver,
  createWebhookSender,
  DEFAULT_RETRY_SCHEDULE,
  nextAttemptAt,
  verifyStandard,
  type ReceivedWebhook,
  type WebhookSender,
} from '../../../src/runtime/packs/webhook';
import { closedPort, ManualClock, startEndpoint, tempDatabase } from './helpers';

type Endpoint = Awaited<ReturnType<typeof startEndpoint>>;

let database: ReturnType<typeof tempDatabase>;
let clock: ManualClock;
let sender: WebhookSender;
const closers: (() => unknown)[] = [];

beforeEach(() => {
  database = tempDatabase();
  clock = new ManualClock();
  sender = createWebhookSender({ db: database.db, clock, timeoutMs: 2000 });
});

afterEach(async () => {
  sender.close();
  for (const close of closers.splice(0).reverse()) await close();
  database.cleanup();
});

async function endpoint(answer?: Parameters<typeof startEndpoint>[0]): Promise<Endpoint> {
  const started = await startEndpoint(answer);
  closers.push(started.close);
  return started;
}

/** An endpoint whose status is the last path segment, e.g. `/hooks/503`. */
async function statusEndpoint(): Promise<Endpoint> {
  return endpoint((request, response) => {
    response.statusCode = Number(request.path.split('/').pop());
    response.end();
  });
}

describe('response classification', () => {
  it('sorts status codes into delivered, retryable and permanent', () => {
    expect([200, 201, 204, 299].map(classifyAttempt)).toEqual(Array(4).fill('delivered'));
    expect([408, 429, 500, 502, 503, 504, undefined].map(classifyAttempt)).toEqual(Array(7).fill('retryable'));
    expect([301, 302, 400, 401, 403, 404, 410, 422].map(classifyAttempt)).toEqual(Array(8).fill('permanent'));
  });

  it('classifies real responses and sets the delivery status from them', async () => {
    const server = await statusEndpoint();
    const expected: Record<number, [string, string]> = {
      200: ['delivered', 'delivered'],
      201: ['delivered', 'delivered'],
      408: ['retryable', 'retrying'],
      429: ['retryable', 'retrying'],
      500: ['retryable', 'retrying'],
      503: ['retryable', 'retrying'],
      400: ['permanent', 'permanent_failure'],
      404: ['permanent', 'permanent_failure'],
      410: ['permanent', 'permanent_failure'],
      302: ['permanent', 'permanent_failure'],
    };
    for (const [code, [classification, status]] of Object.entries(expected)) {
      sender.registerEndpoint({ id: `ep-${code}`, url: `${server.url}/${code}` });
      const delivery = await sender.send({ key: `evt-${code}`, endpoint: `ep-${code}`, type: 'test', payload: { code } });
      expect(delivery.status, `status ${code}`).toBe(status);
      expect(delivery.lastStatusCode).toBe(Number(code));
      expect(sender.attempts(delivery.id)).toEqual([
        expect.objectContaining({ attempt: 1, statusCode: Number(code), classification }),
      ]);
    }
    expect(server.requests).toHaveLength(Object.keys(expected).length);
  });

  it('retries a refused connection and records the error', async () => {
    sender.registerEndpoint({ id: 'gone', url: `http://127.0.0.1:${await closedPort()}/hooks` });
    const delivery = await sender.send({ key: 'evt-refused', endpoint: 'gone', type: 'test', payload: null });
    expect(delivery.status).toBe('retrying');
    expect(delivery.lastError).toMatch(/ECONNREFUSED/);
    const [attempt] = sender.attempts('evt-refused');
    expect(attempt).toMatchObject({ classification: 'retryable', error: expect.stringMatching(/ECONNREFUSED/) });
    expect(attempt!.statusCode).toBeUndefined();
  });

  it('times out an endpoint that never answers, and retries', async () => {
    const hanging = await endpoint(() => undefined);
    const impatient = createWebhookSender({ db: database.db, clock, timeoutMs: 150 });
    closers.push(() => impatient.close());
    impatient.registerEndpoint({ id: 'slow', url: hanging.url });
    const delivery = await impatient.send({ key: 'evt-slow', endpoint: 'slow', type: 'test', payload: 1 });
    expect(delivery.status).toBe('retrying');
    const [attempt] = impatient.attempts('evt-slow');
    expect(attempt).toMatchObject({ classification: 'retryable', error: 'timeout: no complete response within 150 ms' });
    expect(attempt!.latencyMs).toBeGreaterThanOrEqual(140);
    expect(hanging.requests).toHaveLength(1);
  });
});

describe('retry schedule', () => {
  it('defaults to immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h', () => {
    const s = 1000;
    expect(DEFAULT_RETRY_SCHEDULE).toEqual([0, 5 * s, 300 * s, 1800 * s, 7200 * s, 18000 * s, 36000 * s, 36000 * s]);
    expect(nextAttemptAt(0, 1000)).toBe(1000);
    expect(nextAttemptAt(1, 1000)).toBe(6000);
    expect(nextAttemptAt(7, 1000)).toBe(1000 + 36_000_000);
    expect(nextAttemptAt(8, 1000)).toBeUndefined();
    expect(nextAttemptAt(1, 0, [10, 20])).toBe(20);
  });

  it('runs the whole schedule on a virtual clock through to the dead letter, then redelivers by command', async () => {
    let failing = true;
    const server = await endpoint((_, response) => {
      response.statusCode = failing ? 503 : 200;
      response.end();
    });
    sender.registerEndpoint({ id: 'flaky', url: server.url });
    const start = clock.now();
    let delivery = await sender.send({ key: 'evt-dead', endpoint: 'flaky', type: 'test', payload: { n: 1 } });
    const attemptTimes = [start];
    while (delivery.status === 'retrying') {
      const due = sender.nextDueAt()!;
      expect(due).toBe(delivery.nextAttemptAt);
      // Not a moment early.
      clock.set(due - 1);
      expect(await sender.deliverDue()).toEqual([]);
      clock.set(due);
      [delivery] = (await sender.deliverDue()) as [typeof delivery];
      attemptTimes.push(due);
    }
    expect(delivery.status).toBe('failed');
    expect(delivery.attempts).toBe(DEFAULT_RETRY_SCHEDULE.length);
    expect(sender.nextDueAt()).toBeUndefined();
    const gaps = attemptTimes.slice(1).map((t, i) => t - attemptTimes[i]!);
    expect(gaps).toEqual(DEFAULT_RETRY_SCHEDULE.slice(1));
    expect(sender.attempts('evt-dead').map((a) => a.startedAt)).toEqual(attemptTimes);
    expect(server.requests).toHaveLength(8);
    expect(sender.deliveries({ status: 'failed' }).map((d) => d.id)).toEqual(['evt-dead']);

    // Sending again with the same key does not resurrect a dead letter...
    expect((await sender.send({ key: 'evt-dead', endpoint: 'flaky', type: 'test', payload: { n: 1 } })).status).toBe('failed');
    expect(server.requests).toHaveLength(8);
    // ...a command does, with a fresh round.
    failing = false;
    clock.advance(60_000);
    delivery = await sender.redeliver('evt-dead');
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 9, roundAttempts: 1, lastStatusCode: 200 });
    expect(sender.attempts('evt-dead').at(-1)).toMatchObject({ attempt: 9, startedAt: clock.now(), statusCode: 200 });
    await expect(sender.redeliver('evt-dead')).rejects.toMatchObject({ name: 'WebhookNotRedeliverable' });
    await expect(sender.redeliver('nope')).rejects.toMatchObject({ name: 'WebhookUnknownDelivery' });
  });

  it('retries on its own when started, until stopped', async () => {
    let calls = 0;
    const server = await endpoint((_, response) => {
      response.statusCode = ++calls === 1 ? 503 : 200;
      response.end();
    });
    sender.registerEndpoint({ id: 'ep', url: server.url });
    const stop = sender.startRetrying(20);
    try {
      expect((await sender.send({ key: 'evt-loop', endpoint: 'ep', type: 't', payload: 1 })).status).toBe('retrying');
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Not due yet on the sender's clock, however often the loop looks.
      expect(server.requests).toHaveLength(1);
      clock.advance(5000);
      await waitFor(() => sender.delivery('evt-loop')!.status === 'delivered');
    } finally {
      await stop();
    }
    expect(server.requests).toHaveLength(2);
  });

  it('takes a schedule as data', async () => {
    const server = await statusEndpoint();
    const short = createWebhookSender({ db: database.db, clock, schedule: [0, 1000] });
    closers.push(() => short.close());
    short.registerEndpoint({ id: 'down', url: `${server.url}/500` });
    expect((await short.send({ key: 'k', endpoint: 'down', type: 't', payload: 0 })).nextAttemptAt).toBe(clock.now() + 1000);
    clock.advance(1000);
    expect((await short.deliverDue()).map((d) => d.status)).toEqual(['failed']);
  });
});

describe('delivery tracking', () => {
  it('records every attempt with status code, latency and error', async () => {
    let calls = 0;
    const server = await endpoint((_, response) => {
      response.statusCode = ++calls === 1 ? 500 : 204;
      response.end();
    });
    sender.registerEndpoint({ id: 'ep', url: server.url });
    await sender.send({ key: 'evt-track', endpoint: 'ep', type: 'invoice.paid', payload: { amount: 10 } });
    clock.advance(5000);
    await sender.deliverDue();
    const attempts = sender.attempts('evt-track');
    expect(attempts).toEqual([
      expect.objectContaining({ attempt: 1, statusCode: 500, classification: 'retryable', startedAt: clock.now() - 5000 }),
      expect.objectContaining({ attempt: 2, statusCode: 204, classification: 'delivered', startedAt: clock.now() }),
    ]);
    for (const attempt of attempts) expect(attempt.latencyMs).toBeGreaterThan(0);
    expect(sender.delivery('evt-track')).toMatchObject({ status: 'delivered', attempts: 2, lastStatusCode: 204 });
    expect(sender.delivery('evt-track')!.nextAttemptAt).toBeUndefined();
    expect(sender.deliveries({ endpoint: 'ep' }).map((d) => d.id)).toEqual(['evt-track']);
    expect(sender.deliveries({ status: 'retrying' })).toEqual([]);
  });

  it('sends a signed Standard Webhooks request with the key as webhook-id and a fresh timestamp per attempt', async () => {
    const server = await statusEndpoint();
    const { secret } = sender.registerEndpoint({ id: 'ep', url: `${server.url}/503` });
    await sender.send({ key: 'inst-1:n4:1', endpoint: 'ep', type: 'invoice.paid', payload: { amount: 1200 } });
    clock.advance(5000);
    await sender.deliverDue();
    const [first, second] = server.requests;
    for (const [request, at] of [[first!, clock.now() - 5000], [second!, clock.now()]] as const) {
      expect(request.headers['webhook-id']).toBe('inst-1:n4:1');
      expect(request.headers['webhook-timestamp']).toBe(String(Math.floor(at / 1000)));
      expect(request.headers['content-type']).toBe('application/json');
      const headers = {
        id: request.headers['webhook-id'] as string,
        timestamp: request.headers['webhook-timestamp'] as string,
        signature: request.headers['webhook-signature'] as string,
      };
      expect(verifyStandard(headers, request.body, [secret.secret], { now: at }).ok).toBe(true);
    }
    // The body is the same bytes on every attempt.
    expect(second!.body).toBe(first!.body);
    expect(JSON.parse(first!.body)).toEqual({
      id: 'inst-1:n4:1',
      type: 'invoice.paid',
      timestamp: '2025-01-01T00:00:00.000Z',
      data: { amount: 1200 },
    });
  });
});

describe('exactly once per idempotency key', () => {
  it('sends nothing more for a key already delivered, also from a new sender on the same file', async () => {
    const server = await endpoint();
    sender.registerEndpoint({ id: 'ep', url: server.url });
    const request = { key: 'evt-once', endpoint: 'ep', type: 't', payload: { a: 1, b: [1, 2] } };
    expect((await sender.send(request)).status).toBe('delivered');
    expect((await sender.send(request)).status).toBe('delivered');
    // The payload is compared as JSON, not as text: key order does not matter.
    expect((await sender.send({ ...request, payload: { b: [1, 2], a: 1 } })).status).toBe('delivered');
    const restarted = createWebhookSender({ db: database.db, clock });
    closers.push(() => restarted.close());
    expect((await restarted.send(request)).attempts).toBe(1);
    expect(server.requests).toHaveLength(1);
  });

  it('makes one request when the same key is sent many times at once', async () => {
    const server = await endpoint((_, response) => setTimeout(() => response.end(), 50));
    sender.registerEndpoint({ id: 'ep', url: server.url });
    const request = { key: 'evt-race', endpoint: 'ep', type: 't', payload: null };
    const results = await Promise.all(Array.from({ length: 5 }, () => sender.send(request)));
    expect(results.map((d) => d.status)).toEqual(Array(5).fill('delivered'));
    expect(server.requests).toHaveLength(1);
  });

  it('refuses a key reused for a different event, an unknown endpoint and a key unfit for a header', async () => {
    const server = await endpoint();
    sender.registerEndpoint({ id: 'ep', url: server.url });
    await sender.send({ key: 'evt-k', endpoint: 'ep', type: 't', payload: { a: 1 } });
    await expect(sender.send({ key: 'evt-k', endpoint: 'ep', type: 't', payload: { a: 2 } })).rejects.toMatchObject({
      name: 'WebhookKeyConflict',
    });
    await expect(sender.send({ key: 'evt-k', endpoint: 'ep', type: 'other', payload: { a: 1 } })).rejects.toMatchObject({
      name: 'WebhookKeyConflict',
    });
    await expect(sender.send({ key: 'evt-x', endpoint: 'nope', type: 't', payload: 1 })).rejects.toMatchObject({
      name: 'WebhookUnknownEndpoint',
    });
    await expect(sender.send({ key: 'has space', endpoint: 'ep', type: 't', payload: 1 })).rejects.toMatchObject({
      name: 'WebhookInvalidRequest',
    });
    expect(server.requests).toHaveLength(1);
  });

  it('takes over an attempt whose sender stopped mid-request once its lease runs out', async () => {
    // The first request hangs as if the process had died while waiting; later ones succeed.
    let requestsSeen = 0;
    const server = await endpoint((_, response) => {
      if (++requestsSeen > 1) response.end();
    });
    const doomed = createWebhookSender({ db: database.db, clock, timeoutMs: 300 });
    doomed.registerEndpoint({ id: 'ep', url: server.url });
    const lost = doomed.send({ key: 'evt-crash', endpoint: 'ep', type: 't', payload: 1 });
    await waitFor(() => server.requests.length === 1);

    const survivor = createWebhookSender({ db: database.db, clock });
    closers.push(() => survivor.close());
    expect(await survivor.deliverDue()).toEqual([]);
    // Lease: the attempt's timeout plus a margin.
    clock.advance(300 + 30_000);
    const [taken] = await survivor.deliverDue();
    expect(taken).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(survivor.attempts('evt-crash')).toEqual([
      expect.objectContaining({ attempt: 1, classification: 'retryable', error: expect.stringMatching(/^interrupted/) }),
      expect.objectContaining({ attempt: 2, statusCode: 200, classification: 'delivered' }),
    ]);
    // At least once on the wire, with the same webhook-id for the receiver to deduplicate.
    expect(server.requests.map((r) => r.headers['webhook-id'])).toEqual(['evt-crash', 'evt-crash']);

    // The stalled attempt's late outcome fills in its record but cannot undo the delivery.
    await lost;
    doomed.close();
    expect(survivor.delivery('evt-crash')).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(survivor.attempts('evt-crash')[0]).toMatchObject({ attempt: 1, error: expect.stringMatching(/^timeout/) });
  });
});

describe('endpoints and secret rotation', () => {
  it('registers an endpoint once, with a generated whsec_ secret', () => {
    const first = sender.registerEndpoint({ id: 'ep', url: 'http://127.0.0.1:9/hooks' });
    expect(first.secret).toMatchObject({ version: 1, validFrom: clock.now(), secret: expect.stringMatching(/^whsec_/) });
    expect(sender.registerEndpoint({ id: 'ep', url: 'http://127.0.0.1:9/hooks' })).toEqual(first);
    expect(() => sender.registerEndpoint({ id: 'ep', url: 'http://127.0.0.1:9/other' })).toThrow(
      expect.objectContaining({ name: 'WebhookEndpointConflict' }),
    );
    expect(() => sender.registerEndpoint({ id: 'ftp', url: 'ftp://example.com' })).toThrow(
      expect.objectContaining({ name: 'WebhookInvalidRequest' }),
    );
    expect(() => sender.registerEndpoint({ id: 'bad', url: 'http://127.0.0.1:9', secret: 'whsec_!!' })).toThrow(
      expect.objectContaining({ name: 'WebhookInvalidSecret' }),
    );
  });

  it('keeps old and new secrets valid during the overlap and only the new one after', async () => {
    const events: ReceivedWebhook[] = [];
    let receiverSecrets: string[] = [];
    const receiver = createWebhookReceiver({
      db: database.db,
      clock,
      secretsFor: () => receiverSecrets,
      onEvent: (event) => void events.push(event),
    });
    const url = await receiver.listen();
    closers.push(() => receiver.close());
    const { secret: old } = sender.registerEndpoint({ id: 'ep', url: `${url}/hooks` });
    receiverSecrets = [old.secret];

    const rotated = sender.rotateSecret('ep', { key: 'rotation-1', overlapMs: 60 * 60 * 1000 });
    expect(rotated.version).toBe(2);
    expect(sender.rotateSecret('ep', { key: 'rotation-1' })).toEqual(rotated);
    expect(sender.secretsAt('ep').map((s) => s.version)).toEqual([2, 1]);

    // During the overlap: a receiver that knows only the old secret, and then one that knows
    // only the new one, both accept.
    expect((await sender.send({ key: 'during-old', endpoint: 'ep', type: 't', payload: 1 })).status).toBe('delivered');
    receiverSecrets = [rotated.secret];
    expect((await sender.send({ key: 'during-new', endpoint: 'ep', type: 't', payload: 2 })).status).toBe('delivered');

    // After it: the old secret no longer signs, so a receiver still on it refuses.
    clock.advance(60 * 60 * 1000);
    expect(sender.secretsAt('ep').map((s) => s.version)).toEqual([2]);
    receiverSecrets = [old.secret];
    const refused = await sender.send({ key: 'after-old', endpoint: 'ep', type: 't', payload: 3 });
    expect(refused).toMatchObject({ status: 'permanent_failure', lastStatusCode: 401 });
    receiverSecrets = [rotated.secret, old.secret];
    expect((await sender.send({ key: 'after-new', endpoint: 'ep', type: 't', payload: 4 })).status).toBe('delivered');

    await receiver.idle();
    expect(events.map((e) => e.id)).toEqual(['during-old', 'during-new', 'after-new']);
    expect(receiver.metrics()).toMatchObject({ accepted: 3, bad_signature: 1, processed: 3 });
  });

  it('delivers with the Stripe scheme to a Stripe-scheme receiver, deduplicated by the body id', async () => {
    const events: ReceivedWebhook[] = [];
    const secret = 'whsec_c3RyaXBlLXN0eWxlLXNlY3JldA==';
    const receiver = createWebhookReceiver({
      db: database.db,
      clock,
      scheme: 'stripe',
      secretsFor: () => [secret],
      onEvent: (event) => void events.push(event),
    });
    const url = await receiver.listen();
    closers.push(() => receiver.close());
    sender.registerEndpoint({ id: 'stripe-ep', url: `${url}/stripe`, scheme: 'stripe', secret });
    const delivery = await sender.send({ key: 'evt_123', endpoint: 'stripe-ep', type: 'invoice.paid', payload: { amount: 5 } });
    expect(delivery.status).toBe('delivered');
    await receiver.idle();
    expect(events).toEqual([
      expect.objectContaining({ id: 'evt_123', type: 'invoice.paid', path: '/stripe', signedAt: clock.now() }),
    ]);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error('condition not met within 2 s');
}
