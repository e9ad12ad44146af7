import { describe, expect, it } from 'vitest';
import type { RetryPolicy } from '../../src/compiler/types';
import { durationMs } from '../../src/runtime/duration';
import { mergePatch } from '../../src/runtime/merge-patch';
import { catchFor, retrierFor, retryDelayMs } from '../../src/runtime/retry-policy';

describe('JSON Merge Patch (RFC 7386)', () => {
  // The examples of RFC 7386, appendix A.
  const cases: [object, object, object][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  it.each(cases)('patches %j with %j', (target, patch, expected) => {
    const before = JSON.stringify(target);
    expect(mergePatch(target as never, patch as never)).toEqual(expected);
    expect(JSON.stringify(target)).toBe(before);
  });
});

describe('retry policies', () => {
  const policy: RetryPolicy = { errorEquals: ['Timeout'], intervalSeconds: 1, backoffRate: 2, maxAttempts: 5, maxDelaySeconds: 5, jitterStrategy: 'NONE' };

  it('grows the interval by the backoff rate up to maxDelaySeconds', () => {
    expect([0, 1, 2, 3, 4].map((n) => retryDelayMs(policy, n, 0.5))).toEqual([1000, 2000, 4000, 5000, 5000]);
  });

  it('draws full jitter between 0 and the delay from the given number', () => {
    const full = { ...policy, jitterStrategy: 'FULL' as const };
    expect(retryDelayMs(full, 2, 0)).toBe(0);
    expect(retryDelayMs(full, 2, 0.5)).toBe(2000);
    expect(retryDelayMs(full, 2, 0.999)).toBe(3996);
  });

  it('picks the first retrier and catch route whose errorEquals matches, States.ALL matching any', () => {
    const all = { ...policy, errorEquals: ['States.ALL'] };
    expect(retrierFor([policy, all], 'Timeout')).toBe(0);
    expect(retrierFor([policy, all], 'CardDeclined')).toBe(1);
    expect(retrierFor([policy], 'CardDeclined')).toBe(-1);
    expect(catchFor([{ errorEquals: ['CardDeclined'], next: 'n5' }, { errorEquals: ['States.ALL'], next: 'n9' }], 'Timeout')).toEqual({ errorEquals: ['States.ALL'], next: 'n9' });
  });
});

describe('durations', () => {
  it('reads milliseconds and numbers with units', () => {
    expect(['250ms', '30s', '5m', '2h', '3d', '1w', '1.5s', 1500].map((d) => durationMs(d))).toEqual([250, 30_000, 300_000, 7_200_000, 259_200_000, 604_800_000, 1500, 1500]);
    expect(durationMs('soon')).toBeUndefined();
    expect(durationMs(-1)).toBeUndefined();
  });
});
