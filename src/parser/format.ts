import type { Attribute, Edge, EdgeEnd, FlowFile, Lane, Loop, NodeDecl, NodeRef } from './types';

export interface FormatOptions {
  /** Rewrite node ids to n1..nN in declaration order (lanes in file order). */
  renumber?: boolean;
}

const INDENT = '  ';

/**
 * Prints a file in canonical form: two-space indent, the lane label on the brace line, nodes
 * then edges then loops in each lane, `key:"value"` attributes, comments kept above the
 * statement they preceded. `parse(format(ast))` gives back the same tree, ranges aside.
 */
export function format(ast: FlowFile, options: FormatOptions = {}): string {
  const rename = options.renumber === true ? renumbering(ast) : (id: string) => id;
  const printer = new Printer(rename);
  const blocks: string[][] = ast.lanes.map((lane) => printer.lane(lane));
  const topLevel = printer.items(ast.nodes, ast.edges, ast.loops, '');
  if (topLevel.length > 0) blocks.push(topLevel);
  if (ast.trailingComments.length > 0) blocks.push(ast.trailingComments.map((c) => comment(c, '')));
  return blocks.map((block) => block.join('\n')).join('\n\n') + '\n';
}

function renumbering(ast: FlowFile): (id: string) => string {
  const ids = new Map<string, string>();
  for (const decl of [...ast.lanes.flatMap((lane) => lane.nodes), ...ast.nodes]) {
    if (!ids.has(decl.id)) ids.set(decl.id, `n${ids.size + 1}`);
  }
  return (id) => ids.get(id) ?? id;
}

class Printer {
  constructor(private readonly rename: (id: string) => string) {}

  lane(lane: Lane): string[] {
    const header = lane.label !== undefined ? `${lane.id} { # ${lane.label}` : `${lane.id} {`;
    const body = this.items(lane.nodes, lane.edges, lane.loops, INDENT);
    if (lane.trailingComments.length > 0) {
      if (body.length > 0) body.push('');
      body.push(...lane.trailingComments.map((c) => comment(c, INDENT)));
    }
    return [...lane.comments.map((c) => comment(c, '')), header, ...body, '}'];
  }

  /** Nodes, then edges, then loops, a blank line between the groups. */
  items(nodes: NodeDecl[], edges: Edge[], loops: Loop[], indent: string): string[] {
    const groups = [
      nodes.flatMap((n) => this.withComments(n.comments, this.node(n), indent)),
      edges.flatMap((e) => this.withComments(e.comments, this.edge(e), indent)),
      loops.flatMap((l) => this.withComments(l.comments, this.loop(l), indent)),
    ].filter((group) => group.length > 0);
    return groups.flatMap((group, i) => (i === 0 ? group : ['', ...group]));
  }

  private withComments(comments: string[], line: string, indent: string): string[] {
    return [...comments.map((c) => comment(c, indent)), indent + line];
  }

  private node(node: NodeDecl): string {
    return [`${this.rename(node.id)}: ${node.shape}`, ...node.attributes.map((a) => attribute(a, ':'))].join(' ');
  }

  private edge(edge: Edge): string {
    const text = `${this.end(edge.from)} -> ${this.end(edge.to)}`;
    if (edge.attributes === undefined) return text;
    return `${text} [${edge.attributes.map((a) => attribute(a, '=')).join(', ')}]`;
  }

  private end(end: EdgeEnd): string {
    const ref = this.ref(end);
    return end.side === undefined ? ref : `${ref}.handle(${end.side})`;
  }

  private ref(ref: NodeRef): string {
    const node = this.rename(ref.node);
    return ref.lane === undefined ? node : `${ref.lane.id}.${node}`;
  }

  private loop(loop: Loop): string {
    return [`loop [${loop.condition}]`, ...loop.members.map((m) => this.ref(m))].join(' ');
  }
}

function attribute(a: Attribute, separator: ':' | '='): string {
  return `${a.key}${separator}"${a.value.replace(/["\\]/g, '\\$&')}"`;
}

function comment(text: string, indent: string): string {
  return text === '' ? `${indent}//` : `${indent}// ${text}`;
}
