import { createHash } from 'node:crypto';
import { hasErrors, sortDiagnostics, type Diagnostic, type DiagnosticCode } from '../lib/diagnostics';
import type { FlowFile } from '../parser/types';
import type { CompiledFlow, EdgeEndpoint, FlowEdge, FlowLoop, FlowNode, NodeKind, Shape } from './types';
import { edgeLabel, lastAttribute, validate, type Analysis, type DeclaredNode, type ResolvedEnd } from './validate';

/** What `compile` found: the diagnostics, and the flow when none is an error. */
export interface CompileResult {
  /** Present only when there are no errors. */
  flow?: CompiledFlow;
  diagnostics: Diagnostic[];
}

export interface CompileOptions {
  /**
   * What the flow is compiled for. `run` (the default) is what `compile`, `run`, `types` and
   * `test` need: every rule of RUN_ONLY_CODES is an error. `draw` is what `check`, `render`,
   * `fmt` and `serve` need: those rules are warnings, so a diagram FlowZap draws (an agent
   * architecture with no circle at all) compiles, to be drawn but not run.
   */
  purpose?: 'draw' | 'run';
}

/**
 * Rules that only running a flow needs, errors in DIAGNOSTIC_CODES: a flow with no start
 * can be drawn but not started. A dead end (FZ305) or an unreachable node (FZ304) is not one
 * of them: SEMANTICS.md says what each does at run time, so both stay warnings either way.
 */
export const RUN_ONLY_CODES: ReadonlySet<DiagnosticCode> = new Set<DiagnosticCode>(['FZ210']);

/** Validates a parsed file and, when it has no errors, resolves it into a CompiledFlow. */
export function compile(ast: FlowFile, options: CompileOptions = {}): CompileResult {
  const analysis = validate(ast);
  const drawing = options.purpose === 'draw';
  const diagnostics = sortDiagnostics(
    analysis.diagnostics.map((d) => (drawing && RUN_ONLY_CODES.has(d.code) ? { ...d, severity: 'warning' as const } : d)),
  );
  if (hasErrors(diagnostics)) return { diagnostics };
  return { flow: build(ast.path, analysis), diagnostics };
}

function build(path: string, analysis: Analysis): CompiledFlow {
  const edges = edgesOf(analysis);
  const incoming = new Map<string, number>();
  const outgoing = new Map<string, string[]>();
  for (const edge of edges) {
    incoming.set(edge.to.node, (incoming.get(edge.to.node) ?? 0) + 1);
    const leaving = outgoing.get(edge.from.node);
    if (leaving === undefined) outgoing.set(edge.from.node, [edge.id]);
    else leaving.push(edge.id);
  }
  const nodes = analysis.nodes.map((declared) =>
    nodeOf(declared, incoming.get(declared.decl.id) ?? 0, outgoing.get(declared.decl.id) ?? []),
  );
  const loops: FlowLoop[] = analysis.loops.map(({ loop, members }, index) => {
    const bound = /\d+/.exec(loop.condition)?.[0];
    return {
      id: `loop${index + 1}`,
      condition: loop.condition,
      ...(bound !== undefined && { bound: Number(bound) }),
      nodes: members.map((m) => m.decl.id),
      range: loop.range,
    };
  });
  const lanes = analysis.lanes.map((lane) => ({ id: lane.id, label: lane.label ?? lane.id, range: lane.range }));
  return {
    version: contentHash({ lanes, nodes, edges, loops }),
    path,
    lanes,
    nodes,
    edges,
    loops,
    starts: nodes.filter((n) => n.kind === 'start').map((n) => n.id),
    ends: nodes.filter((n) => n.shape === 'circle' && n.outgoing.length === 0).map((n) => n.id),
  };
}

function edgesOf(analysis: Analysis): FlowEdge[] {
  const seen = new Map<string, number>();
  return analysis.edges.map(({ edge, from, to }) => {
    const pair = `${from.node.decl.id}->${to.node.decl.id}`;
    const count = (seen.get(pair) ?? 0) + 1;
    seen.set(pair, count);
    const flowEdge: FlowEdge = {
      id: count === 1 ? pair : `${pair}#${count}`,
      from: endpoint(from),
      to: endpoint(to),
      range: edge.range,
    };
    const label = edgeLabel(edge);
    if (label !== undefined) flowEdge.label = label;
    return flowEdge;
  });
}

function endpoint(end: ResolvedEnd): EdgeEndpoint {
  return end.inferred ? { node: end.node.decl.id, side: end.side, inferred: true } : { node: end.node.decl.id, side: end.side };
}

function nodeOf({ decl, lane }: DeclaredNode, incoming: number, outgoing: string[]): FlowNode {
  const shape = decl.shape as Shape;
  const node: FlowNode = {
    id: decl.id,
    lane: lane!.id,
    shape,
    kind: kindOf(shape, incoming, outgoing.length),
    label: lastAttribute(decl.attributes, 'label') ?? '',
    outgoing,
    range: decl.range,
  };
  for (const key of ['owner', 'description', 'system'] as const) {
    const value = lastAttribute(decl.attributes, key);
    if (value !== undefined) node[key] = value;
  }
  return node;
}

function kindOf(shape: Shape, incoming: number, outgoing: number): NodeKind {
  if (shape === 'diamond') return 'decision';
  if (shape !== 'circle') return 'step';
  if (incoming === 0) return 'start';
  return outgoing === 0 ? 'end' : 'milestone';
}

/**
 * sha256 of the flow's meaning, source positions left out. Key order needs no sorting: every
 * object hashed here is built above with its keys in a fixed order.
 */
function contentHash(value: unknown): string {
  const canonical = JSON.stringify(value, (key, v: unknown) => (key === 'range' ? undefined : v));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
