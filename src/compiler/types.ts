import type { Range } from '../lib/diagnostics';

export const SHAPES = ['circle', 'rectangle', 'diamond', 'taskbox'] as const;
export type Shape = (typeof SHAPES)[number];

export const SIDES = ['left', 'right', 'top', 'bottom'] as const;
export type Side = (typeof SIDES)[number];

/** What a node does at run time (SEMANTICS.md). */
export type NodeKind = 'start' | 'end' | 'milestone' | 'step' | 'decision';

/**
 * A validated flow with every reference resolved: the one thing the renderer and the runtime
 * consume. Plain JSON. `version` is a content hash of everything but source positions, so
 * editing comments or layout of the file does not change it.
 */
export interface CompiledFlow {
  version: string;
  path: string;
  lanes: FlowLane[];
  nodes: FlowNode[];
  edges: FlowEdge[];
  loops: FlowLoop[];
  /** Node ids of the start circles, in declaration order. */
  starts: string[];
  /** Node ids of the end circles, in declaration order. */
  ends: string[];
}

export interface FlowLane {
  id: string;
  /** The display label: the `# text`, or the id when there is none. */
  label: string;
  range: Range;
}

export interface FlowNode {
  id: string;
  lane: string;
  shape: Shape;
  kind: NodeKind;
  label: string;
  owner?: string;
  description?: string;
  system?: string;
  /** Ids of the edges leaving this node, in file order. */
  outgoing: string[];
  range: Range;
}

export interface FlowEdge {
  /** `n1->n2`, with `#2`, `#3`… for repeated pairs. */
  id: string;
  from: EdgeEndpoint;
  to: EdgeEndpoint;
  label?: string;
  range: Range;
}

export interface EdgeEndpoint {
  node: string;
  side: Side;
  /** True when the file gave no `handle(...)` and the side was inferred. */
  inferred?: true;
}

export interface FlowLoop {
  id: string;
  condition: string;
  /** The first whole number in the condition, if any: the iteration bound. */
  bound?: number;
  /** Member node ids, in the order written; the first is where an iteration begins. */
  nodes: string[];
  range: Range;
}
