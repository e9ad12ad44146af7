import { DEFAULT_LOOP_BOUND } from './bind';
import type { CatchEdge } from './catch-routes';
import type { CompiledFlow, FlowEdge } from './types';

/** One route a token can take from a start: its nodes and edges in order, and how it ends. */
export interface FlowPath {
  start: string;
  nodes: string[];
  edges: string[];
  /** Each decision on the way and the label it takes there, in order. */
  decisions: { node: string; label: string }[];
  /** Each catch route on the way (its id is in `edges`): the step whose errors it caught, and the errors. */
  catches: { node: string; to: string; errors: string[] }[];
  /**
   * `end`: an end circle; `dead-end`: a node with no outgoing edge that is not an end;
   * `loop-exhausted`: the token entered the loop's first node once more than its bound allows,
   * which fails the step at run time.
   */
  outcome: { kind: 'end' | 'dead-end' | 'loop-exhausted'; node: string; loop?: string };
}

export interface PathsOptions {
  /** Loop bounds by loop id, overriding the flow's (a binding module may set them). */
  loopBounds?: Record<string, number>;
  /** Stop listing after this many paths. */
  maxPaths?: number;
  /** The binding's catch routes, followed from their step like another way out of it. */
  catchEdges?: readonly CatchEdge[];
}

export interface PathsResult {
  paths: FlowPath[];
  /** The iteration bound used for each loop. */
  loopBounds: Record<string, number>;
  /** True when there were more paths than `maxPaths`. */
  truncated: boolean;
  /** Nodes on a cycle that no loop bounds, which paths go round at most once. */
  unboundedCycleNodes: string[];
}

const DEFAULT_MAX_PATHS = 1000;

/**
 * Every distinct route from each start to an end, through the binding's catch routes when
 * given them (as if the step's retries ran out with an error the route catches). A declared loop is bounded as at run time:
 * its first node can be entered `bound` times, and one more entry is listed as the path where
 * the loop runs out. A cycle through no loop's first node has no bound at run time; here it is
 * followed at most once around (a node on it appears at most twice), so the list is finite. At
 * a fork each outgoing edge is its own route, as each gets its own token.
 */
export function flowPaths(flow: CompiledFlow, options: PathsOptions = {}): PathsResult {
  const outgoing = new Map<string, FlowEdge[]>();
  for (const edge of flow.edges) outgoing.set(edge.from.node, [...(outgoing.get(edge.from.node) ?? []), edge]);
  const catchesFrom = new Map<string, CatchEdge[]>();
  for (const edge of options.catchEdges ?? []) catchesFrom.set(edge.from, [...(catchesFrom.get(edge.from) ?? []), edge]);
  const kinds = new Map(flow.nodes.map((node) => [node.id, node.kind]));
  const loopBounds: Record<string, number> = {};
  const headOf = new Map<string, string>();
  for (const loop of flow.loops) {
    loopBounds[loop.id] = options.loopBounds?.[loop.id] ?? loop.bound ?? DEFAULT_LOOP_BOUND;
    if (loop.nodes[0] !== undefined) headOf.set(loop.nodes[0], loop.id);
  }
  const maxPaths = options.maxPaths ?? DEFAULT_MAX_PATHS;
  const paths: FlowPath[] = [];
  const unbounded = new Set<string>();
  let truncated = false;

  const nodes: string[] = [];
  const edges: string[] = [];
  const decisions: FlowPath['decisions'] = [];
  const catches: FlowPath['catches'] = [];
  const entries = new Map<string, number>();

  const record = (start: string, outcome: FlowPath['outcome']) => {
    if (paths.length >= maxPaths) {
      truncated = true;
      return;
    }
    paths.push({ start, nodes: [...nodes], edges: [...edges], decisions: [...decisions], catches: [...catches], outcome });
  };

  const visit = (start: string, node: string): void => {
    if (truncated) return;
    const loop = headOf.get(node);
    if (loop === undefined) {
      const previous = nodes.lastIndexOf(node);
      if (previous !== -1) {
        const governed = nodes.slice(previous + 1).some((id) => headOf.has(id));
        if (!governed) {
          nodes.slice(previous).forEach((id) => unbounded.add(id));
          if (nodes.filter((id) => id === node).length >= 2) return;
        }
      }
    }
    nodes.push(node);
    try {
      if (loop !== undefined) {
        const entered = (entries.get(loop) ?? 0) + 1;
        entries.set(loop, entered);
        try {
          if (entered > loopBounds[loop]!) return record(start, { kind: 'loop-exhausted', node, loop });
          follow(start, node);
        } finally {
          entries.set(loop, entered - 1);
        }
        return;
      }
      follow(start, node);
    } finally {
      nodes.pop();
    }
  };

  const follow = (start: string, node: string): void => {
    const leaving = outgoing.get(node) ?? [];
    if (kinds.get(node) === 'end' || leaving.length === 0) record(start, { kind: kinds.get(node) === 'end' ? 'end' : 'dead-end', node });
    const decision = kinds.get(node) === 'decision';
    for (const edge of kinds.get(node) === 'end' ? [] : leaving) {
      edges.push(edge.id);
      if (decision) decisions.push({ node, label: (edge.label ?? '').trim() });
      visit(start, edge.to.node);
      if (decision) decisions.pop();
      edges.pop();
    }
    for (const route of catchesFrom.get(node) ?? []) {
      edges.push(route.id);
      catches.push({ node, to: route.to, errors: route.errors });
      visit(start, route.to);
      catches.pop();
      edges.pop();
    }
  };

  for (const start of flow.starts) visit(start, start);
  return { paths, loopBounds, truncated, unboundedCycleNodes: flow.nodes.map((n) => n.id).filter((id) => unbounded.has(id)) };
}
