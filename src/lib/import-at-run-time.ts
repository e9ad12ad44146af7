/**
 * `import()` of a module named at run time: a binding module, or tsx to load one. The CLI's
 * start-up snapshot swaps this module for one that asks dist/import.cjs, because code inside a
 * V8 snapshot cannot import() (see scripts/snapshot.mjs).
 */
export function importAtRunTime(specifier: string): Promise<unknown> {
  return import(specifier);
}
