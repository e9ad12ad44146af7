import type { CompiledFlow } from '../../compiler/types';
import type { Json } from '../types';
import type { ExpectationFailure, ExpectationLocations, Expectations, Trace } from './types';

/**
 * Checks a trace against a scenario's expectations. Each failure says what was expected and
 * what happened, and points at the node to look at: where the path went astray, where the
 * instance failed or waits, which node last wrote a mismatched data key or recorded an effect.
 */
export function checkExpectations(flow: CompiledFlow, trace: Trace, expect: Expectations, locations: ExpectationLocations = {}): ExpectationFailure[] {
  const nodes = new Map(flow.nodes.map((node) => [node.id, node]));
  const name = (id: string) => {
    const label = nodes.get(id)?.label ?? '';
    return label === '' ? id : `${id} "${label}"`;
  };
  const failures: ExpectationFailure[] = [];
  const fail = (expectation: string, message: string, node: string | undefined) => {
    const failure: ExpectationFailure = { expectation, message };
    const flowNode = node === undefined ? undefined : nodes.get(node);
    if (flowNode !== undefined) {
      failure.node = { id: flowNode.id, label: flowNode.label, at: { path: flow.path, line: flowNode.range.start.line, column: flowNode.range.start.column } };
    }
    const at = locate(locations, expectation);
    if (at !== undefined) failure.at = at;
    failures.push(failure);
  };
  /** Where the instance stopped: its failed token, a waiting token, or the last node visited. */
  const stoppedAt = trace.error?.node ?? trace.pending[0]?.node ?? trace.path[trace.path.length - 1];
  const outcome = describeOutcome(trace, name);

  const status = expect.status ?? (expect.error !== undefined ? 'failed' : 'completed');
  if (trace.status !== status) fail('status', `expected status "${status}", got "${trace.status}": ${outcome}`, stoppedAt);

  if (expect.error !== undefined) {
    const { name: errorName, message } = expect.error;
    if (trace.error === undefined) fail('error', `expected the instance to fail${errorName === undefined ? '' : ` with ${errorName}`}, but it did not: ${outcome}`, stoppedAt);
    else if ((errorName !== undefined && trace.error.name !== errorName) || (message !== undefined && !trace.error.message.includes(message))) {
      const wanted = [errorName, message === undefined ? undefined : `a message containing "${message}"`].filter((part) => part !== undefined).join(' with ');
      fail('error', `expected ${wanted}, got ${trace.error.name}: ${trace.error.message}`, trace.error.node);
    }
  }

  if (expect.path !== undefined) {
    const expected = expect.path;
    const actual = trace.path;
    const index = firstDifference(expected, actual);
    if (index !== -1) {
      const shown = `\n    expected path: ${expected.join(' → ')}\n    actual path:   ${actual.join(' → ')}`;
      const before = actual[index - 1];
      const chose = before === undefined ? undefined : trace.visits[index - 1]?.decided;
      const after = before === undefined ? 'at the start' : `after ${name(before)}${chose === undefined ? '' : ` chose "${chose}"`}`;
      if (index >= actual.length) fail('path', `the path stopped ${after} (${outcome}); expected ${name(expected[index]!)} next${shown}`, stoppedAt);
      else if (index >= expected.length) fail('path', `the path went on ${after} to ${name(actual[index]!)}; expected it to stop there${shown}`, before);
      else fail('path', `step ${index + 1} of the path went to ${name(actual[index]!)} instead of ${name(expected[index]!)} ${after}${shown}`, before ?? actual[index]);
    }
  }

  if (expect.through !== undefined) {
    let from = 0;
    for (const node of expect.through) {
      const found = trace.path.indexOf(node, from);
      if (found === -1) {
        const previous = from === 0 ? 'the start' : name(trace.path[from - 1]!);
        const reached = trace.path.includes(node) ? ` (it visited it only before ${previous})` : '';
        fail('through', `expected the path to pass ${name(node)} after ${previous}, but it did not${reached}; actual path: ${trace.path.join(' → ')}`, from === 0 ? stoppedAt : trace.path[from - 1]);
        break;
      }
      from = found + 1;
    }
  }

  for (const node of expect.avoids ?? []) {
    const index = trace.path.indexOf(node);
    if (index !== -1) fail('avoids', `expected the path never to visit ${name(node)}, but step ${index + 1} did`, trace.path[index - 1] ?? node);
  }

  if (expect.end !== undefined) {
    const expected = [...expect.end].sort();
    const actual = [...new Set(trace.ends)].sort();
    if (expected.join() !== actual.join()) {
      const reached = actual.length === 0 ? `no end was reached (${outcome})` : `reached ${actual.map(name).join(', ')}`;
      fail('end', `expected to end at ${expected.map(name).join(', ')}; ${reached}`, actual[0] ?? stoppedAt);
    }
  }

  if (expect.data !== undefined) {
    for (const difference of subsetDifferences(expect.data, trace.data, 'data')) {
      const topKey = difference.path.split(/[.[]/)[1] ?? '';
      const writer = trace.writers[topKey];
      const by = writer === undefined ? ' (no step wrote it)' : ` (last written by ${name(writer)})`;
      fail(difference.path, `expected ${difference.path} to be ${show(difference.expected)}, got ${show(difference.actual)}${by}`, writer ?? stoppedAt);
    }
  }

  expect.effects?.forEach((wanted, index) => {
    const ofKind = trace.effects.filter((effect) => effect.kind === wanted.kind);
    const matching = ofKind.filter((effect) => wanted.payload === undefined || subsetDifferences(wanted.payload, effect.payload, 'payload').length === 0);
    const count = matching.length;
    const ok = wanted.count === undefined ? count > 0 : count === wanted.count;
    if (ok) return;
    const what = `${wanted.count === undefined ? 'at least one' : `${wanted.count}`} "${wanted.kind}" effect${wanted.count === 1 ? '' : 's'}${wanted.payload === undefined ? '' : ` with payload ${show(wanted.payload)}`}`;
    let got = `got ${count}`;
    if (count === 0 && ofKind.length > 0) got += `; the "${wanted.kind}" effects recorded were ${ofKind.map((e) => show(e.payload)).join(', ')}`;
    if (ofKind.length === 0) {
      const kinds = [...new Set(trace.effects.map((e) => e.kind))];
      got += kinds.length === 0 ? '; no effects were recorded' : `; recorded kinds: ${kinds.join(', ')}`;
    }
    fail(`effects[${index}]`, `expected ${what}, ${got}`, (matching[0] ?? ofKind[0])?.node ?? stoppedAt);
  });

  for (const [node, count] of Object.entries(expect.visits ?? {})) {
    const actual = trace.path.filter((id) => id === node).length;
    if (actual !== count) fail(`visits.${node}`, `expected ${name(node)} to be visited ${times(count)}, it was visited ${times(actual)}`, node);
  }

  for (const [node, count] of Object.entries(expect.attempts ?? {})) {
    const actual = trace.visits.filter((v) => v.node === node).reduce((sum, v) => sum + v.attempts, 0);
    if (actual !== count) fail(`attempts.${node}`, `expected ${name(node)}'s handler to run ${times(count)}, it ran ${times(actual)}`, node);
  }

  if (expect.elapsedMs !== undefined) {
    const elapsed = trace.updatedAt - trace.startedAt;
    if (elapsed !== expect.elapsedMs) fail('elapsed', `expected ${formatDuration(expect.elapsedMs)} of virtual time from start to finish, took ${formatDuration(elapsed)}`, stoppedAt);
  }
  return failures;
}

/** `completed at n7 "End"`, `failed at n4 "…": PlanError: …`, `waiting at n9 "…" for signal "…"`. */
export function describeOutcome(trace: Trace, name: (id: string) => string): string {
  if (trace.status === 'failed') {
    const where = trace.error?.node === undefined ? '' : ` at ${name(trace.error.node)}`;
    return `failed${where} with ${trace.error?.name}: ${trace.error?.message}`;
  }
  if (trace.status === 'running') {
    const waits = trace.pending.map((p) => `${p.state} at ${name(p.node)}${p.detail === undefined || p.detail === '' ? '' : ` ${p.detail}`}`);
    return `still running: ${waits.join('; ') || 'nothing left to do'}`;
  }
  return trace.ends.length === 0 ? 'completed' : `completed at ${[...new Set(trace.ends)].map(name).join(', ')}`;
}

export interface DataDifference {
  path: string;
  expected: Json | undefined;
  actual: Json | undefined;
}

/**
 * Where `actual` does not match `expected` as a subset: objects compare only the keys
 * expected, arrays compare length and each element, `null` matches a missing key, other values
 * compare exactly.
 */
export function subsetDifferences(expected: Json, actual: Json | undefined, path: string): DataDifference[] {
  if (isObject(expected)) {
    if (!isObject(actual)) return [{ path, expected, actual }];
    return Object.entries(expected).flatMap(([key, value]) => subsetDifferences(value, actual[key], `${path}.${key}`));
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return [{ path, expected, actual }];
    return expected.flatMap((value, index) => subsetDifferences(value, actual[index], `${path}[${index}]`));
  }
  // A data patch deletes a key by setting it to null, so null expects the key gone (or null).
  if (expected === null && actual === undefined) return [];
  return expected === actual ? [] : [{ path, expected, actual }];
}

/** The place of an expectation, or of the nearest enclosing one written: `data.plan.tier`, `data.plan`, `data`. */
function locate(locations: ExpectationLocations, key: string): ExpectationLocations[string] | undefined {
  for (let path = key; path !== ''; path = path.replace(/(\.[^.[]*|\[\d+\])$/, '')) {
    const at = locations[path];
    if (at !== undefined) return at;
    if (!/[.[]/.test(path)) break;
  }
  return undefined;
}

function firstDifference(expected: readonly string[], actual: readonly string[]): number {
  const length = Math.max(expected.length, actual.length);
  for (let index = 0; index < length; index++) if (expected[index] !== actual[index]) return index;
  return -1;
}

function show(value: Json | undefined): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function times(count: number): string {
  return count === 1 ? 'once' : `${count} times`;
}

/** `30d`, `2h 5m`, `1.5s`: the largest whole units. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const units: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of units) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join(' ');
}

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
