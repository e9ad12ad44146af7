import type { IToken } from 'chevrotain';
import { diagnostic, sortDiagnostics, spanning, type Diagnostic, type Range } from '../lib/diagnostics';
import { countLineBreaks, stripBom } from '../lib/text';
import { parseStatement, tokenRange } from './grammar';
import { LaneLabel, Newline, UnterminatedString, flowLexer } from './tokens';
import type { Attribute, Edge, EdgeEnd, FlowFile, Lane, Loop, NodeDecl, NodeRef, ParseResult } from './types';

/**
 * Parses a .flow file. Never throws: every problem found is returned as a diagnostic, and the
 * AST holds everything that could be read. A line that does not parse is left out; a node
 * whose last string is unterminated is kept, so that references to it do not cascade into
 * more errors.
 */
export function parse(path: string, text: string): ParseResult {
  const source = stripBom(text);
  const builder = new AstBuilder(path, source);
  for (const chunk of chunksOf(source)) {
    if (builder.stopped) break;
    const lexed = flowLexer.tokenize(chunk.text);
    for (const error of lexed.errors) {
      const start = { line: error.line! + chunk.line - 1, column: error.column!, offset: error.offset + chunk.offset };
      const end = { line: start.line, column: start.column + error.length, offset: start.offset + error.length };
      const found = source.slice(start.offset, end.offset);
      builder.report(diagnostic('FZ100', `unexpected character ${quoteChars(found)}`, { start, end }));
    }
    const comments = lexed.groups['comments'] ?? [];
    for (const token of [...lexed.tokens, ...comments]) {
      token.startOffset += chunk.offset;
      token.startLine! += chunk.line - 1;
    }
    let commentIndex = 0;
    for (const line of splitLines(lexed.tokens)) {
      if (builder.stopped) break;
      const first = line[0]!;
      while (commentIndex < comments.length && comments[commentIndex]!.startLine! <= first.startLine!) {
        builder.comment(comments[commentIndex]!);
        commentIndex++;
      }
      builder.statement(line);
    }
    for (; commentIndex < comments.length; commentIndex++) builder.comment(comments[commentIndex]!);
  }
  return builder.finish();
}

const CHUNK_SIZE = 64 * 1024;

/**
 * The source in pieces of whole lines. Lexing a large file piece by piece lets each piece's
 * tokens die young instead of all of them outliving the parse, which halves the time spent
 * collecting garbage. No token but a newline spans lines, so a cut after a newline is safe.
 */
function* chunksOf(source: string): Generator<{ text: string; offset: number; line: number }> {
  let offset = 0;
  let line = 1;
  do {
    let end = Math.min(source.length, offset + CHUNK_SIZE);
    if (end < source.length) {
      const newline = source.indexOf('\n', end);
      end = newline === -1 ? source.length : newline + 1;
    }
    const text = source.slice(offset, end);
    yield { text, offset, line };
    line += countLineBreaks(text);
    offset = end;
  } while (offset < source.length);
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

/**
 * Past this many errors a file is not a flow with mistakes but something else (a binary, a
 * paste gone wrong): checking stops, as clang's error limit does, so the answer stays quick.
 */
export const MAX_ERRORS = 1000;

class AstBuilder {
  private readonly diagnostics: Diagnostic[] = [];
  private readonly file: FlowFile;
  private openLane: Lane | undefined;
  private pendingComments: string[] = [];

  constructor(path: string, source: string) {
    this.file = { path, lanes: [], nodes: [], edges: [], loops: [], trailingComments: [], range: wholeText(source) };
  }

  /** True once MAX_ERRORS errors have been reported: the rest of the file is not read. */
  stopped = false;
  private errors = 0;

  report(d: Diagnostic): void {
    if (this.stopped) return;
    this.diagnostics.push(d);
    if (d.severity === 'error' && ++this.errors === MAX_ERRORS) {
      this.stopped = true;
      this.diagnostics.push(
        diagnostic('FZ107', `too many errors: stopped checking after ${MAX_ERRORS}, at line ${d.range.start.line}`, d.range),
      );
    }
  }

  comment(token: IToken): void {
    this.pendingComments.push(token.image.slice(2).trim());
  }

  statement(tokens: IToken[]): void {
    // FlowZap's templates put `#` lines above and between the lanes, and its own parser skips
    // them. A `#` token runs to the end of the line, so it is the line's only token.
    const [head] = tokens;
    if (head!.tokenType === LaneLabel && this.openLane === undefined) return this.hashComment(head!);
    const { statement, error } = parseStatement(tokens);
    // An unterminated string runs to the end of its line, so it is the one error there: what
    // the parser then misses (a `]`, more attributes) follows from it.
    const unterminated = tokens.find((token) => token.tokenType === UnterminatedString);
    if (unterminated !== undefined) {
      this.report(diagnostic('FZ102', 'unterminated string: add the closing `"`', tokenRange(unterminated)));
    }
    if (error !== undefined) {
      if (unterminated !== undefined) return;
      const range = error.token !== undefined ? tokenRange(error.token) : endOfLine(tokens);
      const found = error.token !== undefined ? `\`${error.token.image}\`` : 'the end of the line';
      this.report(diagnostic('FZ101', `expected ${error.expected}, found ${found}`, range));
      return;
    }
    switch (statement.kind) {
      case 'laneOpen':
        return this.openLaneAt(statement.id, statement.brace, statement.label);
      case 'laneClose':
        return this.closeLaneAt(tokenRange(statement.brace));
      case 'node':
        return this.place(this.nodeDecl(statement.id, statement.shape, statement.attributes), 'nodes');
      case 'edge':
        return this.place(this.edge(statement.from, statement.to, statement.attributes, statement.closing), 'edges');
      case 'loop': {
        const loop = this.loop(statement.keyword, statement.condition, statement.members);
        return loop === undefined ? undefined : this.place(loop, 'loops');
      }
    }
  }

  /** A `#` line outside the lanes: a comment like `//`, which `format` prints it as. */
  private hashComment(token: IToken): void {
    this.report(
      diagnostic('FZ313', '`#` outside a lane is read as a comment: laneflow comments start with `//` (`laneflow fmt` rewrites it)', tokenRange(token)),
    );
    this.pendingComments.push(token.image.slice(1).trim());
  }

  finish(): ParseResult {
    if (this.openLane !== undefined && !this.stopped) {
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

  private openLaneAt(idToken: IToken, brace: IToken, labelToken: IToken | undefined): void {
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
    const lastToken = labelToken ?? brace;
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

  private nodeDecl(idToken: IToken, shapeToken: IToken, attributes: Attribute[]): NodeDecl {
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

  private edge(from: EdgeEnd, to: EdgeEnd, attributes: Attribute[] | undefined, closing: IToken | undefined): Edge {
    const edge: Edge = { from, to, comments: this.takeComments(), range: spanning(from.range, to.range) };
    if (attributes !== undefined) {
      edge.attributes = attributes;
      edge.range = spanning(from.range, tokenRange(closing!));
    }
    return edge;
  }

  /** The loop, or undefined when its condition runs to the end of the line. */
  private loop(keyword: IToken, condition: IToken, members: NodeRef[]): Loop | undefined {
    if (!condition.image.endsWith(']')) {
      this.report(diagnostic('FZ106', 'loop condition is not closed: add `]`', tokenRange(condition)));
      this.takeComments();
      return undefined;
    }
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

function endOfLine(tokens: IToken[]): Range {
  const end = tokenRange(tokens[tokens.length - 1]!).end;
  return { start: end, end };
}

function wholeText(source: string): Range {
  const lastBreak = Math.max(source.lastIndexOf('\n'), source.lastIndexOf('\r'));
  const lines = 1 + countLineBreaks(source);
  return {
    start: { line: 1, column: 1, offset: 0 },
    end: { line: lines, column: source.length - lastBreak, offset: source.length },
  };
}

function quoteChars(text: string): string {
  const shown = [...text].map((c) => (/[\p{Cc}\p{Cf}\s]/u.test(c) ? `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` : c));
  return `\`${shown.join('')}\``;
}
