/**
 * Scenario testing's data: what a scenario scripts and expects, the trace of one run, what
 * failed and where, and coverage. All plain JSON, so reporters and the renderer's overlay read
 * it without knowing the engine.
 */
import type { InstanceStatus, Json, JsonObject } from '../types';

/** A place in a file; `line` and `column` are 1-based. */
export interface SourceLocation {
  path: string;
  line: number;
  column: number;
}

/** A mistake in a scenario file (or what it refers to), at its place. */
export interface ScenarioProblem {
  message: string;
  at: SourceLocation;
}

/**
 * What a node's handler does in one run (one attempt of one visit), in place of or through the
 * real handler: `run` lets the bound handler run; `return` gives a step's data patch (and the
 * effects it records); `throw` fails the run with an error of that name; `decide` picks a
 * decision's label.
 */
export type ScriptedOutcome =
  | { kind: 'run' }
  | { kind: 'return'; patch: JsonObject; emit: { kind: string; payload: Json }[] }
  | { kind: 'throw'; name: string; message: string }
  | { kind: 'decide'; label: string };

/**
 * A node's script: `each` answers every run; otherwise `runs` answer the runs in order (a run is
 * one attempt of one visit) and the bound handler answers the ones after.
 */
export type NodeScript = { each: ScriptedOutcome } | { runs: ScriptedOutcome[] };

/** A signal sent to the instance when the virtual clock reaches `afterMs` past the start. */
export interface ScheduledSignal {
  name: string;
  afterMs: number;
  payload: Json;
  at?: SourceLocation;
}

export interface EffectExpectation {
  kind: string;
  /** Matched as a subset: every key given must be equal; keys not given are not checked. */
  payload?: Json;
  /** Exactly this many matching effects; at least one when absent. */
  count?: number;
}

/** What a scenario expects. Node references are resolved to node ids when the file is read. */
export interface Expectations {
  /** Every node visit in order, circles included. */
  path?: string[];
  /** Nodes visited in this order, others allowed in between. */
  through?: string[];
  /** Nodes never visited. */
  avoids?: string[];
  /** The end circles reached. */
  end?: string[];
  status?: InstanceStatus;
  /** The dead letter's error: its name, and text its message contains. */
  error?: { name?: string; message?: string };
  /** Matched as a subset of the final data. */
  data?: JsonObject;
  effects?: EffectExpectation[];
  /** How many times a token arrived at each node. */
  visits?: Record<string, number>;
  /** How many handler runs (attempts over all visits) each node had. */
  attempts?: Record<string, number>;
  /** Virtual time from the start to the last change of the instance. */
  elapsedMs?: number;
}

/** Where in the scenario file each expectation was written, keyed like `ExpectationFailure.expectation`. */
export type ExpectationLocations = Record<string, SourceLocation>;

export interface Scenario {
  name: string;
  input: JsonObject;
  /** The start node's id, when the flow has several. */
  start?: string;
  /** Virtual clock start, UTC ms. */
  startAt: number;
  scripts: Record<string, NodeScript>;
  signals: ScheduledSignal[];
  expect: Expectations;
  skip: boolean;
  /** Where the scenario is written, and where each of its expectations is. */
  at?: SourceLocation;
  locations: ExpectationLocations;
  /** Mistakes written in the scenario itself: it fails with them and does not run. */
  problems?: ScenarioProblem[];
}

/** One token's stay at a node. */
export interface TraceVisit {
  node: string;
  token: string;
  visit: number;
  /** The edge the token arrived by (absent at a start, or after a catch route). */
  via?: string;
  /** Present when a catch route brought the token here: the error it caught. */
  caught?: string;
  /** Handler runs that ended (completed, decided or failed). */
  attempts: number;
  /** The decision's label. */
  decided?: string;
  at: number;
}

export interface TraceEffect {
  kind: string;
  key: string;
  payload: Json;
  /** The node whose handler recorded it. */
  node: string;
  at: number;
}

/** What one instance did, read from its journal and outbox. */
export interface Trace {
  instanceId: string;
  flowPath: string;
  status: InstanceStatus;
  data: JsonObject;
  error?: { name: string; message: string; node?: string };
  visits: TraceVisit[];
  /** Node ids in the order tokens arrived. */
  path: string[];
  /** Edge ids taken, in order (with repeats). */
  edges: string[];
  /** End circles reached. */
  ends: string[];
  effects: TraceEffect[];
  /** Where tokens still are when the instance is running: `n4 waiting for "payment-updated"`. */
  pending: { node: string; state: string; detail?: string; signal?: string }[];
  startedAt: number;
  updatedAt: number;
  /** Which node's data patch last wrote each top-level data key. */
  writers: Record<string, string>;
}

/** One unmet expectation: what was expected, what happened, and where to look. */
export interface ExpectationFailure {
  /** `status`, `path`, `data.plan.tier`, `effects[0]`, `signals[1]`… */
  expectation: string;
  message: string;
  /** The node the failure points at, with its place in the .flow file. */
  node?: { id: string; label: string; at: SourceLocation };
  /** Where the expectation is written in the scenario file (for a binding error: its place in the .flow file). */
  at?: SourceLocation;
}

export interface ScenarioResult {
  flow: string;
  scenario: string;
  status: 'passed' | 'failed' | 'skipped';
  failures: ExpectationFailure[];
  /** Absent when the scenario could not run (a binding error, say). */
  trace?: Trace;
  /** Wall-clock milliseconds the run took. */
  durationMs: number;
  at?: SourceLocation;
}

export interface CoverageItem {
  id: string;
  /** Where it is written in the .flow file. */
  at: SourceLocation;
  /** How many scenarios took it. */
  hits: number;
  /** For an edge: `n9 "Credit balance available?" → n11 "Show full price" [No]`. */
  describe: string;
  /** Set when nothing can reach it: no edge or catch route leads to its source. */
  unreachable?: boolean;
}

export interface CoverageCount {
  covered: number;
  total: number;
}

/** Which nodes, edges and decision branches the scenarios of one flow took. */
export interface FlowCoverage {
  flow: string;
  scenarios: number;
  nodes: CoverageCount;
  edges: CoverageCount;
  /** Edges leaving decisions. */
  branches: CoverageCount;
  nodeItems: CoverageItem[];
  edgeItems: CoverageItem[];
}
