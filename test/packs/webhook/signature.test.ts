import { Webhook } from 'standardwebhooks';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateSecret,
  secretKey,
  signStandard,
  signStripe,
  standardSignatureHeader,
  verifyStandard,
  verifyStripe,
} from '../../../src/runtime/packs/webhook';

// The Standard Webhooks specification's published vector (its libraries' "sign function works" tests).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const VECTOR_NOW = VECTOR.timestamp * 1000;
const vectorHeaders = { id: VECTOR.id, timestamp: String(VECTOR.timestamp), signature: VECTOR.signature };

describe('Standard Webhooks signatures', () => {
  it('reproduces the published test vector exactly', () => {
    expect(signStandard(VECTOR, VECTOR.secret)).toBe(VECTOR.signature);
    // The prefix is optional, as in the reference libraries.
    expect(signStandard(VECTOR, VECTOR.secret.slice('whsec_'.length))).toBe(VECTOR.signature);
  });

  it('verifies the published vector at its own time', () => {
    expect(verifyStandard(vectorHeaders, VECTOR.body, [VECTOR.secret], { now: VECTOR_NOW })).toEqual({
      ok: true,
      secretIndex: 0,
      timestamp: VECTOR.timestamp,
    });
  });

  it('refuses a changed body, id or timestamp', () => {
    const options = { now: VECTOR_NOW };
    expect(verifyStandard(vectorHeaders, '{"test": 2432232315}', [VECTOR.secret], options)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyStandard({ ...vectorHeaders, id: 'msg_other' }, VECTOR.body, [VECTOR.secret], options).ok).toBe(false);
    const shifted = { ...vectorHeaders, timestamp: String(VECTOR.timestamp + 1) };
    expect(verifyStandard(shifted, VECTOR.body, [VECTOR.secret], options)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses the right signature under another secret', () => {
    expect(verifyStandard(vectorHeaders, VECTOR.body, [generateSecret()], { now: VECTOR_NOW })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('accepts a header with several signatures when any one matches', () => {
    const header = ['v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=', 'v2,' + VECTOR.signature.slice(3), VECTOR.signature].join(' ');
    expect(verifyStandard({ ...vectorHeaders, signature: header }, VECTOR.body, [VECTOR.secret], { now: VECTOR_NOW }).ok).toBe(true);
  });

  it('ignores signatures of other versions', () => {
    const header = 'v2,' + VECTOR.signature.slice(3);
    expect(verifyStandard({ ...vectorHeaders, signature: header }, VECTOR.body, [VECTOR.secret], { now: VECTOR_NOW })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('refuses truncated and empty signatures', () => {
    for (const signature of [VECTOR.signature.slice(0, 20), 'v1,', 'v1']) {
      expect(verifyStandard({ ...vectorHeaders, signature }, VECTOR.body, [VECTOR.secret], { now: VECTOR_NOW }).ok).toBe(false);
    }
  });

  it('reports missing or malformed headers apart from bad signatures', () => {
    const options = { now: VECTOR_NOW };
    for (const headers of [
      { timestamp: vectorHeaders.timestamp, signature: vectorHeaders.signature },
      { id: vectorHeaders.id, signature: vectorHeaders.signature },
      { id: vectorHeaders.id, timestamp: vectorHeaders.timestamp },
      { ...vectorHeaders, timestamp: 'hello' },
      { ...vectorHeaders, signature: '   ' },
    ]) {
      expect(verifyStandard(headers, VECTOR.body, [VECTOR.secret], options)).toEqual({ ok: false, reason: 'missing_headers' });
    }
  });

  it('holds a five-minute tolerance both ways', () => {
    const verifyAt = (now: number) => verifyStandard(vectorHeaders, VECTOR.body, [VECTOR.secret], { now });
    expect(verifyAt(VECTOR_NOW + 300_000).ok).toBe(true);
    expect(verifyAt(VECTOR_NOW - 300_000).ok).toBe(true);
    expect(verifyAt(VECTOR_NOW + 301_000)).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(verifyAt(VECTOR_NOW - 301_000)).toEqual({ ok: false, reason: 'stale_timestamp' });
  });

  it('tells which secret matched, for rotations', () => {
    const [older, newer] = [generateSecret(), generateSecret()];
    const content = { id: 'msg_1', timestamp: VECTOR.timestamp, body: '{}' };
    const header = standardSignatureHeader(content, [newer, older]);
    expect(header.split(' ')).toHaveLength(2);
    const headers = { id: content.id, timestamp: String(content.timestamp), signature: header };
    expect(verifyStandard(headers, '{}', [older], { now: VECTOR_NOW })).toMatchObject({ ok: true, secretIndex: 0 });
    expect(verifyStandard(headers, '{}', [generateSecret(), newer], { now: VECTOR_NOW })).toMatchObject({ ok: true, secretIndex: 1 });
  });

  it('signs raw bytes, not only text', () => {
    const body = Buffer.from([0x7b, 0x7d, 0xff]);
    const signature = signStandard({ id: 'msg_b', timestamp: 1, body }, VECTOR.secret);
    expect(verifyStandard({ id: 'msg_b', timestamp: '1', signature }, body, [VECTOR.secret], { now: 1000 }).ok).toBe(true);
  });

  it('agrees with the standardwebhooks library both ways', () => {
    for (let i = 0; i < 20; i++) {
      const secret = generateSecret();
      const library = new Webhook(secret);
      const id = `msg_${randomBytes(8).toString('hex')}`;
      const at = new Date(VECTOR_NOW + i * 7919_000);
      const body = JSON.stringify({ n: i, text: randomBytes(i * 5).toString('base64') });
      const ours = signStandard({ id, timestamp: Math.floor(at.getTime() / 1000), body }, secret);
      expect(ours).toBe(library.sign(id, at, body));

      // The library verifies against the wall clock, so this signature is made for now.
      const timestamp = Math.floor(Date.now() / 1000);
      const signature = signStandard({ id, timestamp, body }, secret);
      const headers = { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature };
      expect(library.verify(body, headers)).toEqual(JSON.parse(body));
      const theirs = library.sign(id, new Date(timestamp * 1000), body);
      expect(verifyStandard({ id, timestamp: String(timestamp), signature: theirs }, body, [secret], { now: timestamp * 1000 }).ok).toBe(true);
    }
  });

  it('generates whsec_ secrets of 32 random bytes and rejects malformed ones', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(secretKey(secret)).toHaveLength(32);
    expect(generateSecret()).not.toBe(secret);
    for (const bad of ['', 'whsec_', 'whsec_not base64!', 'whsec_abc']) {
      expect(() => secretKey(bad)).toThrow(expect.objectContaining({ name: 'WebhookInvalidSecret' }));
    }
  });
});

describe('Stripe signatures', () => {
  const secret = 'whsec_stripe_test_secret';
  const body = '{"id":"evt_1","type":"invoice.paid"}';
  const timestamp = 1700000000;
  const now = timestamp * 1000;

  it('writes t= and a hex HMAC-SHA256 of "t.body" keyed by the secret text', () => {
    const expected = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
    expect(signStripe({ timestamp, body }, [secret])).toBe(`t=${timestamp},v1=${expected}`);
  });

  it('round-trips, with one v1 per secret during a rotation', () => {
    const next = 'whsec_stripe_next_secret';
    const header = signStripe({ timestamp, body }, [next, secret]);
    expect(header.match(/v1=/g)).toHaveLength(2);
    expect(verifyStripe(header, body, [secret], { now })).toMatchObject({ ok: true, secretIndex: 0 });
    expect(verifyStripe(header, body, [next], { now })).toMatchObject({ ok: true, secretIndex: 0 });
    expect(verifyStripe(header, body, ['whsec_other'], { now })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses a changed body, a moved timestamp, stale times and missing headers', () => {
    const header = signStripe({ timestamp, body }, [secret]);
    expect(verifyStripe(header, body + ' ', [secret], { now })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyStripe(header.replace(`t=${timestamp}`, `t=${timestamp + 1}`), body, [secret], { now })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verifyStripe(header, body, [secret], { now: now + 301_000 })).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(verifyStripe(undefined, body, [secret], { now })).toEqual({ ok: false, reason: 'missing_headers' });
    expect(verifyStripe('v1=abc', body, [secret], { now })).toEqual({ ok: false, reason: 'missing_headers' });
  });
});
