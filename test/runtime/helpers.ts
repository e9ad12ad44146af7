import { bind } from '../../src/compiler/bind';
import type { BindingSpec, HandlerCatalog, Machine, RetryPolicy } from '../../src/compiler/types';
import { checkSource } from '../../src/index';
import type { HandlerOutcome, JsonObject, RuntimeEvent, Snapshot, WaitRequest } from '../../src/runtime/types';

/** A flow bound with every step and decision given a handler named after its node id. */
export function machineOf(text: string, options: { retry?: RetryPolicy[]; catch?: Record<string, string>; loops?: BindingSpec['loops']; path?: string } = {}): Machine {
  const path = options.path ?? 'test.flow';
  const { flow, diagnostics } = checkSource(path, text);
  if (flow === undefined) throw new Error(`flow has errors: ${diagnostics.map((d) => d.message).join('; ')}`);
  const catalog: HandlerCatalog = {};
  const spec: BindingSpec = { source: 'test bindings', nodes: [], loops: options.loops ?? [], defaults: {} };
  for (const node of flow.nodes) {
    if (node.kind !== 'step' && node.kind !== 'decision') continue;
    catalog[`h.${node.id}`] = { kind: 'inline' };
    const route = options.catch?.[node.id];
    spec.nodes.push({
      key: node.id,
      handler: `h.${node.id}`,
      retry: options.retry ?? [],
      ...(route !== undefined && { catch: [{ errorEquals: ['States.ALL'], next: route }] }),
    });
  }
  const { machine, diagnostics: bindDiagnostics } = bind(flow, spec, catalog);
  if (machine === undefined) throw new Error(`binding has errors: ${bindDiagnostics.map((d) => d.message).join('; ')}`);
  return machine;
}

/** A handler outcome for the first ready token (or the one on `node`), as the executor would report it. */
export function handled(snapshot: Snapshot, at: number, outcome: HandlerOutcome, options: { node?: string; random?: number } = {}): RuntimeEvent {
  const token = snapshot.tokens.find((t) => t.state === 'ready' && (options.node === undefined || t.node === options.node));
  if (token === undefined) throw new Error(`no ready token${options.node === undefined ? '' : ` on ${options.node}`}`);
  return { type: 'handled', at, token: token.id, node: token.node, visit: token.visit, outcome, random: options.random ?? 0.5 };
}

export const completed = (patch?: JsonObject): HandlerOutcome => (patch === undefined ? { kind: 'completed' } : { kind: 'completed', patch });
export const decided = (label: string): HandlerOutcome => ({ kind: 'completed', label });
export const threw = (name: string, message = 'boom'): HandlerOutcome => ({ kind: 'failed', error: { name, message } });
export const waits = (wait: WaitRequest): HandlerOutcome => ({ kind: 'suspended', wait });

export const T0 = Date.UTC(2025, 0, 1);
