import type { CompiledFlow, FlowNode, Machine } from '../../compiler/types';
import type { CoverageCount, CoverageItem, FlowCoverage, Trace } from './types';

/**
 * Which nodes, edges and decision branches the traces of one flow's scenarios took. With the
 * machine, items that nothing can reach (no edge or catch route leads there) are marked
 * unreachable, so a report can tell "no scenario yet" from "no scenario possible".
 */
export function coverageOf(flow: CompiledFlow, traces: readonly Trace[], machine?: Machine): FlowCoverage {
  const nodeHits = new Map<string, number>();
  const edgeHits = new Map<string, number>();
  for (const trace of traces) {
    for (const node of new Set(trace.path)) nodeHits.set(node, (nodeHits.get(node) ?? 0) + 1);
    for (const edge of new Set(trace.edges)) edgeHits.set(edge, (edgeHits.get(edge) ?? 0) + 1);
  }
  const nodes = new Map(flow.nodes.map((node) => [node.id, node]));
  const reachable = reachableNodes(flow, machine);
  const name = (node: FlowNode | undefined) => (node === undefined ? '?' : node.label === '' ? node.id : `${node.id} "${node.label}"`);
  const at = (range: FlowNode['range']) => ({ path: flow.path, line: range.start.line, column: range.start.column });

  const nodeItems: CoverageItem[] = flow.nodes.map((node) => {
    const item: CoverageItem = { id: node.id, at: at(node.range), hits: nodeHits.get(node.id) ?? 0, describe: name(node) };
    if (!reachable.has(node.id)) item.unreachable = true;
    return item;
  });
  const edgeItems: CoverageItem[] = flow.edges.map((edge) => {
    const label = edge.label === undefined ? '' : ` [${edge.label}]`;
    const item: CoverageItem = { id: edge.id, at: at(edge.range), hits: edgeHits.get(edge.id) ?? 0, describe: `${name(nodes.get(edge.from.node))} → ${name(nodes.get(edge.to.node))}${label}` };
    if (!reachable.has(edge.from.node)) item.unreachable = true;
    return item;
  });
  const decisionEdges = new Set(flow.edges.filter((edge) => nodes.get(edge.from.node)?.kind === 'decision').map((edge) => edge.id));
  return {
    flow: flow.path,
    scenarios: traces.length,
    nodes: count(nodeItems),
    edges: count(edgeItems),
    branches: count(edgeItems.filter((item) => decisionEdges.has(item.id))),
    nodeItems,
    edgeItems,
  };
}

/** Covered share in percent, 100 when there is nothing to cover. */
export function percent({ covered, total }: CoverageCount): number {
  return total === 0 ? 100 : (covered / total) * 100;
}

function count(items: readonly CoverageItem[]): CoverageCount {
  return { covered: items.filter((item) => item.hits > 0).length, total: items.length };
}

/** Nodes a token can reach from a start by edges, or by the machine's catch routes. */
function reachableNodes(flow: CompiledFlow, machine: Machine | undefined): Set<string> {
  const next = new Map<string, string[]>();
  const link = (from: string, to: string) => next.set(from, [...(next.get(from) ?? []), to]);
  for (const edge of flow.edges) link(edge.from.node, edge.to.node);
  for (const node of Object.values(machine?.nodes ?? {})) for (const route of node.catch) link(node.id, route.next);
  const seen = new Set<string>(flow.starts);
  const queue = [...flow.starts];
  while (queue.length > 0) {
    for (const to of next.get(queue.pop()!) ?? []) {
      if (seen.has(to)) continue;
      seen.add(to);
      queue.push(to);
    }
  }
  return seen;
}
