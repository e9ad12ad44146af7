import { existsSync } from 'node:fs';

/** The names a flow's binding module may have beside it, in the order they are looked for. */
export const BINDING_MODULE_EXTENSIONS = ['.bindings.ts', '.bindings.mts', '.bindings.js', '.bindings.mjs'];

/** `flows/refund.flow` → `flows/refund.bindings.ts` when there is one (or .mts, .js, .mjs). */
export function bindingModuleBeside(flowPath: string): string | undefined {
  const base = flowPath.replace(/\.flow$/, '');
  return BINDING_MODULE_EXTENSIONS.map((extension) => base + extension).find((path) => existsSync(path));
}
