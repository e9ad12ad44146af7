// "Signatures checked in constant time": every candidate signature a request carries is compared
// with every expected one through crypto.timingSafeEqual, on buffers of equal length, through the
// real receiver over HTTP. A wall-clock measurement could not tell timingSafeEqual from `===` on
// a 44-character string next to an HMAC, so the comparison itself is watched: node:crypto is
// replaced by itself with timingSafeEqual wrapped in a spy that calls the real one.
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createWebhookReceiver,
  generateSecret,
  signStandard,
  signStripe,
  verifyStandard,
  verifyStripe,
  type WebhookReceiver,
} from '../../../src/runtime/packs/webhook';
import { ManualClock, tempDatabase } from './helpers';

const comparisons = vi.hoisted(() => ({ calls: [] as { a: string; b: string; result: boolean }[] }));

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  const timingSafeEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView): boolean => {
    const result = actual.timingSafeEqual(a, b);
    comparisons.calls.push({ a: Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString(), b: Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString(), result });
    return result;
  };
  return { ...actual, default: { ...actual, timingSafeEqual }, timingSafeEqual };
});

let database: ReturnType<typeof tempDatabase>;
let clock: ManualClock;
let secrets: string[];
let receiver: WebhookReceiver;
let base: string;

beforeEach(async () => {
  database = tempDatabase();
  clock = new ManualClock(Date.UTC(2025, 5, 1, 12));
  // Two secrets in force, as during a rotation: each candidate is compared with both.
  secrets = [generateSecret(), generateSecret()];
  receiver = createWebhookReceiver({ db: database.db, clock, secretsFor: () => secrets, onEvent: () => undefined });
  base = await receiver.listen();
  comparisons.calls.length = 0;
});

afterEach(async () => {
  await receiver.close();
  database.cleanup();
});

function post(headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${base}/hooks`, { method: 'POST', headers, agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode!));
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** The same signature with one base64 character changed at `position`: the same length, wrong. */
function tamper(signature: string, position: number): string {
  const value = signature.slice(3);
  const changed = value[position] === 'A' ? 'B' : 'A';
  return `v1,${value.slice(0, position)}${changed}${value.slice(position + 1)}`;
}

const body = JSON.stringify({ type: 'invoice.paid', data: { amount: 12_900 } });
const timestamp = () => Math.floor(clock.now() / 1000);

describe('webhook signatures are compared in constant time', () => {
  it('compares every candidate of a tampered header with every secret through timingSafeEqual, on equal lengths', async () => {
    const genuine = signStandard({ id: 'msg_tampered', timestamp: timestamp(), body }, secrets[0]!);
    // Wrong at the first character, in the middle and at the last: an early-exit comparison would differ in time.
    const candidates = [tamper(genuine, 0), tamper(genuine, 20), tamper(genuine, 42)];
    const status = await post(
      { 'content-type': 'application/json', 'webhook-id': 'msg_tampered', 'webhook-timestamp': String(timestamp()), 'webhook-signature': candidates.join(' ') },
      body,
    );
    expect(status).toBe(401);
    const sent = candidates.map((candidate) => candidate.slice(3));
    expect(comparisons.calls).toHaveLength(candidates.length * secrets.length);
    for (const call of comparisons.calls) {
      expect(call.a.length).toBe(call.b.length);
      expect(call.result).toBe(false);
    }
    // Each candidate against the expected signature of each secret, the first secret's being the genuine one.
    expect(new Set(comparisons.calls.map((call) => call.a))).toEqual(new Set(sent));
    expect(comparisons.calls.filter((call) => call.b === genuine.slice(3))).toHaveLength(candidates.length);
  });

  it('accepts a correct signature through timingSafeEqual, after the wrong candidates before it', async () => {
    const genuine = signStandard({ id: 'msg_genuine', timestamp: timestamp(), body }, secrets[1]!);
    const header = `${tamper(genuine, 5)} ${genuine}`;
    const status = await post({ 'content-type': 'application/json', 'webhook-id': 'msg_genuine', 'webhook-timestamp': String(timestamp()), 'webhook-signature': header }, body);
    expect(status).toBe(200);
    // Secret 0 matches neither candidate (2 comparisons); secret 1 refuses the tampered one, then accepts the genuine one.
    expect(comparisons.calls.map((call) => call.result)).toEqual([false, false, false, true]);
    for (const call of comparisons.calls) expect(call.a.length).toBe(call.b.length);
    expect(comparisons.calls.at(-1)!.a).toBe(genuine.slice(3));
  });

  it('does the same for Standard Webhooks and Stripe signatures verified directly', () => {
    const at = timestamp();
    const standard = signStandard({ id: 'msg_direct', timestamp: at, body }, secrets[0]!);
    const refused = verifyStandard(
      { id: 'msg_direct', timestamp: String(at), signature: `${tamper(standard, 43)} ${tamper(standard, 1)}` },
      body,
      secrets,
      { now: clock.now() },
    );
    expect(refused).toEqual({ ok: false, reason: 'bad_signature' });
    expect(comparisons.calls.map((call) => call.result)).toEqual([false, false, false, false]);

    comparisons.calls.length = 0;
    const stripe = signStripe({ timestamp: at, body }, [secrets[0]!]);
    const hex = stripe.slice(stripe.indexOf('v1=') + 3);
    const flipped = `${hex.slice(0, 63)}${hex[63] === '0' ? '1' : '0'}`;
    expect(verifyStripe(`t=${at},v1=${flipped}`, body, secrets, { now: clock.now() })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyStripe(stripe, body, secrets, { now: clock.now() })).toMatchObject({ ok: true, secretIndex: 0 });
    expect(comparisons.calls.map((call) => [call.a.length, call.b.length, call.result])).toEqual([
      [64, 64, false],
      [64, 64, false],
      [64, 64, true],
    ]);
  });
});
