import { randomBytes } from 'node:crypto';
import { WebhookError } from './errors';

export const SECRET_PREFIX = 'whsec_';

/** Key bytes of a generated secret; the Standard Webhooks spec asks for 24 to 64. */
const GENERATED_KEY_BYTES = 32;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A fresh endpoint secret: `whsec_` + base64 of 32 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(GENERATED_KEY_BYTES).toString('base64');
}

/**
 * The HMAC key of a Standard Webhooks secret: the base64 after `whsec_` (the prefix is
 * optional, as in the spec's libraries). Strict base64, because `Buffer.from` silently skips
 * characters it does not know and a mistyped secret would otherwise sign with a different key.
 */
export function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (encoded.length === 0 || !BASE64.test(encoded)) {
    throw new WebhookError('WebhookInvalidSecret', 'A webhook secret must be `whsec_` followed by base64 key bytes.');
  }
  return Buffer.from(encoded, 'base64');
}
