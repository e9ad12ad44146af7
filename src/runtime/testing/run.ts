import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompiledFlow } from '../../compiler/types';
import { VirtualClock } from '../clock';
import type { AnyFlow, FlowBindings } from '../define';
import { Engine } from '../engine';
import { formatDuration } from './expect';
import { scriptedHandlers } from './script';
import { traceOf } from './trace';
import type { ExpectationFailure, Scenario, Trace } from './types';

/** A flow and what binds it. Without bindings every step passes and every decision must be scripted. */
export interface ScenarioTarget {
  flow: CompiledFlow;
  bindings?: FlowBindings<AnyFlow, unknown>;
  /** Named in binding errors. */
  bindingsPath?: string;
}

export interface RunScenarioOptions {
  /** `memory` (the default): an in-memory SQLite database; `file`: a temporary file, removed afterwards. */
  database?: 'memory' | 'file';
  /** A scenario that runs more handlers than this is stopped and fails: the flow went round a cycle for ever. */
  maxRuns?: number;
  /** Virtual time after which the run stops waiting for timers. */
  horizonMs?: number;
}

export interface ScenarioRun {
  /** Absent when the flow could not be deployed. */
  trace?: Trace;
  /** What went wrong with the run itself: a binding error, an undeliverable signal, a cycle stopped. */
  failures: ExpectationFailure[];
}

/** The virtual clock's start when a scenario names none: a fixed instant, so dates in handlers are the same on every run. */
export const DEFAULT_START = Date.UTC(2025, 0, 1);

const DEFAULT_MAX_RUNS = 10_000;
const DEFAULT_HORIZON_MS = 400 * 86_400_000;

/**
 * Runs one scenario on the real engine: a fresh database, a virtual clock starting at the
 * scenario's time, a seeded jitter source and a fixed instance id, so every run is the same.
 * Scripted outcomes answer for handlers; signals arrive when the clock reaches their time.
 * The trace is for `checkExpectations`.
 */
export async function runScenario(target: ScenarioTarget, scenario: Scenario, options: RunScenarioOptions = {}): Promise<ScenarioRun> {
  const { flow } = target;
  const folder = options.database === 'file' ? mkdtempSync(join(tmpdir(), 'laneflow-test-')) : undefined;
  const clock = new VirtualClock(scenario.startAt);
  const engine = new Engine({
    db: folder === undefined ? ':memory:' : join(folder, 'scenario.db'),
    clock,
    random: seededRandom(scenario.name),
    newId: () => instanceId(scenario.name),
  });
  const stop = new AbortController();
  const maxRuns = options.maxRuns ?? DEFAULT_MAX_RUNS;
  let runs = 0;
  try {
    const unbound = unboundNodes(flow, target.bindings, Object.keys(scenario.scripts));
    const bindings = withPlaceholders(target.bindings ?? { nodes: {} }, unbound);
    const intercept = scriptedHandlers(scenario.scripts, {
      unbound,
      passUnboundSteps: target.bindings === undefined,
      onRun: () => {
        if (++runs >= maxRuns) stop.abort();
      },
    });
    const { machine, diagnostics } = engine.deploy(flow, bindings, { bindingsPath: target.bindingsPath ?? 'the bindings', intercept });
    if (machine === undefined) {
      return {
        failures: diagnostics
          .filter((d) => d.severity === 'error')
          .map((d) => ({ expectation: 'bindings', message: d.message, at: { path: d.file ?? flow.path, line: d.range.start.line, column: d.range.start.column } })),
      };
    }
    const id = engine.start(machine.version, { input: scenario.input, ...(scenario.start !== undefined && { start: scenario.start }) });
    const failures: ExpectationFailure[] = [];
    const signals = [...scenario.signals].sort((a, b) => a.afterMs - b.afterMs);
    for (const [index, signal] of signals.entries()) {
      const at = scenario.startAt + signal.afterMs;
      await engine.runUntilIdle({ only: id, horizon: at, stop: stop.signal });
      if (stop.signal.aborted) break;
      await clock.sleepUntil(at);
      const status = engine.instance(id)!.status;
      if (status !== 'running') {
        failures.push({
          expectation: `signals[${index}]`,
          message: `signal "${signal.name}" at +${formatDuration(signal.afterMs)} was not delivered: the instance had already ${status === 'completed' ? 'completed' : 'failed'}`,
          ...(signal.at !== undefined && { at: signal.at }),
        });
        continue;
      }
      engine.signal(id, signal.name, signal.payload);
    }
    if (!stop.signal.aborted) await engine.runUntilIdle({ only: id, horizon: scenario.startAt + (options.horizonMs ?? DEFAULT_HORIZON_MS), stop: stop.signal });
    const trace = traceOf(flow, engine.instance(id)!);
    if (stop.signal.aborted) {
      const counts = new Map<string, number>();
      for (const node of trace.path) counts.set(node, (counts.get(node) ?? 0) + 1);
      const busiest = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
      const node = flow.nodes.find((n) => n.id === busiest);
      failures.push({
        expectation: 'runs',
        message: `stopped after ${maxRuns} handler runs: the flow goes round a cycle without end (${busiest} was visited ${counts.get(busiest ?? '') ?? 0} times)`,
        ...(node !== undefined && { node: { id: node.id, label: node.label, at: { path: flow.path, line: node.range.start.line, column: node.range.start.column } } }),
      });
    }
    return { trace, failures };
  } finally {
    engine.close();
    if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
  }
}

/**
 * Scripted nodes that no binding names, by id or label: they get a placeholder handler so the
 * engine asks for their runs. Without bindings, every step and decision is one.
 */
function unboundNodes(flow: CompiledFlow, bindings: FlowBindings<AnyFlow, unknown> | undefined, scripted: readonly string[]): Set<string> {
  const runnable = flow.nodes.filter((node) => node.kind === 'step' || node.kind === 'decision');
  if (bindings === undefined) return new Set(runnable.map((node) => node.id));
  const keys = new Set(Object.keys(bindings.nodes).map((key) => key.trim()));
  return new Set(runnable.filter((node) => scripted.includes(node.id) && !keys.has(node.id) && !keys.has(node.label.trim())).map((node) => node.id));
}

function withPlaceholders(bindings: FlowBindings<AnyFlow, unknown>, unbound: ReadonlySet<string>): FlowBindings<AnyFlow, unknown> {
  if (unbound.size === 0) return bindings;
  const nodes: Record<string, unknown> = { ...bindings.nodes };
  // The interceptor answers for these; the placeholder itself is never called.
  for (const id of unbound) nodes[id] = () => undefined;
  return { ...bindings, nodes } as FlowBindings<AnyFlow, unknown>;
}

/** A readable, stable instance id: the scenario's name in lower-case words. */
function instanceId(name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48);
  return slug === '' ? 'scenario' : slug;
}

/** Mulberry32 seeded from the scenario's name: jitter is random-looking but the same on every run. */
function seededRandom(seedText: string): () => number {
  let seed = 2166136261;
  for (const char of seedText) seed = Math.imul(seed ^ char.charCodeAt(0), 16777619);
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
