import { readFileSync } from 'node:fs';
import { compile } from '../../compiler/compile';
import type { CompiledFlow } from '../../compiler/types';
import { formatDiagnostic } from '../../lib/report';
import { parse } from '../../parser/parse';
import { defaultBindingsPath, loadBindingsModule } from '../bindings';
import type { AnyFlow, Duration, FlowBindings, FlowShape } from '../define';
import { durationMs } from '../duration';
import type { Json, JsonObject } from '../types';
import { checkExpectations } from './expect';
import { formatFailure } from './format';
import { branchLabels, findNode } from './nodes';
import { DEFAULT_START, runScenario } from './run';
import type { EffectExpectation, ExpectationFailure, Expectations, NodeScript, Scenario, ScriptedOutcome, Trace, TraceEffect } from './types';

/** What a node's handler does in one run: `'run'` (the bound handler), a decision's label, or one of the forms below. */
export type OutcomeInput = string | { return: JsonObject; emit?: { kind: string; payload: Json }[] } | { throw: string; message?: string } | { decide: string };

export interface RunFlowOptions {
  /** Only the virtual clock: from 2025-01-01T00:00:00Z, or from the instant given. */
  clock?: 'virtual' | { start: Date | number };
  input?: JsonObject;
  start?: string;
  /**
   * Scripted outcomes by node id or label: one outcome answers every run, a list answers the
   * runs (attempts of visits) in order and the bound handler answers the rest.
   */
  outcomes?: Record<string, OutcomeInput | OutcomeInput[]>;
  signals?: { name: string; after: Duration; payload?: Json }[];
  database?: 'memory' | 'file';
  maxRuns?: number;
  /** Names the run: it becomes the instance id and seeds the jitter. */
  name?: string;
}

/** Expectations as a test writes them: nodes by id or label, durations with units. */
export interface ExpectInput {
  path?: string[];
  through?: string[];
  avoids?: string[];
  end?: string | string[];
  status?: Expectations['status'];
  error?: string | { name?: string; message?: string };
  data?: JsonObject;
  effects?: EffectExpectation[];
  visits?: Record<string, number>;
  attempts?: Record<string, number>;
  elapsed?: Duration;
}

/** The failure of `FlowRun.expect`: its message names each unmet expectation, its node and the node's line. */
export class ScenarioAssertionError extends Error {
  override name = 'ScenarioAssertionError';
  constructor(readonly failures: ExpectationFailure[]) {
    super(`${failures.length} expectation${failures.length === 1 ? '' : 's'} failed:\n${failures.map((f) => formatFailure(f, { indent: '  ' })).join('\n')}`);
  }
}

/** One run of a flow and what it did, with assertion helpers. */
export class FlowRun {
  constructor(
    readonly flow: CompiledFlow,
    readonly trace: Trace,
    /** Failures of the run itself: undeliverable signals, a cycle stopped. */
    readonly problems: ExpectationFailure[],
  ) {}

  get status(): Trace['status'] {
    return this.trace.status;
  }

  get data(): JsonObject {
    return this.trace.data;
  }

  get path(): string[] {
    return this.trace.path;
  }

  get edges(): string[] {
    return this.trace.edges;
  }

  get ends(): string[] {
    return this.trace.ends;
  }

  get effects(): TraceEffect[] {
    return this.trace.effects;
  }

  effectsOf(kind: string): TraceEffect[] {
    return this.trace.effects.filter((effect) => effect.kind === kind);
  }

  /** How many times a token arrived at the node (by id or label). */
  visits(node: string): number {
    const id = nodeId(this.flow, node);
    return this.trace.path.filter((n) => n === id).length;
  }

  /** The unmet expectations, empty when all hold. The status defaults to completed (failed when `error` is given). */
  check(expect: ExpectInput): ExpectationFailure[] {
    return [...this.problems, ...checkExpectations(this.flow, this.trace, expectations(this.flow, expect))];
  }

  /** Throws a ScenarioAssertionError naming every unmet expectation. */
  expect(expect: ExpectInput): this {
    const failures = this.check(expect);
    if (failures.length > 0) throw new ScenarioAssertionError(failures);
    return this;
  }
}

/**
 * Runs a flow once on the real engine with an in-memory database and the virtual clock, for
 * a test: `const run = await runFlow('flows/x.flow', bindings, { clock: 'virtual', input })`,
 * then `run.expect({ path: [...], data: {...} })`. `flow` is a compiled flow or a .flow path;
 * `bindings` the module's export or its path (by default the module beside a .flow path).
 */
export async function runFlow<F extends FlowShape, D>(flow: CompiledFlow | string, bindings?: FlowBindings<F, D> | string, options: RunFlowOptions = {}): Promise<FlowRun> {
  const compiled = typeof flow === 'string' ? compileFile(flow) : flow;
  const bindingsPath = typeof bindings === 'string' ? bindings : bindings === undefined && typeof flow === 'string' ? defaultBindingsPath(flow) : undefined;
  const loaded = bindingsPath !== undefined ? await loadBindingsModule(bindingsPath) : (bindings as FlowBindings<AnyFlow, unknown> | undefined);
  const scenario: Scenario = {
    name: options.name ?? 'run',
    input: options.input ?? {},
    startAt: options.clock === undefined || options.clock === 'virtual' ? DEFAULT_START : new Date(options.clock.start).getTime(),
    scripts: scripts(compiled, options.outcomes ?? {}),
    signals: (options.signals ?? []).map((signal) => ({ name: signal.name, afterMs: duration(signal.after, `the signal "${signal.name}"`), payload: signal.payload ?? null })),
    expect: {},
    skip: false,
    locations: {},
  };
  if (options.start !== undefined) scenario.start = nodeId(compiled, options.start);
  const { trace, failures } = await runScenario(
    { flow: compiled, ...(loaded !== undefined && { bindings: loaded }), ...(bindingsPath !== undefined && { bindingsPath }) },
    scenario,
    { ...(options.database !== undefined && { database: options.database }), ...(options.maxRuns !== undefined && { maxRuns: options.maxRuns }) },
  );
  if (trace === undefined) throw new Error(`${compiled.path} cannot run with these bindings:\n${failures.map((f) => `  ${f.message}`).join('\n')}`);
  return new FlowRun(compiled, trace, failures);
}

function compileFile(path: string): CompiledFlow {
  const text = readFileSync(path, 'utf8');
  const parsed = parse(path, text);
  const { flow, diagnostics } = compile(parsed.ast);
  const errors = [...parsed.diagnostics, ...diagnostics].filter((d) => d.severity === 'error');
  if (flow === undefined || errors.length > 0) throw new Error(`${path} has errors:\n${errors.map((d) => formatDiagnostic(path, text, d)).join('\n')}`);
  return flow;
}

function nodeId(flow: CompiledFlow, reference: string): string {
  const found = findNode(flow, reference);
  if (typeof found === 'string') throw new Error(found);
  return found.id;
}

function scripts(flow: CompiledFlow, outcomes: Record<string, OutcomeInput | OutcomeInput[]>): Record<string, NodeScript> {
  const result: Record<string, NodeScript> = {};
  for (const [reference, input] of Object.entries(outcomes)) {
    const id = nodeId(flow, reference);
    const outcome = (one: OutcomeInput) => scriptedOutcome(flow, id, one);
    result[id] = Array.isArray(input) ? { runs: input.map(outcome) } : { each: outcome(input) };
  }
  return result;
}

function scriptedOutcome(flow: CompiledFlow, id: string, input: OutcomeInput): ScriptedOutcome {
  const decision = flow.nodes.find((n) => n.id === id)!.kind === 'decision';
  const label = (text: string): ScriptedOutcome => {
    const labels = branchLabels(flow, id);
    const found = labels.find((l) => l.toLowerCase() === text.trim().toLowerCase());
    if (found === undefined) throw new Error(`${id} has no branch "${text}"; its labels are ${labels.map((l) => `"${l}"`).join(', ')}`);
    return { kind: 'decide', label: found };
  };
  if (input === 'run') return { kind: 'run' };
  if (typeof input === 'string') {
    if (!decision) throw new Error(`"${input}" is no outcome for the step ${id}: use 'run', { return: {...} } or { throw: 'ErrorName' }`);
    return label(input);
  }
  if ('decide' in input) return label(input.decide);
  if ('throw' in input) return { kind: 'throw', name: input.throw, message: input.message ?? `scripted ${input.throw}` };
  if (decision) throw new Error(`${id} is a decision: script it with one of its labels`);
  return { kind: 'return', patch: input.return, emit: input.emit ?? [] };
}

function expectations(flow: CompiledFlow, input: ExpectInput): Expectations {
  const ids = (refs: string[]) => refs.map((ref) => nodeId(flow, ref));
  const counts = (map: Record<string, number>) => Object.fromEntries(Object.entries(map).map(([ref, count]) => [nodeId(flow, ref), count]));
  const expect: Expectations = {};
  if (input.path !== undefined) expect.path = ids(input.path);
  if (input.through !== undefined) expect.through = ids(input.through);
  if (input.avoids !== undefined) expect.avoids = ids(input.avoids);
  if (input.end !== undefined) expect.end = ids(Array.isArray(input.end) ? input.end : [input.end]);
  if (input.status !== undefined) expect.status = input.status;
  if (input.error !== undefined) expect.error = typeof input.error === 'string' ? { name: input.error } : input.error;
  if (input.data !== undefined) expect.data = input.data;
  if (input.effects !== undefined) expect.effects = input.effects;
  if (input.visits !== undefined) expect.visits = counts(input.visits);
  if (input.attempts !== undefined) expect.attempts = counts(input.attempts);
  if (input.elapsed !== undefined) expect.elapsedMs = duration(input.elapsed, 'elapsed');
  return expect;
}

function duration(value: Duration, what: string): number {
  const ms = durationMs(value);
  if (ms === undefined) throw new Error(`${what}: ${JSON.stringify(value)} is not a duration such as 30s, 5m or 3d`);
  return ms;
}
