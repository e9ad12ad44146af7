import { createHash } from 'node:crypto';
import { canonicalJson } from '../../../lib/hash';
import { BillingError } from './errors';

/** Gateways cap keys (Stripe at 255 characters); ours leave room for the suffixes of derived keys. */
const MAX_KEY_LENGTH = 200;

/** Checks a caller's idempotency key: a flow handler passes `instanceId:nodeId:visit`. */
export function checkIdempotencyKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new BillingError(`An idempotency key is a non-empty string of at most ${MAX_KEY_LENGTH} characters.`);
  }
  return key;
}

/** The key of one effect inside a service call: `key:charge`, `key:email`… */
export function derivedKey(key: string, effect: string): string {
  return `${key}:${effect}`;
}

/**
 * A stable id for a row created under an idempotency key: a replay computes the same id, and no
 * randomness is needed, so a test run is the same every time.
 */
export function stableId(prefix: string, ...parts: string[]): string {
  return `${prefix}_${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 24)}`;
}

/** A request's fingerprint, to tell "the same request again" from "another request under the same key". */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
