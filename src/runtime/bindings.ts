import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_RETRY } from '../compiler/bind';
import type { BindingSpec, NodeBindingSpec, RetryPolicy } from '../compiler/types';
import { InputError } from '../lib/files';
import { BUILTIN_PACKS, CATALOG_ONLY, type PackEnvironment } from './builtins';
import type { AnyFlow, CatchInput, Duration, FlowBindings, HandlerDefinition, RetryInput } from './define';
import { inlineCodeHash, syntaxErrorIn } from './code-version';
import { requireDurationMs } from './duration';
import { HandlerRegistry, type HandlerFunction } from './registry';
import { importAtRunTime } from '../lib/import-at-run-time';

/** A binding module read into what the binder checks and what the executor calls. */
export interface LoadedBindings {
  spec: BindingSpec;
  registry: HandlerRegistry;
}

/** The extensions tried, in order, for the binding module beside `name.flow`. */
const BINDING_EXTENSIONS = ['.bindings.ts', '.bindings.mts', '.bindings.js', '.bindings.mjs'];

/** `flows/plan-upgrade.flow` → `flows/plan-upgrade.bindings.ts` (or .mts/.js/.mjs) when it exists. */
export function defaultBindingsPath(flowPath: string): string | undefined {
  const base = flowPath.replace(/\.flow$/, '');
  return BINDING_EXTENSIONS.map((ext) => base + ext).find((path) => existsSync(path));
}

/**
 * Imports a binding module, TypeScript or JavaScript, through tsx. Each load is a module graph
 * of its own (tsx's `tsImport` namespaces it), so a module changed on disk since an earlier load
 * in this process is read as it is now, with the local modules it imports: what runs is what
 * `moduleCodeHash` hashed. Throws InputError when the module cannot be loaded or exports no bindings.
 */
export async function loadBindingsModule(path: string): Promise<FlowBindings> {
  const absolute = resolve(path);
  if (!existsSync(absolute)) throw new InputError(`cannot read the binding module ${path}: no such file`);
  let module: { default?: unknown };
  try {
    const { tsImport } = (await importAtRunTime('tsx/esm/api')) as typeof import('tsx/esm/api');
    module = (await tsImport(pathToFileURL(absolute).href, import.meta.url)) as { default?: unknown };
  } catch (error) {
    // Node's SyntaxError names no position for a module; esbuild's parse of the same files does.
    const syntax = error instanceof SyntaxError ? await syntaxErrorIn(path) : undefined;
    throw new InputError(`cannot load the binding module ${path}: ${syntax ?? (error instanceof Error ? error.message : String(error))}`);
  }
  // tsx may wrap a CommonJS-looking default export once more.
  let exported = module.default;
  if (isRecord(exported) && !('nodes' in exported) && isRecord(exported['default'])) exported = exported['default'];
  if (!isRecord(exported) || !isRecord(exported['nodes'])) {
    throw new InputError(`${path} must default-export defineBindings({ nodes: { … } })`);
  }
  return exported as unknown as FlowBindings;
}

/**
 * Turns bindings into plain data for the binder and a registry for the executor: the built-in
 * packs, the module's packs and handlers, and one inline handler per function bound to a node
 * (named `inline:<key>`, the same in every process that loads the module). Without an engine's
 * `environment` the built-in handlers are only listed, for checking. `code` is the hash of the
 * handlers' code (`moduleCodeHash` for a module); by default, that of the functions' source.
 */
export function readBindings(
  bindings: FlowBindings<AnyFlow, unknown>,
  source: string,
  environment: PackEnvironment = CATALOG_ONLY,
  code: string = inlineCodeHash(bindings),
): LoadedBindings {
  const registry = new HandlerRegistry();
  for (const pack of [...BUILTIN_PACKS.map((build) => build(environment)), ...(bindings.packs ?? [])]) registry.use(pack);
  for (const [name, handler] of Object.entries(bindings.handlers ?? {})) registry.register(name, handler);

  const nodes: NodeBindingSpec[] = [];
  for (const [key, binding] of Object.entries(bindings.nodes)) {
    const options = typeof binding === 'object' && 'handler' in binding ? binding : undefined;
    const handler = options === undefined ? binding : options.handler;
    const inlineName = `inline:${key}`;
    let name: string;
    if (typeof handler === 'string') {
      name = handler;
    } else if (typeof handler === 'function') {
      name = inlineName;
      registry.registerInline(name, handler as HandlerFunction);
    } else {
      name = inlineName;
      registry.register(name, handler as HandlerDefinition);
    }
    const spec: NodeBindingSpec = { key, handler: name };
    if (options?.retry !== undefined) spec.retry = retryPolicies(options.retry);
    if (options?.catch !== undefined) spec.catch = catchRoutes(options.catch);
    if (options?.timeout !== undefined) spec.timeoutSeconds = seconds(options.timeout, `the timeout of "${key}"`);
    nodes.push(spec);
  }

  const defaults: BindingSpec['defaults'] = {};
  if (bindings.defaults?.retry !== undefined) defaults.retry = retryPolicies(bindings.defaults.retry);
  if (bindings.defaults?.timeout !== undefined) defaults.timeoutSeconds = seconds(bindings.defaults.timeout, 'the default timeout');
  const loops = Object.entries(bindings.loops ?? {}).map(([key, bound]) => ({ key, bound: Number(bound) }));
  return { spec: { source, nodes, loops, defaults, code }, registry };
}

/**
 * Fills each retrier's missing fields with States Language's defaults; `false` means never
 * retry. A `schedule` of durations becomes `scheduleSeconds`, one retry per wait unless told.
 */
function retryPolicies(input: RetryInput): RetryPolicy[] {
  if (input === false) return [];
  return (Array.isArray(input) ? input : [input]).map(({ schedule, ...fields }) => {
    if (schedule === undefined) return { ...DEFAULT_RETRY, ...fields };
    const scheduleSeconds = schedule.map((wait, i) => seconds(wait, `wait ${i + 1} of a retry schedule`));
    return { ...DEFAULT_RETRY, maxAttempts: schedule.length, ...fields, scheduleSeconds };
  });
}

function catchRoutes(input: CatchInput<AnyFlow>): { errorEquals: string[]; next: string }[] {
  const routes = Array.isArray(input) ? input : [input];
  return routes.map((route) =>
    typeof route === 'string' ? { errorEquals: ['States.ALL'], next: route } : { errorEquals: route.errorEquals ?? ['States.ALL'], next: route.next },
  );
}

function seconds(duration: Duration, what: string): number {
  return requireDurationMs(duration, what) / 1000;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}
