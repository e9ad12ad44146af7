import type { CstNode, IToken } from 'chevrotain';
import { diagnostic, sortDiagnostics, spanning, type Diagnostic, type Range } from '../lib/diagnostics';
import { stripBom } from '../lib/text';
import { parseStatement } from './grammar';
import { Newline, TerminatedString, UnterminatedString, flowLexer } from './tokens';
import type { Attribute, Edge, EdgeEnd, FlowFile, Lane, Loop, NodeDecl, NodeRef, ParseResult } from './types';

/**
 * Parses a .flow file. Never throws: every problem found is returned as a diagnostic, and the
 * AST holds everything that could be read. A line that does not parse is left out; a node
 * whose last string is unterminated is kept, so that references to it do not cascade into
 * more errors.
 */
export function parse(path: string, text: string): ParseResult {
  const source = stripBom(text);
  const lexed = flowLexer.tokenize(source);
  const builder = new AstBuilder(path, source);
  for (const error of lexed.errors) {
    const start = { line: error.line ?? 1, column: error.column ?? 1, offset: error.offset };
    const end = { line: start.line, column: start.column + error.length, offset: start.offset + error.length };
    const found = source.slice(error.offset, error.offset + error.length);
    builder.report(diagnostic('FZ100', `unexpected character ${quoteChars(found)}`, { start, end }));
  }
  const comments = lexed.groups['comments'] ?? [];
  let commentIndex = 0;
  for (const line of splitLines(lexed.tokens)) {
    const first = line[0]!;
    while (commentIndex < comments.length && comments[commentIndex]!.startLine! <= first.startLine!) {
      builder.comment(comments[commentIndex]!);
      commentIndex++;
    }
    builder.statement(line);
  }
  for (; commentIndex < comments.length; commentIndex++) builder.comment(comments[commentIndex]!);
  return builder.finish();
}

function* splitLines(tokens: IToken[]): Generator<IToken[]> {
  let line: IToken[] = [];
  for (const token of tokens) {
    if (token.tokenType === Newline) {
      if (line.length > 0) yield line;
      line = [];
    } else {
      line.push(token);
    }
  }
  if (line.length > 0) yield line;
}

type Item = NodeDecl | Edge | Loop;

class AstBuilder {
  private readonly diagnostics: Diagnostic[] = [];
  private readonly file: FlowFile;
  private openLane: Lane | undefined;
  private pendingComments: string[] = [];

  constructor(path: string, private readonly source: string) {
    this.file = { path, lanes: [], nodes: [], edges: [], loops: [], trailingComments: [], range: wholeText(source) };
  }

  report(d: Diagnostic): void {
    this.diagnostics.push(d);
  }

  comment(token: IToken): void {
    this.pendingComments.push(token.image.slice(2).trim());
  }

  statement(tokens: IToken[]): void {
    const { cst, error } = parseStatement(tokens);
    for (const token of tokens) {
      if (token.tokenType === UnterminatedString) {
        this.report(diagnostic('FZ102', 'unterminated string: add the closing `"`', tokenRange(token)));
      }
    }
    if (error !== undefined) {
      if (error.token?.tokenType === UnterminatedString) return; // already reported, once
      const range = error.token !== undefined ? tokenRange(error.token) : endOfLine(tokens);
      const found = error.token !== undefined ? `\`${error.token.image}\`` : 'the end of the line';
      this.report(diagnostic('FZ101', `expected ${error.expected}, found ${found}`, range));
      return;
    }
    const statement = onlyChild(cst!);
    switch (statement.name) {
      case 'laneOpen':
        return this.openLaneAt(statement);
      case 'laneClose':
        return this.closeLaneAt(tokenRange(tokens[0]!));
      case 'nodeDecl':
        return this.place(this.nodeDecl(statement), 'nodes');
      case 'edge':
        return this.place(this.edge(statement), 'edges');
      case 'loop': {
        const loop = this.loop(statement);
        return loop === undefined ? undefined : this.place(loop, 'loops');
      }
    }
  }

  finish(): ParseResult {
    if (this.openLane !== undefined) {
      const lane = this.openLane;
      this.report(
        diagnostic('FZ103', `lane \`${lane.id}\` is never closed: add \`}\` after its last line`, lane.idRange),
      );
      this.closeLane(lane.range);
    }
    this.file.trailingComments = this.takeComments();
    return { ast: this.file, diagnostics: sortDiagnostics(this.diagnostics) };
  }

  private takeComments(): string[] {
    const comments = this.pendingComments;
    this.pendingComments = [];
    return comments;
  }

  private place<K extends 'nodes' | 'edges' | 'loops'>(item: Item, kind: K): void {
    const container = this.openLane ?? this.file;
    (container[kind] as Item[]).push(item);
    if (this.openLane !== undefined) this.openLane.range = spanning(this.openLane.range, item.range);
  }

  private openLaneAt(cst: CstNode): void {
    const idToken = tokenOf(cst, 'Identifier');
    const labelToken = optionalTokenOf(cst, 'LaneLabel');
    if (this.openLane !== undefined) {
      const lane = this.openLane;
      this.report(
        diagnostic(
          'FZ103',
          `lane \`${lane.id}\` is not closed before lane \`${idToken.image}\` opens on line ${idToken.startLine}: lanes do not nest`,
          lane.idRange,
        ),
      );
      this.closeLane(lane.range);
    }
    const label = labelToken?.image.slice(1).trim();
    const lastToken = labelToken ?? tokenOf(cst, 'LBrace');
    const lane: Lane = {
      id: idToken.image,
      idRange: tokenRange(idToken),
      nodes: [],
      edges: [],
      loops: [],
      comments: this.takeComments(),
      trailingComments: [],
      range: spanning(tokenRange(idToken), tokenRange(lastToken)),
    };
    if (label !== undefined && label !== '') {
      lane.label = label;
      lane.labelRange = tokenRange(labelToken!);
    }
    this.openLane = lane;
  }

  private closeLaneAt(range: Range): void {
    if (this.openLane === undefined) {
      this.report(diagnostic('FZ104', 'unexpected `}`: no lane is open here', range));
      return;
    }
    this.closeLane(spanning(this.openLane.range, range));
  }

  private closeLane(range: Range): void {
    const lane = this.openLane!;
    lane.range = range;
    lane.trailingComments = this.takeComments();
    this.file.lanes.push(lane);
    this.openLane = undefined;
  }

  private nodeDecl(cst: CstNode): NodeDecl {
    const idToken = tokenOf(cst, 'NodeId');
    const shapeToken = tokenOf(cst, 'shape');
    const attributes = childNodes(cst, 'attribute').map((a) => this.attribute(a));
    const last = attributes[attributes.length - 1];
    return {
      id: idToken.image,
      idRange: tokenRange(idToken),
      shape: shapeToken.image,
      shapeRange: tokenRange(shapeToken),
      attributes,
      comments: this.takeComments(),
      range: spanning(tokenRange(idToken), last?.valueRange ?? tokenRange(shapeToken)),
    };
  }

  private attribute(cst: CstNode): Attribute {
    const key = tokenOf(cst, 'key');
    const value = tokenOf(cst, 'value');
    return { key: key.image, keyRange: tokenRange(key), value: stringValue(value), valueRange: tokenRange(value) };
  }

  private edge(cst: CstNode): Edge {
    const from = this.edgeEnd(childNode(cst, 'from'));
    const to = this.edgeEnd(childNode(cst, 'to'));
    const list = childNodes(cst, 'attributeList')[0];
    const edge: Edge = { from, to, comments: this.takeComments(), range: spanning(from.range, to.range) };
    if (list !== undefined) {
      edge.attributes = childNodes(list, 'attribute').map((a) => this.attribute(a));
      edge.range = spanning(from.range, tokenRange(tokenOf(list, 'RBracket')));
    }
    return edge;
  }

  private edgeEnd(cst: CstNode): EdgeEnd {
    const end: EdgeEnd = this.nodeRef(childNode(cst, 'nodeRef'));
    const side = optionalTokenOf(cst, 'side');
    if (side !== undefined) {
      end.side = side.image;
      end.sideRange = tokenRange(side);
      end.range = spanning(end.range, tokenRange(tokenOf(cst, 'RParen')));
    }
    return end;
  }

  private nodeRef(cst: CstNode): NodeRef {
    const node = tokenOf(cst, 'NodeId');
    const lane = optionalTokenOf(cst, 'lane');
    const ref: NodeRef = { node: node.image, nodeRange: tokenRange(node), range: tokenRange(node) };
    if (lane !== undefined) {
      ref.lane = { id: lane.image, range: tokenRange(lane) };
      ref.range = spanning(ref.lane.range, ref.nodeRange);
    }
    return ref;
  }

  /** The loop, or undefined when its condition runs to the end of the line. */
  private loop(cst: CstNode): Loop | undefined {
    const keyword = tokenOf(cst, 'Loop');
    const condition = tokenOf(cst, 'LoopCondition');
    if (!condition.image.endsWith(']')) {
      this.report(diagnostic('FZ106', 'loop condition is not closed: add `]`', tokenRange(condition)));
      this.takeComments();
      return undefined;
    }
    const members = childNodes(cst, 'nodeRef').map((r) => this.nodeRef(r));
    const last = members[members.length - 1];
    return {
      condition: condition.image.slice(1, -1).trim(),
      conditionRange: tokenRange(condition),
      members,
      comments: this.takeComments(),
      range: spanning(tokenRange(keyword), last?.range ?? tokenRange(condition)),
    };
  }
}

function onlyChild(cst: CstNode): CstNode {
  return Object.values(cst.children)[0]![0] as CstNode;
}

function childNodes(cst: CstNode, name: string): CstNode[] {
  return (cst.children[name] as CstNode[] | undefined) ?? [];
}

function childNode(cst: CstNode, name: string): CstNode {
  return childNodes(cst, name)[0]!;
}

function optionalTokenOf(cst: CstNode, name: string): IToken | undefined {
  return (cst.children[name] as IToken[] | undefined)?.[0];
}

function tokenOf(cst: CstNode, name: string): IToken {
  return optionalTokenOf(cst, name)!;
}

export function tokenRange(token: IToken): Range {
  return {
    start: { line: token.startLine!, column: token.startColumn!, offset: token.startOffset },
    end: { line: token.endLine!, column: token.endColumn! + 1, offset: token.endOffset! + 1 },
  };
}

function endOfLine(tokens: IToken[]): Range {
  const end = tokenRange(tokens[tokens.length - 1]!).end;
  return { start: end, end };
}

function wholeText(source: string): Range {
  const lines = source.split(/\r\n|\r|\n/);
  const lastLine = lines[lines.length - 1]!;
  return {
    start: { line: 1, column: 1, offset: 0 },
    end: { line: lines.length, column: lastLine.length + 1, offset: source.length },
  };
}

/** The value of a string token: quotes removed, `\"` and `\\` unescaped. */
function stringValue(token: IToken): string {
  const image = token.image;
  const inner = token.tokenType === TerminatedString ? image.slice(1, -1) : image.slice(1);
  return inner.replace(/\\(["\\])/g, '$1');
}

function quoteChars(text: string): string {
  const shown = [...text].map((c) => (/[\p{Cc}\p{Cf}\s]/u.test(c) ? `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` : c));
  return `\`${shown.join('')}\``;
}
