import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { expect } from 'vitest';

/** Set ACCEPT=1 to (re)write golden files from the current output instead of comparing. */
export const accepting = process.env['ACCEPT'] === '1';

/**
 * Compares `actual` with the checked-in golden file at `path`. A missing golden fails the test
 * (so a new case cannot pass unseen) unless ACCEPT=1 writes it.
 */
export function expectGolden(path: string, actual: string): void {
  if (accepting) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) throw new Error(`missing golden ${path}: run with ACCEPT=1 to create it, then review it`);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}
