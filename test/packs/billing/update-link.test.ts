import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createUpdateLink, signUpdateLinkToken, verifyUpdateLinkToken } from '../../../src/runtime/packs/billing/index';
import { updateLinkToken } from '../../../src/runtime/packs/billing/update-link';
import { DAY, LINK_SECRET, START } from './helpers';

const claims = { customerId: 'cus_1', subscriptionId: 'sub_1', issuedAt: START, expiresAt: START + 7 * DAY };

describe('payment-method-update link', () => {
  it('verifies a fresh link and returns what it is bound to', () => {
    const link = createUpdateLink(claims, { secret: LINK_SECRET, baseUrl: 'https://billing.example.test/card' });
    expect(link.startsWith('https://billing.example.test/card?token=v1.')).toBe(true);
    expect(verifyUpdateLinkToken(updateLinkToken(link), LINK_SECRET, START + DAY)).toEqual({ ok: true, claims });
    expect(verifyUpdateLinkToken(updateLinkToken(link), LINK_SECRET, START + DAY, { customerId: 'cus_1', subscriptionId: 'sub_1' }).ok).toBe(true);
  });

  it('is an HMAC-SHA256 of the version and claims with the secret', () => {
    const [version, payload, signature] = signUpdateLinkToken(claims, LINK_SECRET).split('.');
    expect(signature).toBe(createHmac('sha256', LINK_SECRET).update(`${version}.${payload}`).digest('base64url'));
  });

  it('expires at its expiry time, not a millisecond later', () => {
    const token = signUpdateLinkToken(claims, LINK_SECRET);
    expect(verifyUpdateLinkToken(token, LINK_SECRET, claims.expiresAt - 1).ok).toBe(true);
    expect(verifyUpdateLinkToken(token, LINK_SECRET, claims.expiresAt)).toEqual({ ok: false, reason: 'expired' });
  });

  it('rejects tampering with the claims, even a later expiry, as a bad signature', () => {
    const [version, payload, signature] = signUpdateLinkToken(claims, LINK_SECRET).split('.');
    const forged = Buffer.from(JSON.stringify({ c: 'cus_1', s: 'sub_1', iat: START, exp: START + 365 * DAY })).toString('base64url');
    expect(verifyUpdateLinkToken(`${version}.${forged}.${signature}`, LINK_SECRET, START + 30 * DAY)).toEqual({ ok: false, reason: 'bad_signature' });
    const otherCustomer = Buffer.from(JSON.stringify({ c: 'cus_2', s: 'sub_1', iat: START, exp: claims.expiresAt })).toString('base64url');
    expect(verifyUpdateLinkToken(`${version}.${otherCustomer}.${signature}`, LINK_SECRET, START)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyUpdateLinkToken(`${version}.${payload}.${signature!.slice(0, -2)}AA`, LINK_SECRET, START)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyUpdateLinkToken(`${version}.${payload}.${signature!.slice(0, 20)}`, LINK_SECRET, START)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('rejects a link signed with another secret', () => {
    const token = signUpdateLinkToken(claims, 'another-secret-that-is-also-32-bytes-long');
    expect(verifyUpdateLinkToken(token, LINK_SECRET, START)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('rejects malformed tokens', () => {
    for (const token of ['', 'v1', 'v1..', 'v2.abc.def', 'v1.abc.d*f', 'not a token at all']) {
      expect(verifyUpdateLinkToken(token, LINK_SECRET, START)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('rejects a valid link for another customer or subscription than expected', () => {
    const token = signUpdateLinkToken(claims, LINK_SECRET);
    expect(verifyUpdateLinkToken(token, LINK_SECRET, START, { subscriptionId: 'sub_2' })).toEqual({ ok: false, reason: 'wrong_subscription' });
    expect(verifyUpdateLinkToken(token, LINK_SECRET, START, { customerId: 'cus_2' })).toEqual({ ok: false, reason: 'wrong_customer' });
  });

  it('refuses a secret shorter than 32 bytes', () => {
    expect(() => signUpdateLinkToken(claims, 'short')).toThrow(/at least 32 bytes/);
  });
});
