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

/**
 * How a failed handler is retried: Amazon States Language's Retrier with its fields in
 * camelCase. `errorEquals` names errors by their `name`; `States.ALL` matches every error.
 * `maxAttempts` counts retries after the first run (0: never retry).
 */
export interface RetryPolicy {
  errorEquals: string[];
  intervalSeconds: number;
  backoffRate: number;
  maxAttempts: number;
  maxDelaySeconds?: number;
  /**
   * `FULL`: 0 up to the delay; `EQUAL`: half the delay plus up to the other half;
   * `DECORRELATED`: from `intervalSeconds` up to three times the previous delay, capped by
   * `maxDelaySeconds` (`backoffRate` unused).
   */
  jitterStrategy: 'FULL' | 'NONE' | 'EQUAL' | 'DECORRELATED';
  /**
   * Explicit waits before retry 1, 2, … in seconds (a binding writes `schedule: ['0h', '24h']`);
   * the last repeats for retries past the end. When set, `intervalSeconds`, `backoffRate` and
   * `maxDelaySeconds` are unused.
   */
  scheduleSeconds?: number[];
}

/** Where a token goes when a step's retries are exhausted with an error it matches. */
export interface CatchRoute {
  errorEquals: string[];
  /** A node id. */
  next: string;
}

/** One node's binding as plain data: handlers by name, nodes by id or label as written. */
export interface NodeBindingSpec {
  /** The node id or label the binding module used as its key. */
  key: string;
  handler: string;
  retry?: RetryPolicy[];
  catch?: { errorEquals: string[]; next: string }[];
  timeoutSeconds?: number;
}

/** What a binding module says, as plain data, for the compile-time checks in `bind`. */
export interface BindingSpec {
  /** The binding module's path, named in messages. */
  source: string;
  nodes: NodeBindingSpec[];
  /** Loop bound overrides keyed by loop id (`loop1`) or condition text. */
  loops: { key: string; bound: number }[];
  defaults: { retry?: RetryPolicy[]; timeoutSeconds?: number };
  /** A hash of the handlers' code (see Machine.code). */
  code?: string;
}

/**
 * What the handler registry tells the binder about a handler. A decision handler lists the
 * labels it can return; an inline handler is a function written in the binding module, which
 * the generated types check instead.
 */
export interface HandlerInfo {
  kind: 'step' | 'decision' | 'inline';
  labels?: string[];
}

export type HandlerCatalog = Record<string, HandlerInfo>;

/**
 * A flow bound to its handlers: the state machine the runtime executes. Plain JSON; `version`
 * hashes the flow's version together with the binding, and instances are pinned to it.
 */
export interface Machine {
  version: string;
  flowVersion: string;
  /**
   * A hash of the code that runs the handlers: the binding module and the local modules it
   * imports. Part of `version`, so an instance runs only on the code it was started with.
   */
  code?: string;
  path: string;
  lanes: { id: string; label: string }[];
  starts: string[];
  ends: string[];
  nodes: Record<string, MachineNode>;
  loops: Record<string, MachineLoop>;
}

export interface MachineNode {
  id: string;
  lane: string;
  kind: NodeKind;
  label: string;
  /** Targets of every outgoing edge, in file order: several mean a fork. Empty on decisions. */
  next: string[];
  /** A decision's allowed labels (trimmed) and where each leads. */
  branches?: { label: string; to: string }[];
  /** The registered handler's name; absent on circles (and on unbound nodes of an unchecked machine). */
  handler?: string;
  retry: RetryPolicy[];
  catch: CatchRoute[];
  timeoutSeconds?: number;
  /** The loop this node belongs to. */
  loop?: string;
}

export interface MachineLoop {
  id: string;
  condition: string;
  bound: number;
  boundFrom: 'condition' | 'default' | 'binding';
  /** Members in the order written; an iteration begins each time a token enters the first. */
  nodes: string[];
}
