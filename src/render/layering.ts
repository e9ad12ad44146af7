import type { CompiledFlow, FlowEdge } from '../compiler/types';
import type { LayeringInput } from './elk';

/**
 * The flow as a directed acyclic graph for ELK to layer into columns. An edge that leaves its
 * source on the left says its target lies to the left, so it is turned around; so is every
 * edge that closes a cycle, found by a depth-first walk from the starts in file order (the
 * edge that goes back to a node still being walked, like a retry going back to an earlier
 * step). Self-edges say nothing about columns and are left out.
 */
export function layeringInput(flow: CompiledFlow): LayeringInput {
  const forward = flow.edges
    .filter((edge) => edge.from.node !== edge.to.node)
    .map((edge): [string, string] => (pointsBackwards(edge) ? [edge.to.node, edge.from.node] : [edge.from.node, edge.to.node]));
  const successors = new Map<string, Array<[string, string]>>(flow.nodes.map((node) => [node.id, []]));
  for (const pair of forward) successors.get(pair[0])!.push(pair);

  const reversed = new Set<[string, string]>();
  const state = new Map<string, 'active' | 'done'>();
  const walk = (root: string) => {
    if (state.has(root)) return;
    // An explicit stack: a 1,000-step chain would overflow recursion.
    const stack: Array<{ node: string; next: number }> = [{ node: root, next: 0 }];
    state.set(root, 'active');
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const pair = successors.get(frame.node)![frame.next++];
      if (pair === undefined) {
        state.set(frame.node, 'done');
        stack.pop();
        continue;
      }
      const target = state.get(pair[1]);
      if (target === 'active') reversed.add(pair);
      else if (target === undefined) {
        state.set(pair[1], 'active');
        stack.push({ node: pair[1], next: 0 });
      }
    }
  };
  flow.starts.forEach(walk);
  flow.nodes.forEach((node) => walk(node.id));

  return {
    nodes: flow.nodes.map((node) => node.id),
    edges: forward.map((pair) => (reversed.has(pair) ? [pair[1], pair[0]] : pair)),
  };
}

function pointsBackwards(edge: FlowEdge): boolean {
  return edge.from.side === 'left' && edge.to.side !== 'left';
}
