import type { AttemptClassification } from './types';

/**
 * What an attempt's response means for the delivery. No status (connection refused, reset,
 * timed out) and 408, 429 and 5xx are worth retrying: the endpoint may recover. 2xx is
 * delivered. Everything else is permanent, redirects included: the sender does not follow them,
 * because a redirect means the registered URL is wrong and following it would let an endpoint
 * point the signed payload anywhere.
 */
export function classifyAttempt(statusCode: number | undefined): AttemptClassification {
  if (statusCode === undefined) return 'retryable';
  if (statusCode >= 200 && statusCode < 300) return 'delivered';
  if (statusCode === 408 || statusCode === 429 || statusCode >= 500) return 'retryable';
  return 'permanent';
}
