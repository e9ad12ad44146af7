import { createHash } from 'node:crypto';

/**
 * A short sha256 of a JSON value's meaning: object keys sorted, source ranges left out, so the
 * same content hashes the same whatever order it was built in.
 */
export function contentHash(value: unknown): string {
  const canonical = JSON.stringify(value, (key, v: unknown) => {
    if (key === 'range') return undefined;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/**
 * JSON with object keys sorted and undefined members left out, so equal values give the same
 * text whatever order their keys were written in: what fingerprints and hash chains are made of.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
