import { createHmac, timingSafeEqual } from 'node:crypto';
import { BillingConfigError } from './errors';
import type { UpdateLinkClaims, UpdateLinkVerification } from './types';

/**
 * Signed, expiring links to the page where a customer replaces the card on file.
 *
 * A token is `v1.<claims>.<signature>`: the claims are base64url JSON (customer, subscription,
 * issued and expiry times), the signature is HMAC-SHA256 over `v1.<claims>` with the server's
 * secret. The version is signed too, so a token cannot be replayed under a future format. The
 * link binds one customer and one subscription; it is not single-use (a customer whose new card
 * also fails can try another with the same link until it expires).
 */

const VERSION = 'v1';
const MIN_SECRET_BYTES = 32;
const SIGNATURE_BYTES = 32;

export interface UpdateLinkSigner {
  /** At least 32 bytes: the HMAC key. */
  secret: string | Buffer;
  /** The page that takes the token as its `token` query parameter. */
  baseUrl: string;
}

/** The token alone, for callers that build their own URL. */
export function signUpdateLinkToken(claims: UpdateLinkClaims, secret: string | Buffer): string {
  const payload = Buffer.from(
    JSON.stringify({ c: claims.customerId, s: claims.subscriptionId, iat: claims.issuedAt, exp: claims.expiresAt }),
  ).toString('base64url');
  const signed = `${VERSION}.${payload}`;
  return `${signed}.${signature(signed, secret).toString('base64url')}`;
}

export function createUpdateLink(claims: UpdateLinkClaims, signer: UpdateLinkSigner): string {
  const url = new URL(signer.baseUrl);
  url.searchParams.set('token', signUpdateLinkToken(claims, signer.secret));
  return url.toString();
}

/** The token in a link's `token` parameter, or the text itself when it is not a URL. */
export function updateLinkToken(linkOrToken: string): string {
  if (!/^https?:\/\//.test(linkOrToken)) return linkOrToken;
  return new URL(linkOrToken).searchParams.get('token') ?? '';
}

/**
 * Checks a token: its shape, then its signature (compared in constant time), then its expiry,
 * then that it is for the expected customer and subscription when the caller names them. The
 * signature comes before everything the claims say, so an edited expiry is `bad_signature`,
 * never `expired`.
 */
export function verifyUpdateLinkToken(
  token: string,
  secret: string | Buffer,
  now: number,
  expected: { customerId?: string; subscriptionId?: string } = {},
): UpdateLinkVerification {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION || parts[1] === '' || !isBase64Url(parts[1]!) || !isBase64Url(parts[2]!)) {
    return { ok: false, reason: 'malformed' };
  }
  const given = Buffer.from(parts[2]!, 'base64url');
  const wanted = signature(`${parts[0]}.${parts[1]}`, secret);
  if (given.length !== SIGNATURE_BYTES || !timingSafeEqual(given, wanted)) return { ok: false, reason: 'bad_signature' };
  const claims = parseClaims(parts[1]!);
  if (claims === undefined) return { ok: false, reason: 'malformed' };
  if (now >= claims.expiresAt) return { ok: false, reason: 'expired' };
  if (expected.customerId !== undefined && expected.customerId !== claims.customerId) return { ok: false, reason: 'wrong_customer' };
  if (expected.subscriptionId !== undefined && expected.subscriptionId !== claims.subscriptionId) return { ok: false, reason: 'wrong_subscription' };
  return { ok: true, claims };
}

function signature(signed: string, secret: string | Buffer): Buffer {
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) throw new BillingConfigError(`The update-link secret must be at least ${MIN_SECRET_BYTES} bytes.`);
  return createHmac('sha256', secret).update(signed).digest();
}

function isBase64Url(text: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(text);
}

function parseClaims(payload: string): UpdateLinkClaims | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const { c, s, iat, exp } = value as Record<string, unknown>;
  if (typeof c !== 'string' || typeof s !== 'string' || !Number.isSafeInteger(iat) || !Number.isSafeInteger(exp)) return undefined;
  return { customerId: c, subscriptionId: s, issuedAt: iat as number, expiresAt: exp as number };
}
