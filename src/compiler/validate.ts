import { diagnostic, type Diagnostic } from '../lib/diagnostics';
import { didYouMean } from '../lib/suggest';
import type { Attribute, Edge, EdgeEnd, FlowFile, Lane, Loop, NodeDecl, NodeRef } from '../parser/types';
import { SHAPES, SIDES, type Shape, type Side } from './types';

const NODE_ATTRIBUTES = ['label', 'owner', 'description', 'system'];
const EDGE_ATTRIBUTES = ['label'];
const MAX_LABEL_LENGTH = 50;

/** A declared node and the lane it belongs to (none for a node written outside every lane). */
export interface DeclaredNode {
  decl: NodeDecl;
  lane: Lane | undefined;
}

/** An edge whose two ends name declared nodes, with sides known or inferred. */
export interface ResolvedEdge {
  edge: Edge;
  from: ResolvedEnd;
  to: ResolvedEnd;
}

export interface ResolvedEnd {
  node: DeclaredNode;
  side: Side;
  inferred: boolean;
}

/** What validation learned about the file: the basis of compilation. */
export interface Analysis {
  diagnostics: Diagnostic[];
  lanes: Lane[];
  nodes: DeclaredNode[];
  edges: ResolvedEdge[];
  loops: { loop: Loop; members: DeclaredNode[] }[];
}

/** Runs every check of LANGUAGE.md §7 over a parsed file. */
export function validate(ast: FlowFile): Analysis {
  return new Validator(ast).run();
}

class Validator {
  private readonly diagnostics: Diagnostic[] = [];
  private readonly lanes = new Map<string, Lane>();
  private readonly nodes = new Map<string, DeclaredNode>();
  private readonly laneOrder: Lane[] = [];

  constructor(private readonly ast: FlowFile) {}

  run(): Analysis {
    this.declareLanes();
    this.declareNodes();
    const written = this.allEdges();
    const edges = written.flatMap((edge) => this.resolveEdge(edge) ?? []);
    const loops = this.checkLoops();
    // Reachability and dead ends over a graph with missing edges would only mislead.
    if (edges.length === written.length) this.checkGraph(edges);
    this.checkNumbering();
    return {
      diagnostics: this.diagnostics,
      lanes: this.laneOrder,
      nodes: [...this.nodes.values()],
      edges,
      loops,
    };
  }

  private report(d: Diagnostic): void {
    this.diagnostics.push(d);
  }

  private allEdges(): Edge[] {
    return [...this.ast.lanes.flatMap((lane) => lane.edges), ...this.ast.edges];
  }

  private declareLanes(): void {
    for (const lane of this.ast.lanes) {
      const first = this.lanes.get(lane.id);
      if (first !== undefined) {
        this.report(
          diagnostic('FZ204', `duplicate lane \`${lane.id}\`: already declared on line ${first.idRange.start.line}`, lane.idRange),
        );
        continue;
      }
      this.lanes.set(lane.id, lane);
      this.laneOrder.push(lane);
    }
  }

  private declareNodes(): void {
    const declarations: DeclaredNode[] = [
      ...this.ast.lanes.flatMap((lane) => lane.nodes.map((decl) => ({ decl, lane }))),
      ...this.ast.nodes.map((decl) => ({ decl, lane: undefined })),
    ];
    for (const declared of declarations) {
      const { decl, lane } = declared;
      if (lane === undefined) {
        this.report(
          diagnostic('FZ105', `node \`${decl.id}\` is declared outside any lane: move it inside a lane's braces`, decl.idRange),
        );
      }
      const first = this.nodes.get(decl.id);
      if (first !== undefined) {
        const where = first.lane !== undefined ? ` in lane \`${first.lane.id}\`` : '';
        this.report(
          diagnostic(
            'FZ203',
            `duplicate node id \`${decl.id}\`: already declared${where} on line ${first.decl.idRange.start.line}`,
            decl.idRange,
          ),
        );
      } else {
        this.nodes.set(decl.id, declared);
      }
      if (!isShape(decl.shape)) {
        this.report(
          diagnostic(
            'FZ201',
            `unknown shape \`${decl.shape}\`: expected one of ${SHAPES.join(', ')}${didYouMean(decl.shape, SHAPES)}`,
            decl.shapeRange,
          ),
        );
      }
      this.checkAttributes(decl.attributes, NODE_ATTRIBUTES, `node \`${decl.id}\``);
    }
  }

  private checkAttributes(attributes: readonly Attribute[], known: readonly string[], owner: string): void {
    const seen = new Set<string>();
    for (const attribute of attributes) {
      if (!known.includes(attribute.key)) {
        this.report(
          diagnostic(
            'FZ307',
            `unknown attribute \`${attribute.key}\` on ${owner}: known are ${known.join(', ')}${didYouMean(attribute.key, known)}`,
            attribute.keyRange,
          ),
        );
      }
      if (seen.has(attribute.key)) {
        this.report(
          diagnostic('FZ311', `attribute \`${attribute.key}\` is given twice on ${owner}: the last one counts`, attribute.keyRange),
        );
      }
      seen.add(attribute.key);
      const length = [...attribute.value].length;
      if (attribute.key === 'label' && length > MAX_LABEL_LENGTH) {
        this.report(
          diagnostic(
            'FZ306',
            `label of ${owner} is ${length} characters long: keep labels to ${MAX_LABEL_LENGTH} or fewer`,
            attribute.valueRange,
          ),
        );
      }
    }
  }

  /** The declared node a reference names, after checking its lane prefix. */
  private resolveRef(ref: NodeRef): DeclaredNode | undefined {
    if (ref.lane !== undefined && !this.lanes.has(ref.lane.id)) {
      this.report(
        diagnostic(
          'FZ206',
          `no lane named \`${ref.lane.id}\`${didYouMean(ref.lane.id, this.lanes.keys())}`,
          ref.lane.range,
        ),
      );
    }
    const node = this.nodes.get(ref.node);
    if (node === undefined) {
      this.report(diagnostic('FZ205', `node \`${ref.node}\` is not declared in this file`, ref.nodeRange));
      return undefined;
    }
    if (ref.lane !== undefined && this.lanes.has(ref.lane.id) && node.lane !== undefined && node.lane.id !== ref.lane.id) {
      this.report(
        diagnostic(
          'FZ207',
          `\`${ref.node}\` is declared in lane \`${node.lane.id}\`, not \`${ref.lane.id}\``,
          ref.lane.range,
        ),
      );
    }
    return node;
  }

  private resolveEdge(edge: Edge): ResolvedEdge | undefined {
    const from = this.resolveRef(edge.from);
    const to = this.resolveRef(edge.to);
    const fromSide = this.checkSide(edge.from);
    const toSide = this.checkSide(edge.to);
    if (edge.attributes !== undefined) {
      this.checkAttributes(edge.attributes, EDGE_ATTRIBUTES, `edge \`${edge.from.node} -> ${edge.to.node}\``);
    }
    if (from === undefined || to === undefined || fromSide === null || toSide === null) return undefined;
    const crossLane = from.lane !== undefined && to.lane !== undefined && from.lane !== to.lane;
    if (crossLane && edge.to.lane === undefined) {
      this.report(
        diagnostic(
          'FZ308',
          `\`${edge.to.node}\` is in lane \`${to.lane!.id}\`: write \`${to.lane!.id}.${edge.to.node}\``,
          edge.to.nodeRange,
        ),
      );
    }
    const inferred = inferSides(this.laneIndex(from.lane), this.laneIndex(to.lane));
    if (fromSide === undefined || toSide === undefined) {
      const fromText = fromSide ?? inferred.from;
      const toText = toSide ?? inferred.to;
      this.report(
        diagnostic(
          'FZ309',
          `edge without handles: sides inferred as ${edge.from.node}.handle(${fromText}) -> ${edge.to.node}.handle(${toText})`,
          edge.range,
        ),
      );
    }
    return {
      edge,
      from: { node: from, side: fromSide ?? inferred.from, inferred: fromSide === undefined },
      to: { node: to, side: toSide ?? inferred.to, inferred: toSide === undefined },
    };
  }

  private laneIndex(lane: Lane | undefined): number {
    return lane === undefined ? -1 : this.laneOrder.indexOf(lane);
  }

  /** The side of an edge end: undefined when none is written, null when it is not a side. */
  private checkSide(end: EdgeEnd): Side | undefined | null {
    if (end.side === undefined) return undefined;
    if (isSide(end.side)) return end.side;
    this.report(
      diagnostic(
        'FZ202',
        `unknown handle side \`${end.side}\`: expected one of ${SIDES.join(', ')}${didYouMean(end.side, SIDES)}`,
        end.sideRange!,
      ),
    );
    return null;
  }

  private checkLoops(): Analysis['loops'] {
    const loops = [...this.ast.lanes.flatMap((lane) => lane.loops), ...this.ast.loops];
    const loopOf = new Map<string, Loop>();
    const resolved: Analysis['loops'] = [];
    for (const loop of loops) {
      const members: DeclaredNode[] = [];
      const seen = new Set<string>();
      for (const ref of loop.members) {
        const node = this.resolveRef(ref);
        if (seen.has(ref.node)) {
          this.report(diagnostic('FZ312', `\`${ref.node}\` is listed twice in this loop`, ref.nodeRange));
          continue;
        }
        seen.add(ref.node);
        if (node === undefined) continue;
        const other = loopOf.get(ref.node);
        if (other !== undefined) {
          this.report(
            diagnostic(
              'FZ209',
              `\`${ref.node}\` is already in the loop on line ${other.range.start.line}: loops do not nest or overlap`,
              ref.nodeRange,
            ),
          );
          continue;
        }
        loopOf.set(ref.node, loop);
        members.push(node);
      }
      if (seen.size < 2) {
        this.report(
          diagnostic('FZ208', `a loop needs at least two nodes, this one has ${seen.size}`, loop.range),
        );
      }
      resolved.push({ loop, members });
    }
    return resolved;
  }

  private checkGraph(edges: ResolvedEdge[]): void {
    const nodes = [...this.nodes.values()];
    const outgoing = new Map<DeclaredNode, ResolvedEdge[]>(nodes.map((n) => [n, []]));
    const incoming = new Map<DeclaredNode, number>(nodes.map((n) => [n, 0]));
    for (const e of edges) {
      outgoing.get(e.from.node)!.push(e);
      incoming.set(e.to.node, incoming.get(e.to.node)! + 1);
    }
    const starts = nodes.filter((n) => n.decl.shape === 'circle' && incoming.get(n) === 0);
    if (starts.length === 0) {
      const first = nodes[0];
      const message = first === undefined
        ? 'no start node: the file declares no nodes'
        : 'no start node: a flow starts at a circle with no incoming edge';
      const at = first?.decl.idRange ?? { start: this.ast.range.start, end: this.ast.range.start };
      this.report(diagnostic('FZ210', message, at));
    }

    const reached = new Set<DeclaredNode>(starts);
    const queue = [...starts];
    for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
      for (const e of outgoing.get(next)!) {
        if (!reached.has(e.to.node)) {
          reached.add(e.to.node);
          queue.push(e.to.node);
        }
      }
    }

    for (const node of nodes) {
      const { decl } = node;
      const out = outgoing.get(node)!;
      const name = describe(decl);
      if (starts.length > 0 && !reached.has(node)) {
        this.report(diagnostic('FZ304', `${name} is unreachable from any start`, decl.idRange));
      }
      if (out.length === 0 && decl.shape !== 'circle') {
        this.report(
          diagnostic('FZ305', `${name} has no outgoing edge: flows should end at a circle`, decl.idRange),
        );
      }
      if (decl.shape === 'diamond') this.checkDecision(node, out);
    }
  }

  private checkDecision(node: DeclaredNode, out: ResolvedEdge[]): void {
    const name = describe(node.decl);
    if (out.length < 2) {
      this.report(
        diagnostic('FZ301', `decision ${name} has ${out.length} outgoing edge${out.length === 1 ? '' : 's'}: it needs at least two`, node.decl.idRange),
      );
    }
    const labels = new Map<string, Edge>();
    for (const { edge } of out) {
      const label = edgeLabel(edge)?.trim();
      if (label === undefined || label === '') {
        this.report(
          diagnostic('FZ302', `edge leaving decision ${name} has no label: its handler cannot choose it`, edge.range),
        );
        continue;
      }
      const key = label.toLowerCase();
      const first = labels.get(key);
      if (first !== undefined) {
        this.report(
          diagnostic(
            'FZ303',
            `decision ${name} already has an edge labelled "${label}" on line ${first.range.start.line}`,
            edge.range,
          ),
        );
      } else {
        labels.set(key, edge);
      }
    }
  }

  /** The convention: ids n1..nN, no gaps, in declaration order. One warning per file. */
  private checkNumbering(): void {
    const declared = [...this.ast.lanes.flatMap((lane) => lane.nodes), ...this.ast.nodes];
    const misplaced = declared.findIndex((decl, index) => decl.id !== `n${index + 1}`);
    if (misplaced === -1) return;
    const decl = declared[misplaced]!;
    this.report(
      diagnostic(
        'FZ310',
        `node ids are not n1..n${declared.length} in declaration order (expected \`n${misplaced + 1}\` here): \`laneflow fmt --renumber\` rewrites them`,
        decl.idRange,
      ),
    );
  }
}

/** Sides for a bare `n1 -> n2` edge: along the lane, or down / up across lanes. */
function inferSides(fromLane: number, toLane: number): { from: Side; to: Side } {
  if (fromLane === toLane) return { from: 'right', to: 'left' };
  return fromLane < toLane ? { from: 'bottom', to: 'top' } : { from: 'top', to: 'bottom' };
}

export function edgeLabel(edge: Edge): string | undefined {
  return lastAttribute(edge.attributes ?? [], 'label');
}

export function lastAttribute(attributes: readonly Attribute[], key: string): string | undefined {
  for (let i = attributes.length - 1; i >= 0; i--) {
    if (attributes[i]!.key === key) return attributes[i]!.value;
  }
  return undefined;
}

function describe(decl: NodeDecl): string {
  const label = lastAttribute(decl.attributes, 'label');
  return label === undefined ? `\`${decl.id}\`` : `\`${decl.id}\` "${label}"`;
}

function isShape(shape: string): shape is Shape {
  return (SHAPES as readonly string[]).includes(shape);
}

function isSide(side: string): side is Side {
  return (SIDES as readonly string[]).includes(side);
}
