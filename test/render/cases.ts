import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { checkSource } from '../../src/index';
import type { CompiledFlow } from '../../src/compiler/types';

const root = join(import.meta.dirname, '..', '..');

/**
 * Every flow the renderer is checked on: the project's flows/ (whatever is added there) and the
 * tricky cases. Goldens are kept for GOLDEN_CASES only, so adding a flow needs no golden.
 */
export const RENDER_CASES: Array<{ name: string; path: string }> = [
  ...readdirSync(join(root, 'flows'))
    .filter((file) => file.endsWith('.flow'))
    .sort()
    .map((file) => ({ name: file.replace(/\.flow$/, ''), path: `flows/${file}` })),
  ...readdirSync(join(root, 'test/testdata/render-cases'))
    .filter((file) => file.endsWith('.flow'))
    .sort()
    .map((file) => ({ name: file.replace(/\.flow$/, ''), path: `test/testdata/render-cases/${file}` })),
];

export function compileCase(path: string): CompiledFlow {
  return compileText(path, readFileSync(join(root, path), 'utf8'));
}

export function compileText(path: string, text: string): CompiledFlow {
  const result = checkSource(path, text);
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  expect(errors, `${path} has errors`).toEqual([]);
  return result.flow!;
}

/** The cases with layout and SVG goldens: the two seed flows and the tricky cases. */
export const GOLDEN_CASES = RENDER_CASES.filter(
  ({ path }) => path.startsWith('test/testdata/render-cases/') || path === 'flows/webhook-integration.flow' || path === 'flows/plan-upgrade.flow',
);
