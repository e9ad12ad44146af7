import { dirname, isAbsolute, join } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode, type Pair, type YAMLMap } from 'yaml';
import type { CompiledFlow, FlowNode } from '../../compiler/types';
import { didYouMean } from '../../lib/suggest';
import { durationMs } from '../duration';
import { durationInOneUnit } from './format';
import { branchLabels, findNode } from './nodes';
import { DEFAULT_START } from './run';
import type { Json, JsonObject } from '../types';
import type { EffectExpectation, ExpectationLocations, Expectations, NodeScript, ScheduledSignal, Scenario, ScenarioProblem, ScriptedOutcome, SourceLocation } from './types';

/** `flows/plan-upgrade.flow` → `flows/plan-upgrade.scenarios.yaml`. */
export const SCENARIO_SUFFIX = '.scenarios.yaml';

export interface ScenarioFileHeader {
  path: string;
  /** The flow the scenarios test: `flow:` relative to the file, else the .flow beside it. */
  flowPath: string;
  /** `bindings:` relative to the file; absent means the module beside the flow, if any. */
  bindingsPath?: string;
  problems: ScenarioProblem[];
}

export interface ScenarioFileContents {
  scenarios: Scenario[];
  problems: ScenarioProblem[];
}

const FILE_KEYS = ['flow', 'bindings', 'startAt', 'scenarios'];
const SCENARIO_KEYS = ['name', 'description', 'input', 'start', 'startAt', 'outcomes', 'signals', 'expect', 'skip'];
const EXPECT_KEYS = ['path', 'through', 'avoids', 'end', 'status', 'error', 'data', 'effects', 'visits', 'attempts', 'elapsed'];
const OUTCOME_KEYS = ['run', 'return', 'throw', 'decide', 'message', 'emit', 'times'];
const STATUSES = ['running', 'completed', 'failed'] as const;

/** The file's `flow:` and `bindings:`, read before the flow is compiled. */
export function readScenarioHeader(path: string, text: string): ScenarioFileHeader {
  const reader = new YamlReader(path, text);
  const root = reader.root();
  const folder = dirname(path);
  const header: ScenarioFileHeader = { path, flowPath: path.endsWith(SCENARIO_SUFFIX) ? path.slice(0, -SCENARIO_SUFFIX.length) + '.flow' : path, problems: reader.problems };
  if (root === undefined) return header;
  const flow = reader.optionalString(root, 'flow');
  if (flow !== undefined) header.flowPath = isAbsolute(flow) ? flow : join(folder, flow);
  const bindings = reader.optionalString(root, 'bindings');
  if (bindings !== undefined) header.bindingsPath = isAbsolute(bindings) ? bindings : join(folder, bindings);
  return header;
}

/**
 * Reads a scenario file's scenarios against the flow they test: node references (ids or
 * labels) become node ids, durations become milliseconds, and every problem is reported with
 * its line rather than thrown.
 */
export function readScenarios(path: string, text: string, flow: CompiledFlow): ScenarioFileContents {
  const reader = new YamlReader(path, text, flow);
  const root = reader.root();
  if (root === undefined) return { scenarios: [], problems: reader.problems };
  reader.checkKeys(root, FILE_KEYS, 'a scenario file');
  const fileStart = reader.time(root, 'startAt') ?? DEFAULT_START;
  const list = root.get('scenarios', true);
  if (!isSeq(list)) {
    reader.problem(list ?? root, '`scenarios:` must be a list of scenarios');
    return { scenarios: [], problems: reader.problems };
  }
  const scenarios: Scenario[] = [];
  const names = new Set<string>();
  for (const item of list.items) {
    if (!isMap(item)) {
      reader.problem(item as YamlNode, 'each scenario is a mapping with `name:`, `input:`, `outcomes:`, `signals:` and `expect:`');
      continue;
    }
    const before = reader.problems.length;
    const scenario = reader.scenario(item, fileStart);
    if (scenario === undefined) continue;
    // A mistake inside a scenario fails that scenario: run without what it failed to say, it could pass.
    if (reader.problems.length > before) scenario.problems = reader.problems.slice(before);
    if (names.has(scenario.name)) reader.problem(item.get('name', true) as YamlNode, `two scenarios are named "${scenario.name}"; names must be unique in a file`);
    names.add(scenario.name);
    scenarios.push(scenario);
  }
  return { scenarios, problems: reader.problems.sort((a, b) => a.at.line - b.at.line || a.at.column - b.at.column) };
}

class YamlReader {
  readonly problems: ScenarioProblem[] = [];
  private readonly lines = new LineCounter();
  private readonly document: Document.Parsed;

  constructor(
    private readonly path: string,
    text: string,
    private readonly flow?: CompiledFlow,
  ) {
    // Merge keys let scenarios share outcomes: `outcomes: { <<: *offline, Send: … }`.
    this.document = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, merge: true });
    for (const error of this.document.errors) this.problems.push({ message: `YAML: ${error.message.split('\n')[0]}`, at: this.locationAt(error.pos[0]) });
  }

  root(): YAMLMap | undefined {
    if (this.document.errors.length > 0) return undefined;
    const contents = this.document.contents;
    if (!isMap(contents)) {
      this.problems.push({ message: 'a scenario file is a mapping with `scenarios:` (and optionally `flow:`, `bindings:`, `startAt:`)', at: this.locationAt(0) });
      return undefined;
    }
    return contents;
  }

  location(node: YamlNode | undefined): SourceLocation {
    return this.locationAt(node?.range?.[0] ?? 0);
  }

  problem(node: YamlNode | undefined, message: string): void {
    this.problems.push({ message, at: this.location(node) });
  }

  checkKeys(map: YAMLMap, allowed: readonly string[], what: string): void {
    for (const pair of map.items) {
      // `x-…` keys hold anchors for aliases elsewhere, as in Compose files; `<<` merges one in.
      if (isMergeKey(pair.key)) continue;
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (what === 'a scenario file' && key.startsWith('x-')) continue;
      if (!allowed.includes(key)) this.problem(pair.key as YamlNode, `unknown key \`${key}\` in ${what}${didYouMean(key, allowed)}; the keys are ${allowed.join(', ')}`);
    }
  }

  optionalString(map: YAMLMap, key: string): string | undefined {
    const node = map.get(key, true) as YamlNode | undefined;
    if (node === undefined) return undefined;
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    this.problem(node, `\`${key}:\` must be text`);
    return undefined;
  }

  time(map: YAMLMap, key: string): number | undefined {
    const text = this.optionalString(map, key);
    if (text === undefined) return undefined;
    const at = Date.parse(text);
    if (Number.isNaN(at) || !/Z$|[+-]\d\d:?\d\d$/.test(text)) {
      this.problem(map.get(key, true) as YamlNode, `\`${key}: ${text}\` must be a UTC date and time such as 2025-03-01T09:00:00Z`);
      return undefined;
    }
    return at;
  }

  scenario(map: YAMLMap, fileStart: number): Scenario | undefined {
    this.checkKeys(map, SCENARIO_KEYS, 'a scenario');
    const name = this.optionalString(map, 'name');
    if (name === undefined || name.trim() === '') {
      if (!map.has('name')) this.problem(map, 'a scenario needs a `name:`');
      return undefined;
    }
    const scenario: Scenario = {
      name: name.trim(),
      input: {},
      startAt: this.time(map, 'startAt') ?? fileStart,
      scripts: {},
      signals: [],
      expect: {},
      skip: false,
      at: this.location(map),
      locations: {},
    };
    const input = map.get('input', true) as YamlNode | undefined;
    if (input !== undefined) {
      const value = this.json(input);
      if (isObject(value)) scenario.input = value;
      else this.problem(input, '`input:` must be a mapping: the instance\'s starting data');
    }
    const start = map.get('start', true) as YamlNode | undefined;
    if (start !== undefined) {
      const id = this.nodeRef(start, (node) => node.kind === 'start', 'a start circle');
      if (id !== undefined) scenario.start = id;
    }
    const skip = map.get('skip', true) as YamlNode | undefined;
    if (skip !== undefined) {
      if (isScalar(skip) && typeof skip.value === 'boolean') scenario.skip = skip.value;
      else this.problem(skip, '`skip:` must be true or false');
    }
    const outcomes = map.get('outcomes', true) as YamlNode | undefined;
    if (outcomes !== undefined) this.outcomes(this.deref(outcomes), scenario);
    const signals = map.get('signals', true) as YamlNode | undefined;
    if (signals !== undefined) this.signals(this.deref(signals), scenario);
    const expect = map.get('expect', true) as YamlNode | undefined;
    if (expect !== undefined) this.expectations(this.deref(expect), scenario);
    return scenario;
  }

  private outcomes(node: YamlNode, scenario: Scenario): void {
    if (!isMap(node)) return this.problem(node, '`outcomes:` maps node ids or labels to what their handler does: `run`, `{ return: {...} }`, `{ throw: ErrorName }`, or a decision\'s label');
    for (const pair of this.merged(node)) {
      const id = this.nodeRef(pair.key as YamlNode, (n) => n.kind === 'step' || n.kind === 'decision', 'a step or decision');
      if (id === undefined || pair.value === null) continue;
      const flowNode = this.flow!.nodes.find((n) => n.id === id)!;
      const value = this.deref(pair.value as YamlNode);
      if (isSeq(value)) {
        const runs = value.items.flatMap((item) => this.outcome(this.deref(item as YamlNode), flowNode));
        scenario.scripts[id] = { runs };
      } else {
        const [outcome, ...rest] = this.outcome(value, flowNode);
        if (outcome === undefined) continue;
        if (rest.length > 0) this.problem(value, '`times:` belongs to an outcome in a list; a single outcome answers every run');
        scenario.scripts[id] = { each: outcome } satisfies NodeScript;
      }
    }
  }

  /** One scripted outcome, repeated `times`. */
  private outcome(node: YamlNode, flowNode: FlowNode): ScriptedOutcome[] {
    const decision = flowNode.kind === 'decision';
    const labels = branchLabels(this.flow!, flowNode.id);
    const label = (text: string, at: YamlNode): ScriptedOutcome[] => {
      const found = labels.find((l) => l.toLowerCase() === text.trim().toLowerCase());
      if (found !== undefined) return [{ kind: 'decide', label: found }];
      this.problem(at, `${flowNode.id} "${flowNode.label}" has no branch "${text}"${didYouMean(text, labels)}; its labels are ${labels.map((l) => `"${l}"`).join(', ')}`);
      return [];
    };
    if (isScalar(node) && typeof node.value === 'string') {
      if (node.value === 'run') return [{ kind: 'run' }];
      if (decision) return label(node.value, node);
      this.problem(node, `"${node.value}" is no outcome for the step ${flowNode.id}: write \`run\`, \`{ return: {...} }\` or \`{ throw: ErrorName }\``);
      return [];
    }
    if (!isMap(node)) {
      this.problem(node, `an outcome is \`run\`, \`{ return: {...} }\`, \`{ throw: ErrorName }\`${decision ? ' or one of the decision\'s labels' : ''}`);
      return [];
    }
    this.checkKeys(node, OUTCOME_KEYS, 'an outcome');
    const times = node.get('times', true) as YamlNode | undefined;
    let count = 1;
    if (times !== undefined) {
      const value = isScalar(times) ? times.value : undefined;
      if (typeof value === 'number' && Number.isInteger(value) && value >= 1) count = value;
      else this.problem(times, '`times:` must be a whole number of runs, at least 1');
    }
    const kinds = ['run', 'return', 'throw', 'decide'].filter((key) => node.has(key));
    if (kinds.length !== 1) {
      this.problem(node, `an outcome has exactly one of \`run\`, \`return\`, \`throw\` or \`decide\`${kinds.length > 1 ? `, not ${kinds.join(' and ')}` : ''}`);
      return [];
    }
    let outcome: ScriptedOutcome | undefined;
    const value = node.get(kinds[0]!, true) as YamlNode;
    switch (kinds[0]) {
      case 'run':
        outcome = { kind: 'run' };
        break;
      case 'decide': {
        if (!decision) this.problem(value, `${flowNode.id} is a step; only decisions \`decide\``);
        else if (isScalar(value) && typeof value.value === 'string') [outcome] = label(value.value, value);
        else this.problem(value, '`decide:` takes one of the decision\'s labels');
        break;
      }
      case 'return': {
        if (decision) {
          this.problem(value, `${flowNode.id} is a decision: script it with one of its labels (${labels.map((l) => `"${l}"`).join(', ')})`);
          break;
        }
        const patch = value === null ? {} : this.json(value);
        if (!isObject(patch)) {
          this.problem(value, '`return:` takes the data patch the step returns, a mapping');
          break;
        }
        outcome = { kind: 'return', patch, emit: this.emits(node.get('emit', true) as YamlNode | undefined) };
        break;
      }
      case 'throw': {
        const message = this.optionalString(node, 'message');
        if (isScalar(value) && typeof value.value === 'string' && value.value.trim() !== '') {
          outcome = { kind: 'throw', name: value.value.trim(), message: message ?? `scripted ${value.value.trim()}` };
        } else this.problem(value, '`throw:` takes the error\'s name, which retry and catch policies match');
        break;
      }
    }
    return outcome === undefined ? [] : Array.from({ length: count }, () => outcome);
  }

  /** The node an alias (`*handoff`) stands for; any other node as it is. */
  private deref(node: YamlNode): YamlNode {
    return isAlias(node) ? ((node.resolve(this.document) as YamlNode | undefined) ?? node) : node;
  }

  /** A mapping's pairs with `<<: *alias` merges expanded; keys written in the mapping itself win. */
  private merged(map: YAMLMap): Pair[] {
    const own = map.items.filter((pair) => !isMergeKey(pair.key));
    const ownKeys = new Set(own.map((pair) => (isScalar(pair.key) ? String(pair.key.value) : '')));
    const inherited: Pair[] = [];
    for (const pair of map.items) {
      if (!isMergeKey(pair.key)) continue;
      const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
      for (const source of sources) {
        const target = isAlias(source) ? source.resolve(this.document) : source;
        if (!isMap(target)) {
          this.problem(source as YamlNode, '`<<` merges a mapping, such as an alias `*offline` of one');
          continue;
        }
        for (const item of this.merged(target)) {
          const key = isScalar(item.key) ? String(item.key.value) : '';
          if (!ownKeys.has(key)) inherited.push(item);
        }
      }
    }
    return [...inherited, ...own];
  }

  private emits(node: YamlNode | undefined): { kind: string; payload: Json }[] {
    if (node === undefined) return [];
    if (!isSeq(node)) {
      this.problem(node, '`emit:` is a list of effects, each `{ kind: …, payload: … }`');
      return [];
    }
    return node.items.flatMap((item) => {
      const value = this.json(item as YamlNode);
      if (isObject(value) && typeof value['kind'] === 'string') return [{ kind: value['kind'], payload: value['payload'] ?? null }];
      this.problem(item as YamlNode, 'an effect is `{ kind: …, payload: … }`');
      return [];
    });
  }

  private signals(node: YamlNode, scenario: Scenario): void {
    if (!isSeq(node)) return this.problem(node, '`signals:` is a list of `{ name: …, after: 3d, payload: … }`');
    for (const item of node.items.map((entry) => this.deref(entry as YamlNode))) {
      if (!isMap(item)) {
        this.problem(item as YamlNode, 'a signal is `{ name: …, after: 3d, payload: … }`');
        continue;
      }
      this.checkKeys(item, ['name', 'after', 'payload'], 'a signal');
      const name = this.optionalString(item, 'name');
      if (name === undefined) {
        if (!item.has('name')) this.problem(item, 'a signal needs a `name:`');
        continue;
      }
      const after = item.get('after', true) as YamlNode | undefined;
      const ms = after === undefined ? 0 : this.duration(after, 'after', 'the virtual time after the start when the signal arrives, such as 90m, 3d or 2w');
      if (ms === undefined) continue;
      const payload = item.get('payload', true) as YamlNode | undefined;
      const signal: ScheduledSignal = { name, afterMs: ms, payload: payload === undefined ? null : this.json(payload), at: this.location(item) };
      scenario.signals.push(signal);
    }
  }

  private expectations(node: YamlNode, scenario: Scenario): void {
    if (!isMap(node)) return this.problem(node, '`expect:` is a mapping of expectations: path, through, avoids, end, status, error, data, effects, visits, attempts, elapsed');
    this.checkKeys(node, EXPECT_KEYS, '`expect:`');
    const expect: Expectations = {};
    const locations: ExpectationLocations = {};
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      locations[key === 'elapsed' ? 'elapsed' : key] = this.location(pair.key as YamlNode);
    }
    const get = (key: string) => node.get(key, true) as YamlNode | undefined;
    const nodeList = (key: string): string[] | undefined => {
      const value = get(key);
      if (value === undefined) return undefined;
      const items = isSeq(value) ? (value.items as YamlNode[]) : [value];
      return items.flatMap((item) => this.nodeRef(item, () => true, 'a node') ?? []);
    };
    const path = nodeList('path');
    if (path !== undefined) expect.path = path;
    const through = nodeList('through');
    if (through !== undefined) expect.through = through;
    const avoids = nodeList('avoids');
    if (avoids !== undefined) expect.avoids = avoids;
    const end = get('end');
    if (end !== undefined) {
      const items = isSeq(end) ? (end.items as YamlNode[]) : [end];
      expect.end = items.flatMap((item) => this.nodeRef(item, (n) => n.kind === 'end', 'an end circle') ?? []);
    }
    const status = get('status');
    if (status !== undefined) {
      const value = isScalar(status) ? status.value : undefined;
      if (STATUSES.includes(value as (typeof STATUSES)[number])) expect.status = value as (typeof STATUSES)[number];
      else this.problem(status, '`status:` is running, completed or failed');
    }
    const error = get('error');
    if (error !== undefined) {
      const value = this.json(error);
      if (typeof value === 'string') expect.error = { name: value };
      else if (isObject(value) && Object.keys(value).every((k) => k === 'name' || k === 'message') && Object.values(value).every((v) => typeof v === 'string')) {
        expect.error = value as { name?: string; message?: string };
      } else this.problem(error, '`error:` is the error\'s name, or `{ name: …, message: text it contains }`');
    }
    const data = get('data');
    if (data !== undefined) {
      const value = this.json(data);
      if (isObject(value)) {
        expect.data = value;
        this.dataLocations(data, 'data', locations);
      } else this.problem(data, '`data:` is a mapping, matched as a subset of the final data');
    }
    const effects = get('effects');
    if (effects !== undefined) expect.effects = this.effectExpectations(effects, locations);
    for (const key of ['visits', 'attempts'] as const) {
      const value = get(key);
      if (value === undefined) continue;
      if (!isMap(value)) {
        this.problem(value, `\`${key}:\` maps node ids or labels to counts`);
        continue;
      }
      const counts: Record<string, number> = {};
      for (const pair of value.items) {
        const id = this.nodeRef(pair.key as YamlNode, () => true, 'a node');
        const count = isScalar(pair.value) ? pair.value.value : undefined;
        if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
          this.problem((pair.value ?? pair.key) as YamlNode, `a count in \`${key}:\` is a whole number`);
          continue;
        }
        if (id === undefined) continue;
        counts[id] = count;
        locations[`${key}.${id}`] = this.location(pair.key as YamlNode);
      }
      expect[key] = counts;
    }
    const elapsed = get('elapsed');
    if (elapsed !== undefined) {
      const ms = this.duration(elapsed, 'elapsed', 'a duration such as 30d or 90m');
      if (ms !== undefined) expect.elapsedMs = ms;
    }
    scenario.expect = expect;
    scenario.locations = locations;
  }

  private effectExpectations(node: YamlNode, locations: ExpectationLocations): EffectExpectation[] {
    if (!isSeq(node)) {
      this.problem(node, '`effects:` is a list of `{ kind: …, payload: {…}, count: n }`');
      return [];
    }
    return node.items.flatMap((item, index) => {
      const value = this.json(item as YamlNode);
      locations[`effects[${index}]`] = this.location(item as YamlNode);
      if (!isObject(value) || typeof value['kind'] !== 'string' || !Object.keys(value).every((k) => ['kind', 'payload', 'count'].includes(k))) {
        this.problem(item as YamlNode, 'an expected effect is `{ kind: …, payload: {…}, count: n }` (payload and count optional)');
        return [];
      }
      const effect: EffectExpectation = { kind: value['kind'] };
      if (value['payload'] !== undefined) effect.payload = value['payload'];
      const count = value['count'];
      if (count !== undefined) {
        if (typeof count === 'number' && Number.isInteger(count) && count >= 0) effect.count = count;
        else this.problem(item as YamlNode, '`count:` is a whole number of effects');
      }
      return [effect];
    });
  }

  /** Records where each key under `data:` is written, so a mismatch points at its own line. */
  private dataLocations(node: YamlNode, path: string, locations: ExpectationLocations): void {
    if (!isMap(node)) return;
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      locations[`${path}.${key}`] = this.location(pair.key as YamlNode);
      if (pair.value !== null) this.dataLocations(pair.value as YamlNode, `${path}.${key}`, locations);
    }
  }

  /**
   * A duration as the engine reads one (`ctx.sleep`, retry intervals): one number and one unit.
   * A compound such as `8d 90s` is refused with its sum in one unit, rather than read some other way here.
   */
  private duration(node: YamlNode, key: string, what: string): number | undefined {
    const text = String(isScalar(node) ? node.value : '');
    const ms = durationMs(text);
    if (ms !== undefined) return ms;
    const parts = text.trim().split(/\s+/).map((part) => durationMs(part));
    if (parts.length > 1 && parts.every((part) => part !== undefined)) {
      const total = parts.reduce<number>((sum, part) => sum + part!, 0);
      this.problem(node, `\`${key}: ${text}\` is not a duration: a duration is one number and one unit (ms, s, m, h, d or w); write ${durationInOneUnit(total)}`);
    } else this.problem(node, `\`${key}:\` is ${what}`);
    return undefined;
  }

  private nodeRef(node: YamlNode, accept: (node: FlowNode) => boolean, what: string): string | undefined {
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value !== 'string' && typeof value !== 'number') {
      this.problem(node, `expected ${what}, by id or label`);
      return undefined;
    }
    const found = findNode(this.flow!, String(value));
    if (typeof found === 'string') {
      this.problem(node, found);
      return undefined;
    }
    if (!accept(found)) {
      this.problem(node, `${found.id} "${found.label}" is a ${found.kind}, not ${what}`);
      return undefined;
    }
    return found.id;
  }

  private json(node: YamlNode): Json {
    return node.toJS(this.document) as Json;
  }

  private locationAt(offset: number): SourceLocation {
    const { line, col } = this.lines.linePos(offset);
    return { path: this.path, line, column: col };
  }
}

/** `<<`: with merge keys on, the parser gives its key a symbol value rather than the text. */
function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (key.value === '<<' || (typeof key.value === 'symbol' && key.value.description === '<<'));
}

function isObject(value: Json | undefined): value is JsonObject {
  return value !== null && value !== undefined && typeof value === 'object' && !Array.isArray(value);
}
