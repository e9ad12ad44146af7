import type * as Esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { InputError } from '../lib/files';
import type { FlowBindings, HandlerDefinition } from './define';

/**
 * The code that runs a flow's handlers, as one hash: the binding module and every local module
 * it imports, directly or not, as they are on disk now. Packages (`laneflow` itself, a gateway's
 * SDK) are left out: they change with a lockfile, not with a flow's code. Paths count relative
 * to the binding module's folder, so a checkout elsewhere has the same hash. esbuild (which tsx
 * uses to load the module) finds the imports, type-only ones left out.
 */
export async function moduleCodeHash(bindingsPath: string): Promise<string> {
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof Esbuild;
  const entry = resolve(bindingsPath);
  const folder = dirname(entry);
  let inputs: string[];
  try {
    const { metafile } = await esbuild.build({
      entryPoints: [entry],
      absWorkingDir: folder,
      bundle: true,
      write: false,
      metafile: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      logLevel: 'silent',
    });
    inputs = Object.keys(metafile.inputs).map((input) => resolve(folder, input));
  } catch (error) {
    throw new InputError(`cannot read the code of ${bindingsPath}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
  const hash = createHash('sha256');
  for (const file of inputs.map((input) => ({ input, name: relative(folder, input) })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    hash.update(`${file.name}\0`).update(readFileSync(file.input)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * The code of bindings given as values (deployed in the process, not from a module): the source
 * text of every handler function they hold. It changes when a handler's body does, not when a
 * helper the handler calls does — only a module's hash covers those.
 */
export function inlineCodeHash(bindings: FlowBindings<never, unknown> | FlowBindings): string {
  const hash = createHash('sha256');
  const add = (name: string, value: unknown) => {
    if (typeof value === 'function') hash.update(`${name}\0${String(value)}\0`);
    else if (typeof value === 'object' && value !== null) {
      for (const key of Object.keys(value).sort()) add(`${name}.${key}`, (value as Record<string, unknown>)[key]);
    }
  };
  add('nodes', bindings.nodes);
  add('handlers', bindings.handlers);
  (bindings.packs ?? []).forEach((pack, index) => add(`packs.${index}.${pack.name}`, pack.handlers as Record<string, HandlerDefinition>));
  return hash.digest('hex').slice(0, 16);
}
