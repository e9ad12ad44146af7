import type * as Esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { InputError } from '../lib/files';
import type { AnyFlow, FlowBindings } from './define';

/**
 * The code that runs a flow's handlers, as one hash: the binding module and every local module
 * it imports, directly or not, as they are on disk now. Packages (`laneflow` itself, a gateway's
 * SDK) are left out: they change with a lockfile, not with a flow's code. Paths count relative
 * to the binding module's folder, so a checkout elsewhere has the same hash. esbuild (which tsx
 * uses to load the module) finds the imports, type-only ones left out.
 */
export async function moduleCodeHash(bindingsPath: string): Promise<string> {
  const entry = resolve(bindingsPath);
  const folder = dirname(entry);
  const found = await localModules(entry);
  if (typeof found === 'string') throw new InputError(`cannot load the binding module ${bindingsPath}: ${found}`);
  const hash = createHash('sha256');
  for (const file of found.map((input) => ({ input, name: relative(folder, input) })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    hash.update(`${file.name}\0`).update(readFileSync(file.input)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** The first syntax error in a binding module or the local modules it imports, as `file:line:column: text`; undefined when esbuild finds none. */
export async function syntaxErrorIn(bindingsPath: string): Promise<string | undefined> {
  const found = await localModules(resolve(bindingsPath));
  return typeof found === 'string' ? found : undefined;
}

/** The absolute paths of a module and the local modules it imports, or esbuild's first error. */
async function localModules(entry: string): Promise<string[] | string> {
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof Esbuild;
  const folder = dirname(entry);
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
    return Object.keys(metafile.inputs).map((input) => resolve(folder, input));
  } catch (error) {
    return buildError(error);
  }
}

/**
 * The code of bindings given as values (deployed in the process, not from a module): the source
 * text of every handler function they hold. It changes when a handler's body does, not when a
 * helper the handler calls does — only a module's hash covers those.
 */
export function inlineCodeHash(bindings: FlowBindings<AnyFlow, unknown>): string {
  const hash = createHash('sha256');
  // Every function held anywhere in them, by its path (`nodes.n2.handler`, `packs.0.handlers.charge.run`).
  const add = (path: string, value: unknown) => {
    if (typeof value === 'function') hash.update(`${path}\0${String(value)}\0`);
    else if (typeof value === 'object' && value !== null) {
      for (const key of Object.keys(value).sort()) add(`${path}.${key}`, (value as Record<string, unknown>)[key]);
    }
  };
  add('bindings', { nodes: bindings.nodes, handlers: bindings.handlers, packs: bindings.packs });
  return hash.digest('hex').slice(0, 16);
}

/** esbuild's first error with its position (1-based column), or the error's message. */
function buildError(error: unknown): string {
  const first = (error as { errors?: Esbuild.Message[] }).errors?.[0];
  if (first === undefined) return error instanceof Error ? error.message : String(error);
  const where = first.location === null ? '' : `${first.location.file}:${first.location.line}:${first.location.column + 1}: `;
  return `${where}${first.text}`;
}
