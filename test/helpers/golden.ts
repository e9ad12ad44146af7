import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative } from 'node:path';
import { expect } from 'vitest';
import { repoRoot } from './cases';

/**
 * Whether to (re)write goldens from the current output instead of comparing: `ACCEPT=1`, on a
 * developer's machine only. Under CI a golden is compared, never written, so a run with ACCEPT
 * set there fails instead of passing whatever the output is.
 */
export function accepting(): boolean {
  const accept = process.env['ACCEPT'];
  if (accept === undefined || accept === '') return false;
  const ci = process.env['CI'];
  if (ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false') {
    throw new Error(`ACCEPT=${accept} is set under CI=${ci}: CI compares goldens and never rewrites them; unset ACCEPT`);
  }
  return accept === '1';
}

/**
 * Compares `actual` with the checked-in golden file at `path` (absolute, or relative to the
 * repository). A missing golden fails the test, so a new case cannot pass unseen. With ACCEPT=1
 * the golden is written from `actual` first; the comparison still runs, on what was written.
 */
export function expectGolden(path: string, actual: string): void {
  const absolute = isAbsolute(path) ? path : `${repoRoot}${path}`;
  const shown = relative(repoRoot, absolute);
  if (accepting()) {
    mkdirSync(dirname(absolute), { recursive: true });
    writeFileSync(absolute, actual);
  }
  expect(existsSync(absolute), `${shown} is missing: run the tests with ACCEPT=1 to create it, then review it`).toBe(true);
  expect(actual, `${shown} differs: run the tests with ACCEPT=1 to accept the change, then review the diff`).toBe(readFileSync(absolute, 'utf8'));
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}
