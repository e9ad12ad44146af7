import { bindingKeysOfFile } from './binding-keys';
import { diagnostic, sortDiagnostics, type Diagnostic, type DiagnosticCode, type Range } from '../lib/diagnostics';
import { contentHash } from '../lib/hash';
import { didYouMean } from '../lib/suggest';
import type {
  BindingSpec,
  CatchRoute,
  CompiledFlow,
  FlowNode,
  HandlerCatalog,
  Machine,
  MachineLoop,
  MachineNode,
  NodeBindingSpec,
  RetryPolicy,
} from './types';

/** The bound of a loop whose condition has no number and whose binding gives none. */
export const DEFAULT_LOOP_BOUND = 10;

/**
 * Amazon States Language's defaults for a Retrier: three retries, one second apart, doubling.
 * Used for every node whose binding and defaults say nothing about retries.
 */
export const DEFAULT_RETRY: RetryPolicy = {
  errorEquals: ['States.ALL'],
  intervalSeconds: 1,
  backoffRate: 2,
  maxAttempts: 3,
  jitterStrategy: 'NONE',
};

const JITTER_STRATEGIES: readonly RetryPolicy['jitterStrategy'][] = ['NONE', 'FULL', 'EQUAL', 'DECORRELATED'];

/** How `bind` treats steps and decisions with no binding. */
export interface BindOptions {
  /** Leave steps and decisions without a binding unbound instead of reporting them (for `compile` without bindings). */
  allowUnbound?: boolean;
}

/** What `bind` found: the diagnostics (FZ401–FZ413), and the machine when none is an error. */
export interface BindResult {
  /** Present only when there are no errors. */
  machine?: Machine;
  diagnostics: Diagnostic[];
}

/**
 * Binds a compiled flow to handlers and checks the binding: every step and decision bound to a
 * registered handler, every key naming a node, decisions bound to handlers that can return
 * their labels, catch targets and loop overrides that exist, policies that make sense.
 */
export function bind(flow: CompiledFlow, spec: BindingSpec, catalog: HandlerCatalog, options: BindOptions = {}): BindResult {
  const binder = new Binder(flow, spec, catalog);
  const machine = binder.run(options.allowUnbound === true);
  const diagnostics = sortDiagnostics(binder.diagnostics);
  return diagnostics.some((d) => d.severity === 'error') ? { diagnostics } : { machine, diagnostics };
}

class Binder {
  readonly diagnostics: Diagnostic[] = [];
  private readonly nodesById = new Map<string, FlowNode>();
  private readonly nodesByLabel = new Map<string, FlowNode[]>();
  /** Where to point diagnostics that concern no node: the start of the file. */
  private readonly fileStart: Range;

  constructor(
    private readonly flow: CompiledFlow,
    private readonly spec: BindingSpec,
    private readonly catalog: HandlerCatalog,
  ) {
    for (const node of flow.nodes) {
      this.nodesById.set(node.id, node);
      const label = node.label.trim();
      if (label !== '') this.nodesByLabel.set(label, [...(this.nodesByLabel.get(label) ?? []), node]);
    }
    const origin = { line: 1, column: 1, offset: 0 };
    this.fileStart = { start: origin, end: origin };
  }

  run(allowUnbound: boolean): Machine {
    const bindings = this.resolveKeys();
    const defaults = this.checkedDefaults();
    const loopOf = new Map<string, string>();
    for (const loop of this.flow.loops) for (const id of loop.nodes) loopOf.set(id, loop.id);
    const edges = new Map(this.flow.edges.map((e) => [e.id, e]));

    const nodes: Record<string, MachineNode> = {};
    for (const node of this.flow.nodes) {
      const outgoing = node.outgoing.map((id) => edges.get(id)!);
      const machineNode: MachineNode = {
        id: node.id,
        lane: node.lane,
        kind: node.kind,
        label: node.label,
        next: node.kind === 'decision' ? [] : outgoing.map((e) => e.to.node),
        retry: [],
        catch: [],
      };
      if (node.kind === 'decision') {
        machineNode.branches = outgoing
          .filter((e) => e.label !== undefined && e.label.trim() !== '')
          .map((e) => ({ label: e.label!.trim(), to: e.to.node }));
      }
      const loop = loopOf.get(node.id);
      if (loop !== undefined) machineNode.loop = loop;
      nodes[node.id] = machineNode;

      const binding = bindings.get(node.id);
      if (node.kind !== 'step' && node.kind !== 'decision') continue;
      if (binding === undefined) {
        if (!allowUnbound) this.unbound(node);
        continue;
      }
      this.checkHandler(node, machineNode, binding);
      machineNode.handler = binding.handler;
      machineNode.retry = this.checkedRetry(node, binding.retry) ?? defaults.retry ?? [DEFAULT_RETRY];
      machineNode.catch = this.checkedCatch(node, binding);
      const timeout = binding.timeoutSeconds ?? defaults.timeoutSeconds;
      if (timeout !== undefined) machineNode.timeoutSeconds = timeout;
      if (binding.timeoutSeconds !== undefined) this.checkPositive(node.range, `the timeout of ${node.id}`, binding.timeoutSeconds);
    }

    const loops = this.boundLoops();
    const body = {
      flowVersion: this.flow.version,
      ...(this.spec.code !== undefined && { code: this.spec.code }),
      lanes: this.flow.lanes.map((l) => ({ id: l.id, label: l.label })),
      starts: this.flow.starts,
      ends: this.flow.ends,
      nodes,
      loops,
    };
    return { version: contentHash(body), path: this.flow.path, ...body };
  }

  /** Maps every binding to the node id it names, reporting keys that name nothing or several nodes. */
  private resolveKeys(): Map<string, NodeBindingSpec> {
    const bound = new Map<string, NodeBindingSpec>();
    for (const binding of this.spec.nodes) {
      const node = this.nodeFor(binding.key);
      if (node === undefined) continue;
      if (node.kind !== 'step' && node.kind !== 'decision') {
        this.report('FZ407', `${this.spec.source} binds ${describe(node)}, a ${node.kind} circle; only rectangles, taskboxes and diamonds run handlers`, node.range);
        continue;
      }
      const earlier = bound.get(node.id);
      if (earlier !== undefined) {
        this.report('FZ413', `${this.spec.source} binds ${describe(node)} twice: as "${earlier.key}" and as "${binding.key}"`, node.range);
        continue;
      }
      bound.set(node.id, binding);
    }
    return bound;
  }

  private nodeFor(key: string): FlowNode | undefined {
    const byId = this.nodesById.get(key);
    if (byId !== undefined) return byId;
    const byLabel = this.nodesByLabel.get(key.trim()) ?? [];
    if (byLabel.length === 1) return byLabel[0];
    if (byLabel.length > 1) {
      this.report(
        'FZ406',
        `${this.spec.source} binds "${key}", a label shared by ${byLabel.map((n) => n.id).join(', ')}; bind them by node id`,
        byLabel[0]!.range,
      );
      return undefined;
    }
    const candidates = [...this.nodesById.keys(), ...this.nodesByLabel.keys()];
    this.reportInModule('FZ405', `${this.spec.source} binds "${key}", which is no node id or label in ${this.flow.path}${didYouMean(key, candidates)}`, 'nodes', key);
    return undefined;
  }

  private unbound(node: FlowNode): void {
    const code = node.kind === 'decision' ? 'FZ402' : 'FZ401';
    const what = node.kind === 'decision' ? 'decision' : 'step';
    this.report(code, `${what} ${describe(node)} has no handler: bind it in ${this.spec.source} by its id ${node.id}`, node.range);
  }

  private checkHandler(node: FlowNode, machineNode: MachineNode, binding: NodeBindingSpec): void {
    const info = this.catalog[binding.handler];
    if (info === undefined) {
      this.report(
        'FZ403',
        `${describe(node)} is bound to "${binding.handler}", which is no registered handler${didYouMean(binding.handler, Object.keys(this.catalog))}`,
        node.range,
      );
      return;
    }
    if (info.kind === 'inline') return;
    if (node.kind === 'step' && info.kind === 'decision') {
      this.report('FZ411', `step ${describe(node)} is bound to "${binding.handler}", a decision handler that returns a label, not a data patch`, node.range);
      return;
    }
    if (node.kind !== 'decision') return;
    const allowed = (machineNode.branches ?? []).map((b) => b.label);
    if (info.kind === 'step') {
      this.report('FZ404', `decision ${describe(node)} is bound to "${binding.handler}", a step handler that cannot return its labels (${listLabels(allowed)})`, node.range);
      return;
    }
    const matches = (label: string) => allowed.some((a) => a.toLowerCase() === label.trim().toLowerCase());
    const foreign = (info.labels ?? []).filter((label) => !matches(label));
    if (foreign.length > 0) {
      this.report(
        'FZ404',
        `decision ${describe(node)} is bound to "${binding.handler}", which can return ${listLabels(foreign)}; the diamond's labels are ${listLabels(allowed)}`,
        node.range,
      );
      return;
    }
    const returned = (label: string) => (info.labels ?? []).some((l) => l.trim().toLowerCase() === label.toLowerCase());
    const neverTaken = allowed.filter((label) => !returned(label));
    if (neverTaken.length > 0) {
      this.report('FZ412', `decision ${describe(node)}: "${binding.handler}" never returns ${listLabels(neverTaken)}, so that branch is never taken`, node.range);
    }
  }

  private checkedDefaults(): BindingSpec['defaults'] {
    const { retry, timeoutSeconds } = this.spec.defaults;
    if (timeoutSeconds !== undefined) this.checkPositive(this.fileStart, `${this.spec.source}'s default timeout`, timeoutSeconds);
    if (retry !== undefined) this.checkRetry(this.fileStart, `${this.spec.source}'s default retry policy`, retry);
    return this.spec.defaults;
  }

  private checkedRetry(node: FlowNode, retry: RetryPolicy[] | undefined): RetryPolicy[] | undefined {
    if (retry !== undefined) this.checkRetry(node.range, `the retry policy of ${node.id}`, retry);
    return retry;
  }

  private checkRetry(range: Range, what: string, policies: RetryPolicy[]): void {
    for (const policy of policies) {
      const problems: string[] = [];
      if (!(policy.intervalSeconds >= 0)) problems.push('intervalSeconds must be 0 or more');
      if (!(policy.backoffRate >= 1)) problems.push('backoffRate must be 1 or more');
      if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 0) problems.push('maxAttempts must be a whole number, 0 or more');
      if (policy.maxDelaySeconds !== undefined && !(policy.maxDelaySeconds > 0)) problems.push('maxDelaySeconds must be more than 0');
      if (policy.errorEquals.length === 0) problems.push('errorEquals must name at least one error');
      if (!JITTER_STRATEGIES.includes(policy.jitterStrategy)) problems.push(`jitterStrategy must be ${JITTER_STRATEGIES.join(', ')}, not ${JSON.stringify(policy.jitterStrategy)}`);
      if (policy.scheduleSeconds !== undefined) {
        if (policy.scheduleSeconds.length === 0) problems.push('a schedule must list at least one wait');
        if (!policy.scheduleSeconds.every((s) => s >= 0)) problems.push('every wait of a schedule must be 0 or more');
        if (policy.jitterStrategy === 'DECORRELATED') problems.push('DECORRELATED jitter grows from intervalSeconds towards maxDelaySeconds; it does not apply to a schedule');
      } else if (policy.jitterStrategy === 'DECORRELATED' && !(policy.intervalSeconds > 0)) {
        problems.push('DECORRELATED jitter grows from intervalSeconds, which must be more than 0');
      }
      for (const problem of problems) this.report('FZ410', `${what}: ${problem}`, range);
    }
  }

  private checkPositive(range: Range, what: string, value: number): void {
    if (!(value > 0)) this.report('FZ410', `${what} must be more than 0 seconds, not ${value}`, range);
  }

  private checkedCatch(node: FlowNode, binding: NodeBindingSpec): CatchRoute[] {
    const routes: CatchRoute[] = [];
    for (const route of binding.catch ?? []) {
      const target = this.nodesById.get(route.next) ?? single(this.nodesByLabel.get(route.next.trim()));
      if (target === undefined) {
        this.report(
          'FZ408',
          `the catch route of ${describe(node)} leads to "${route.next}", which is no node id or unique label${didYouMean(route.next, this.nodesById.keys())}`,
          node.range,
        );
        continue;
      }
      routes.push({ errorEquals: route.errorEquals, next: target.id });
    }
    return routes;
  }

  private boundLoops(): Record<string, MachineLoop> {
    const overrides = new Map<string, number>();
    for (const { key, bound } of this.spec.loops) {
      const loop = this.flow.loops.find((l) => l.id === key || l.condition.trim() === key.trim());
      if (loop === undefined) {
        const names = this.flow.loops.flatMap((l) => [l.id, l.condition]);
        this.reportInModule('FZ409', `${this.spec.source} overrides the bound of loop "${key}", which this flow does not have${didYouMean(key, names)}`, 'loops', key);
        continue;
      }
      if (!Number.isInteger(bound) || bound < 1) {
        this.report('FZ410', `${this.spec.source} gives loop "${key}" the bound ${bound}; a bound is a whole number, 1 or more`, loop.range);
        continue;
      }
      overrides.set(loop.id, bound);
    }
    const loops: Record<string, MachineLoop> = {};
    for (const loop of this.flow.loops) {
      const override = overrides.get(loop.id);
      const [bound, boundFrom] =
        override !== undefined
          ? [override, 'binding' as const]
          : loop.bound !== undefined
            ? [loop.bound, 'condition' as const]
            : [DEFAULT_LOOP_BOUND, 'default' as const];
      loops[loop.id] = { id: loop.id, condition: loop.condition, bound, boundFrom, nodes: loop.nodes };
    }
    return loops;
  }

  private report(code: DiagnosticCode, message: string, range: Range): void {
    this.diagnostics.push(diagnostic(code, message, range));
  }

  /**
   * A mistake in the binding module rather than the flow: at the key in the module's source
   * (or its `nodes:`/`loops:` when the key comes from elsewhere, such as a spread). Without a
   * module file to read, at the start of the flow.
   */
  private reportInModule(code: DiagnosticCode, message: string, object: 'nodes' | 'loops', key: string): void {
    const keys = bindingKeysOfFile(this.spec.source, object);
    const range = keys?.keys.get(key)?.[0] ?? keys?.object;
    if (range === undefined) this.report(code, message, this.fileStart);
    else this.diagnostics.push({ ...diagnostic(code, message, range), file: this.spec.source });
  }
}

function describe(node: FlowNode): string {
  return node.label.trim() === '' ? node.id : `${node.id} "${node.label}"`;
}

function listLabels(labels: readonly string[]): string {
  return labels.length === 0 ? 'none' : labels.map((l) => `"${l}"`).join(', ');
}

function single<T>(items: T[] | undefined): T | undefined {
  return items?.length === 1 ? items[0] : undefined;
}
