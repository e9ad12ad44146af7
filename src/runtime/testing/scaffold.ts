import { isMap, isSeq, parseDocument, YAMLSeq } from 'yaml';
import type { FlowPath } from '../../compiler/paths';
import type { CompiledFlow } from '../../compiler/types';
import { ENGINE_ERRORS } from '../core';
import { nodeName } from './nodes';
import type { Trace } from './types';

/**
 * The paths to write skeletons for: uncovered paths chosen greedily, each taking the most
 * edges that no scenario takes yet, until every edge some path can take is taken.
 */
export function pathsToScaffold(paths: readonly FlowPath[], coveredEdges: ReadonlySet<string>, coveredPaths: ReadonlySet<number>): number[] {
  const missing = new Set<string>();
  for (const path of paths) for (const edge of path.edges) if (!coveredEdges.has(edge)) missing.add(edge);
  const chosen: number[] = [];
  while (missing.size > 0) {
    let best = -1;
    let gain = 0;
    paths.forEach((path, index) => {
      if (coveredPaths.has(index) || chosen.includes(index)) return;
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

/**
 * Appends skeleton scenarios for `paths` to a scenario file's text (or starts one), keeping
 * what is there, comments included. Each skeleton scripts the decisions along its path and
 * expects the path and its end; the author fills in the input and the data to expect.
 */
export function scaffoldScenarios(flow: CompiledFlow, paths: readonly { index: number; path: FlowPath }[], existing: string | undefined): string {
  const document = parseDocument(existing ?? `# Scenarios for ${flow.path}: \`laneflow test\` runs them.\nscenarios: []\n`);
  if (!isMap(document.contents)) throw new Error('the scenario file is not a mapping; fix it before scaffolding');
  let list = document.get('scenarios', true);
  if (!isSeq(list)) {
    list = new YAMLSeq();
    document.set('scenarios', list);
  }
  const scenarios = list as YAMLSeq;
  scenarios.flow = false;
  for (const { index, path } of paths) {
    const outcomes: Record<string, string[]> = {};
    for (const { node, label } of path.decisions) (outcomes[node] ??= []).push(label);
    const choices = path.decisions.map(({ node, label }) => `${flow.nodes.find((n) => n.id === node)?.label.trim() || node} ${label}`);
    const expect: Record<string, unknown> = { path: path.nodes };
    if (path.outcome.kind === 'loop-exhausted') Object.assign(expect, { status: 'failed', error: ENGINE_ERRORS.loopExhausted });
    else if (path.outcome.kind === 'end') expect['end'] = path.outcome.node;
    const item = document.createNode({
      name: `TODO path ${index + 1}${choices.length === 0 ? '' : `: ${choices.join(', ')}`}`,
      input: {},
      ...(Object.keys(outcomes).length > 0 && { outcomes }),
      expect,
    });
    // Node lists read best on one line each.
    if (isMap(item)) {
      for (const key of ['outcomes', 'expect']) {
        const section = item.get(key, true);
        if (isMap(section)) for (const pair of section.items) if (isSeq(pair.value)) pair.value.flow = true;
      }
    }
    item.commentBefore = ` Skeleton for path ${index + 1}, ending ${describeOutcome(flow, path)}: give the input that takes it, replace scripted decisions with real data where you can, and add the data and effects to expect.`;
    scenarios.items.push(item);
  }
  return document.toString({ lineWidth: 0 });
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
