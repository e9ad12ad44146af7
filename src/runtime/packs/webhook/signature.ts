import { createHmac, timingSafeEqual } from 'node:crypto';
import { secretKey } from './secrets';
import type { VerifyResult } from './types';

/** What a signature covers: the message id, the signing time in Unix seconds and the raw body. */
export interface SignedContent {
  id: string;
  timestamp: number;
  body: string | Uint8Array;
}

/** The Standard Webhooks headers as they arrived; any may be missing. */
export interface StandardHeaders {
  id?: string;
  timestamp?: string;
  signature?: string;
}

/** A request's signature headers, well formed but not yet checked against a secret. */
export interface ParsedSignature {
  /** The message id (Standard Webhooks); empty for Stripe, whose signature does not cover one. */
  id: string;
  timestamp: number;
  /** The candidate signatures of the scheme's version 1, in the order sent. */
  signatures: string[];
}

export interface VerifyOptions {
  /** The receiver's clock, UTC milliseconds. */
  now: number;
  /** How far the signing time may be from `now`, either way. The specs' default is 5 minutes. */
  toleranceSeconds?: number;
}

export const DEFAULT_TOLERANCE_SECONDS = 300;

const UNIX_SECONDS = /^\d{1,12}$/;

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under a `whsec_` secret. */
export function signStandard(content: SignedContent, secret: string): string {
  return `v1,${standardDigest(secretKey(secret), content)}`;
}

/**
 * The `webhook-signature` value for every secret in force: one space-separated entry each, so a
 * receiver that knows either side of a rotation accepts the message.
 */
export function standardSignatureHeader(content: SignedContent, secrets: readonly string[]): string {
  return secrets.map((secret) => signStandard(content, secret)).join(' ');
}

/**
 * The three headers, parsed; undefined when one is missing or the timestamp is not a whole
 * number of seconds. Entries of other versions (`v1a,…`) are kept out of `signatures`, so a
 * header carrying only those fails the signature check rather than this one.
 */
export function parseStandardHeaders(headers: StandardHeaders): ParsedSignature | undefined {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature || !UNIX_SECONDS.test(timestamp)) return undefined;
  const entries = signature.split(' ').filter((entry) => entry.length > 0);
  if (entries.length === 0) return undefined;
  const signatures = entries.filter((entry) => entry.startsWith('v1,')).map((entry) => entry.slice(3));
  return { id, timestamp: Number(timestamp), signatures };
}

/** Position of the first secret whose signature matches one sent, or -1. */
export function matchStandardSignature(
  parsed: ParsedSignature,
  body: string | Uint8Array,
  secrets: readonly string[],
): number {
  const content = { id: parsed.id, timestamp: parsed.timestamp, body };
  return secrets.findIndex((secret) => {
    const expected = standardDigest(secretKey(secret), content);
    return parsed.signatures.some((sent) => constantTimeEqual(sent, expected));
  });
}

/** Headers, then tolerance, then signature — the order of the spec's reference libraries. */
export function verifyStandard(
  headers: StandardHeaders,
  body: string | Uint8Array,
  secrets: readonly string[],
  options: VerifyOptions,
): VerifyResult {
  const parsed = parseStandardHeaders(headers);
  return verifyParsed(parsed, options, () => (parsed ? matchStandardSignature(parsed, body, secrets) : -1));
}

/**
 * Stripe's `stripe-signature: t=<seconds>,v1=<hex HMAC-SHA256 of "t.body">`, one `v1` per
 * secret in force. Stripe keys the HMAC with the secret's text as is (`whsec_…` included),
 * unlike Standard Webhooks, which decodes the base64.
 */
export function signStripe(content: Omit<SignedContent, 'id'>, secrets: readonly string[]): string {
  const signatures = secrets.map((secret) => `v1=${stripeDigest(secret, content.timestamp, content.body)}`);
  return [`t=${content.timestamp}`, ...signatures].join(',');
}

export function parseStripeHeader(header: string | undefined): ParsedSignature | undefined {
  if (!header) return undefined;
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const equals = part.indexOf('=');
    if (equals < 0) continue;
    const name = part.slice(0, equals).trim();
    const value = part.slice(equals + 1).trim();
    if (name === 't' && UNIX_SECONDS.test(value)) timestamp = Number(value);
    if (name === 'v1') signatures.push(value);
  }
  return timestamp === undefined ? undefined : { id: '', timestamp, signatures };
}

export function matchStripeSignature(
  parsed: ParsedSignature,
  body: string | Uint8Array,
  secrets: readonly string[],
): number {
  return secrets.findIndex((secret) => {
    const expected = stripeDigest(secret, parsed.timestamp, body);
    return parsed.signatures.some((sent) => constantTimeEqual(sent, expected));
  });
}

export function verifyStripe(
  header: string | undefined,
  body: string | Uint8Array,
  secrets: readonly string[],
  options: VerifyOptions,
): VerifyResult {
  const parsed = parseStripeHeader(header);
  return verifyParsed(parsed, options, () => (parsed ? matchStripeSignature(parsed, body, secrets) : -1));
}

/** Whether a signing time is within the tolerance of `now`, in the past or the future. */
export function withinTolerance(timestamp: number, options: VerifyOptions): boolean {
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  return Math.abs(options.now / 1000 - timestamp) <= tolerance;
}

function verifyParsed(
  parsed: ParsedSignature | undefined,
  options: VerifyOptions,
  match: () => number,
): VerifyResult {
  if (parsed === undefined) return { ok: false, reason: 'missing_headers' };
  if (!withinTolerance(parsed.timestamp, options)) return { ok: false, reason: 'stale_timestamp' };
  const secretIndex = match();
  return secretIndex < 0 ? { ok: false, reason: 'bad_signature' } : { ok: true, secretIndex, timestamp: parsed.timestamp };
}

function standardDigest(key: Buffer, content: SignedContent): string {
  return createHmac('sha256', key).update(`${content.id}.${content.timestamp}.`).update(content.body).digest('base64');
}

function stripeDigest(secret: string, timestamp: number, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/**
 * Compares the encoded signatures rather than decoded bytes: base64 decoding in Node skips
 * unknown characters, so comparing text keeps exactly one accepted spelling per signature.
 * Only the length can leak, and every correct signature has the same public length.
 */
function constantTimeEqual(sent: string, expected: string): boolean {
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
