import { catchRoutesInSource } from './binding-keys';
import type { CompiledFlow, FlowEdge, FlowNode, Machine, Side } from './types';

/**
 * A catch route as an edge: where a step's token goes when its retries run out with an error
 * the route matches. The binding module declares it, not the `.flow` file, so `paths` follows
 * it and `render` draws it only when they are given it.
 */
export interface CatchEdge {
  /** `n4-catch->n18`, with `#2`, `#3`… for a second route between the same nodes. */
  id: string;
  from: string;
  to: string;
  /** The error names it catches; empty when it catches every error. */
  errors: string[];
}

/** Every error, as Amazon States Language names it. */
const ANY_ERROR = 'States.ALL';

/** The catch routes of a bound machine. */
export function catchEdgesOf(machine: Machine): CatchEdge[] {
  const routes = Object.values(machine.nodes).flatMap((node) => node.catch.map((route) => ({ from: node.id, to: route.next, errors: route.errorEquals })));
  return withIds(routes);
}

/**
 * The catch routes a binding module's text declares (see `catchRoutesInSource`), with node
 * ids or labels resolved against the flow. A route whose step or target cannot be read or
 * named is left out and described in `skipped`.
 */
export function catchEdgesInSource(flow: CompiledFlow, moduleText: string): { edges: CatchEdge[]; skipped: string[] } {
  const skipped: string[] = [];
  const routes: Omit<CatchEdge, 'id'>[] = [];
  for (const route of catchRoutesInSource(moduleText)) {
    const from = nodeNamed(flow, route.key);
    const to = route.next === undefined ? undefined : nodeNamed(flow, route.next);
    if (from === undefined || to === undefined) {
      const what = route.next === undefined ? 'its target is not written as text' : `"${from === undefined ? route.key : route.next}" names no single node`;
      skipped.push(`line ${route.range.start.line}: the catch route of "${route.key}" is not drawn: ${what}`);
      continue;
    }
    routes.push({ from: from.id, to: to.id, errors: route.errorEquals ?? [] });
  }
  return { edges: withIds(routes), skipped };
}

/** What a catch edge is labelled with: the errors it catches, or `catch` for every error. */
export function catchLabel(edge: CatchEdge): string {
  const names = edge.errors.filter((name) => name !== ANY_ERROR);
  return names.length === 0 || names.length < edge.errors.length ? 'catch' : names.join(', ');
}

/**
 * The flow with its catch routes added as edges, for laying it out: each leaves its step on
 * the side a bare edge would (along its lane, or down or up to another) and carries its label.
 */
export function withCatchEdges(flow: CompiledFlow, edges: readonly CatchEdge[]): CompiledFlow {
  if (edges.length === 0) return flow;
  const nodes = new Map(flow.nodes.map((node) => [node.id, node]));
  const lanes = flow.lanes.map((lane) => lane.id);
  const added = edges.map((edge): FlowEdge => {
    const from = nodes.get(edge.from)!;
    const to = nodes.get(edge.to)!;
    const sides = sidesBetween(lanes.indexOf(from.lane), lanes.indexOf(to.lane));
    return { id: edge.id, from: { node: edge.from, side: sides.from }, to: { node: edge.to, side: sides.to }, label: catchLabel(edge), range: from.range };
  });
  return { ...flow, edges: [...flow.edges, ...added] };
}

function withIds(routes: readonly Omit<CatchEdge, 'id'>[]): CatchEdge[] {
  const seen = new Map<string, number>();
  return routes.map((route) => {
    const base = `${route.from}-catch->${route.to}`;
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    return { id: count === 1 ? base : `${base}#${count}`, ...route };
  });
}

/** A node by id, or by a label exactly one node has (trimmed), as bindings name them. */
function nodeNamed(flow: CompiledFlow, name: string): FlowNode | undefined {
  const byId = flow.nodes.find((node) => node.id === name);
  if (byId !== undefined) return byId;
  const byLabel = flow.nodes.filter((node) => node.label.trim() === name.trim());
  return byLabel.length === 1 ? byLabel[0] : undefined;
}

/** The sides of an edge written without handles: along the lane, or down / up across lanes. */
function sidesBetween(fromLane: number, toLane: number): { from: Side; to: Side } {
  if (fromLane === toLane) return { from: 'right', to: 'left' };
  return fromLane < toLane ? { from: 'bottom', to: 'top' } : { from: 'top', to: 'bottom' };
}
