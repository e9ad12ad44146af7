import { Document, isMap, isScalar, isSeq, LineCounter, parseDocument, type YAMLSeq } from 'yaml';
import { InputError } from '../../lib/files';
import type { FlowPath } from '../../compiler/paths';
import type { CompiledFlow } from '../../compiler/types';
import { ENGINE_ERRORS } from '../core';
import { durationInOneUnit } from './format';
import { nodeName } from './nodes';
import { runScenario, type ScenarioTarget } from './run';
import { readScenarios } from './scenario-file';
import type { Trace } from './types';

/**
 * The paths to write skeletons for: uncovered paths chosen greedily, each taking the most
 * edges that no scenario takes yet, until every edge some path can take is taken.
 */
export function pathsToScaffold(paths: readonly FlowPath[], coveredEdges: ReadonlySet<string>, coveredPaths: ReadonlySet<number>): number[] {
  const missing = new Set<string>();
  for (const path of paths) if (path.catches.length === 0) for (const edge of path.edges) if (!coveredEdges.has(edge)) missing.add(edge);
  const chosen: number[] = [];
  while (missing.size > 0) {
    let best = -1;
    let gain = 0;
    paths.forEach((path, index) => {
      // A skeleton scripts decisions, not the errors that send a token down a catch route.
      if (coveredPaths.has(index) || chosen.includes(index) || path.catches.length > 0) return;
      const adds = new Set(path.edges.filter((edge) => missing.has(edge))).size;
      if (adds > gain) [best, gain] = [index, adds];
    });
    if (best === -1) break;
    chosen.push(best);
    for (const edge of paths[best]!.edges) missing.delete(edge);
  }
  return chosen;
}

/** Indexes of the paths some trace followed: one token's route from its start, node for node. */
export function coveredPathIndexes(paths: readonly FlowPath[], traces: readonly Trace[]): Set<number> {
  const routes = new Set(traces.flatMap(tokenRoutes).map((route) => route.join(' ')));
  return new Set(paths.flatMap((path, index) => (routes.has(path.nodes.join(' ')) ? [index] : [])));
}

/** Each token's route; a forked token's route begins with its parent's up to the fork. */
function tokenRoutes(trace: Trace): string[][] {
  const routes = new Map<string, string[]>();
  trace.visits.forEach((visit, index) => {
    let route = routes.get(visit.token);
    if (route === undefined) {
      const from = visit.via?.split('->')[0];
      const parent = from === undefined ? undefined : trace.visits.slice(0, index).reverse().find((v) => v.node === from);
      const prefix = parent === undefined ? [] : (routes.get(parent.token) ?? []);
      route = parent === undefined ? [] : prefix.slice(0, prefix.lastIndexOf(parent.node) + 1);
      routes.set(visit.token, route);
    }
    route.push(visit.node);
  });
  return [...routes.values()];
}

/** A path to write a skeleton for, with its number in `laneflow paths`' list (from 0). */
export interface ScaffoldPath {
  index: number;
  path: FlowPath;
}

/** More rounds than this of adding a signal and running again means the path waits in a cycle. */
const MAX_SIGNAL_ROUNDS = 20;

/**
 * Appends skeleton scenarios for `paths` to a scenario file's text (or starts one). The text
 * already there is kept byte for byte: the skeletons are inserted after the last scenario.
 * Each skeleton scripts the decisions along its path, expects the path and its end, and sends
 * the signals the path waits for: it is run on the engine, and while the instance stops waiting
 * for a signal, that signal is added at the time it began to wait. The author fills in the
 * input and the data to expect.
 */
export async function scaffoldScenarios(target: ScenarioTarget, paths: readonly ScaffoldPath[], existing: string | undefined, scenarioPath: string): Promise<string> {
  const { flow } = target;
  const items: string[] = [];
  for (const { index, path } of paths) {
    const skeleton = skeletonOf(flow, index, path);
    skeleton.signals = await neededSignals(target, skeleton, scenarioPath);
    items.push(skeletonText(flow, index, path, skeleton));
  }
  return insertScenarios(existing ?? `# Scenarios for ${flow.path}: \`laneflow test\` runs them.\n`, items);
}

interface Skeleton {
  name: string;
  input: Record<string, never>;
  outcomes?: Record<string, string[]>;
  signals?: { name: string; after: string }[];
  expect: Record<string, unknown>;
}

function skeletonOf(flow: CompiledFlow, index: number, path: FlowPath): Skeleton {
  const outcomes: Record<string, string[]> = {};
  for (const { node, label } of path.decisions) (outcomes[node] ??= []).push(label);
  const choices = path.decisions.map(({ node, label }) => `${flow.nodes.find((n) => n.id === node)?.label.trim() || node} ${label}`);
  const expect: Record<string, unknown> = { path: path.nodes };
  if (path.outcome.kind === 'loop-exhausted') Object.assign(expect, { status: 'failed', error: ENGINE_ERRORS.loopExhausted });
  else if (path.outcome.kind === 'end') expect['end'] = path.outcome.node;
  return {
    name: `TODO path ${index + 1}${choices.length === 0 ? '' : `: ${choices.join(', ')}`}`,
    input: {},
    ...(Object.keys(outcomes).length > 0 && { outcomes }),
    expect,
  };
}

/** The signals a skeleton must send so that its instance does not stop waiting for one. */
async function neededSignals(target: ScenarioTarget, skeleton: Skeleton, scenarioPath: string): Promise<{ name: string; after: string }[]> {
  const signals: { name: string; after: string }[] = [];
  for (let round = 0; round < MAX_SIGNAL_ROUNDS; round++) {
    const { scenarios } = readScenarios(scenarioPath, new Document({ scenarios: [{ ...skeleton, signals }] }).toString(), target.flow);
    const scenario = scenarios[0];
    if (scenario === undefined || (scenario.problems?.length ?? 0) > 0) break;
    const { trace } = await runScenario(target, scenario);
    const waiting = trace?.status === 'running' ? trace.pending.find((token) => token.signal !== undefined) : undefined;
    if (trace === undefined || waiting === undefined) break;
    signals.push({ name: waiting.signal!, after: durationInOneUnit(trace.updatedAt - scenario.startAt) });
  }
  return signals;
}

function skeletonText(flow: CompiledFlow, index: number, path: FlowPath, skeleton: Skeleton): string {
  const { signals, expect, ...rest } = skeleton;
  const document = new Document([{ ...rest, ...(signals !== undefined && signals.length > 0 && { signals }), expect }]);
  // Node lists and signals read best on one line each.
  const item = (document.contents as YAMLSeq).items[0];
  if (isMap(item)) {
    for (const key of ['outcomes', 'expect']) {
      const section = item.get(key, true);
      if (isMap(section)) for (const pair of section.items) if (isSeq(pair.value)) pair.value.flow = true;
    }
    const list = item.get('signals', true);
    if (isSeq(list)) for (const signal of list.items) if (isMap(signal)) signal.flow = true;
  }
  const comment = `# Skeleton for path ${index + 1}, ending ${describeOutcome(flow, path)}: give the input that takes it, replace scripted decisions with real data where you can, and add the data and effects to expect.`;
  return `${comment}\n${document.toString({ lineWidth: 0 })}`;
}

/**
 * Inserts list items (each `- …` text at column 0) into the `scenarios:` list of a scenario
 * file's text, indented like the items there, after the last one; everything else is left as
 * written. A file without the list gets one at its end.
 */
function insertScenarios(text: string, items: readonly string[]): string {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines });
  if (document.errors.length > 0) throw new InputError(`cannot scaffold into a scenario file that does not parse: fix it first (${document.errors[0]!.message.split('\n')[0]})`);
  if (document.contents !== null && !isMap(document.contents)) throw new InputError('the scenario file is not a mapping with `scenarios:`; fix it before scaffolding');
  const list = isMap(document.contents) ? document.contents.get('scenarios', true) : undefined;
  const indent = (width: number) => (item: string) => item.replace(/^(?=.)/gm, ' '.repeat(width));
  const ending = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  if (list === undefined || list === null || (isScalar(list) && list.value === null)) {
    if (isMap(document.contents) && document.contents.has('scenarios')) throw new InputError('`scenarios:` is empty but not last in the scenario file; write `scenarios: []` or a list before scaffolding');
    return `${ending}scenarios:\n${items.map(indent(2)).join('')}`;
  }
  if (!isSeq(list) || list.range === undefined || list.range === null) throw new InputError('`scenarios:` in the scenario file is not a list; fix it before scaffolding');
  const [start, end] = list.range;
  if (list.flow === true) {
    if (list.items.length > 0) throw new InputError('`scenarios:` is written as a flow list ([ … ]); write it as a block list (one `- name:` per scenario) to scaffold into it');
    // `scenarios: []`: the empty brackets give way to the block list; the rest of their line follows it.
    const rest = text.slice(end).replace(/^[ \t]*\n?/, '');
    return `${text.slice(0, start).replace(/[ \t]+$/, '')}\n${items.map(indent(2)).join('')}${rest}`;
  }
  const width = lines.linePos(start).col - 1;
  const lineEnd = text.indexOf('\n', end - 1);
  const at = lineEnd === -1 ? text.length : lineEnd + 1;
  const before = at === text.length ? ending : text.slice(0, at);
  return `${before}${items.map(indent(width)).join('')}${text.slice(at)}`;
}

function describeOutcome(flow: CompiledFlow, path: FlowPath): string {
  const node = nodeName(flow, path.outcome.node);
  switch (path.outcome.kind) {
    case 'end':
      return `at ${node}`;
    case 'dead-end':
      return `at the dead end ${node}`;
    case 'loop-exhausted':
      return `when ${path.outcome.loop} runs out at ${node}`;
  }
}
