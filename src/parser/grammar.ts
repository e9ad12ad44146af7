import { EmbeddedActionsParser, type IParserErrorMessageProvider, type IRecognitionException, type IToken } from 'chevrotain';
import { spanning, type Range } from '../lib/diagnostics';
import {
  allTokens,
  Arrow,
  Colon,
  Comma,
  Dot,
  Equals,
  Handle,
  Identifier,
  LBrace,
  LBracket,
  LaneLabel,
  Loop,
  LoopCondition,
  LParen,
  NodeId,
  RBrace,
  RBracket,
  RParen,
  StringLiteral,
  TerminatedString,
} from './tokens';
import type { Attribute, EdgeEnd, NodeRef } from './types';

/** One line's statement, before the AST builder places it in its lane and attaches comments. */
export type Statement =
  | { kind: 'laneOpen'; id: IToken; brace: IToken; label: IToken | undefined }
  | { kind: 'laneClose'; brace: IToken }
  | { kind: 'node'; id: IToken; shape: IToken; attributes: Attribute[] }
  | { kind: 'edge'; from: EdgeEnd; to: EdgeEnd; attributes: Attribute[] | undefined; closing: IToken | undefined }
  | { kind: 'loop'; keyword: IToken; condition: IToken; members: NodeRef[] };

/**
 * Chevrotain's own messages list every token sequence that could have come next; building
 * them cost 30 µs per bad line. The message here is only the expected token's name (or
 * nothing), which `expectationOf` turns into words.
 */
const expectedTokenOnly: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected }) => expected.name,
  buildNotAllInputParsedMessage: () => '',
  buildNoViableAltMessage: () => '',
  buildEarlyExitMessage: () => '',
};

/**
 * The grammar of one statement. The language is line-oriented, so the parser is fed one
 * line's tokens at a time: an error is confined to its line and parsing goes on at the next,
 * which is the re-synchronisation point chevrotain's recovery would look for anyway. Lane
 * nesting (`{` … `}`) is tracked across lines by the AST builder.
 *
 * Embedded actions rather than a CST and a visitor: on a 10,000-node file the CST alone took
 * five times as long as parsing with actions, most of it in allocation.
 */
class StatementParser extends EmbeddedActionsParser {
  constructor() {
    super(allTokens, { recoveryEnabled: false, maxLookahead: 3, errorMessageProvider: expectedTokenOnly });
    this.performSelfAnalysis();
  }

  public statement = this.RULE('statement', (): Statement => {
    return this.OR<Statement>([
      { ALT: () => this.SUBRULE(this.laneOpen) },
      { ALT: () => ({ kind: 'laneClose', brace: this.CONSUME(RBrace) }) },
      { ALT: () => this.SUBRULE(this.nodeDecl) },
      { ALT: () => this.SUBRULE(this.loop) },
      { ALT: () => this.SUBRULE(this.edge) },
    ]);
  });

  private laneOpen = this.RULE('laneOpen', (): Statement => {
    const id = this.CONSUME(Identifier);
    const brace = this.CONSUME(LBrace);
    const label = this.OPTION(() => this.CONSUME(LaneLabel));
    return { kind: 'laneOpen', id, brace, label };
  });

  private nodeDecl = this.RULE('nodeDecl', (): Statement => {
    const id = this.CONSUME(NodeId);
    this.CONSUME(Colon);
    const shape = this.CONSUME2(Identifier);
    const attributes: Attribute[] = [];
    this.MANY(() => {
      attributes.push(this.SUBRULE(this.attribute));
    });
    return { kind: 'node', id, shape, attributes };
  });

  private attribute = this.RULE('attribute', (): Attribute => {
    const key = this.CONSUME(Identifier);
    this.OR([{ ALT: () => this.CONSUME(Colon) }, { ALT: () => this.CONSUME(Equals) }]);
    const value = this.CONSUME(StringLiteral);
    return this.ACTION(() => ({
      key: key.image,
      keyRange: tokenRange(key),
      value: stringValue(value),
      valueRange: tokenRange(value),
    }));
  });

  private edge = this.RULE('edge', (): Statement => {
    const from = this.SUBRULE(this.edgeEnd);
    this.CONSUME(Arrow);
    const to = this.SUBRULE2(this.edgeEnd);
    let attributes: Attribute[] | undefined;
    let closing: IToken | undefined;
    this.OPTION(() => {
      this.CONSUME(LBracket);
      const list: Attribute[] = [];
      this.MANY_SEP({
        SEP: Comma,
        DEF: () => {
          list.push(this.SUBRULE2(this.attribute));
        },
      });
      closing = this.CONSUME(RBracket);
      attributes = list;
    });
    return { kind: 'edge', from, to, attributes, closing };
  });

  private edgeEnd = this.RULE('edgeEnd', (): EdgeEnd => {
    const ref = this.SUBRULE(this.nodeRef);
    const handle = this.OPTION(() => {
      this.CONSUME(Dot);
      this.CONSUME(Handle);
      this.CONSUME(LParen);
      const side = this.CONSUME3(Identifier);
      const close = this.CONSUME(RParen);
      return { side, close };
    });
    return this.ACTION((): EdgeEnd => {
      if (handle === undefined) return ref;
      const end: EdgeEnd = { node: ref.node, nodeRange: ref.nodeRange, range: spanning(ref.range, tokenRange(handle.close)) };
      if (ref.lane !== undefined) end.lane = ref.lane;
      end.side = handle.side.image;
      end.sideRange = tokenRange(handle.side);
      return end;
    });
  });

  private nodeRef = this.RULE('nodeRef', (): NodeRef => {
    const lane = this.OPTION(() => {
      const id = this.CONSUME4(Identifier);
      this.CONSUME2(Dot);
      return id;
    });
    const node = this.CONSUME(NodeId);
    return this.ACTION((): NodeRef => {
      const nodeRange = tokenRange(node);
      if (lane === undefined) return { node: node.image, nodeRange, range: nodeRange };
      const laneRange = tokenRange(lane);
      return { lane: { id: lane.image, range: laneRange }, node: node.image, nodeRange, range: spanning(laneRange, nodeRange) };
    });
  });

  private loop = this.RULE('loop', (): Statement => {
    const keyword = this.CONSUME(Loop);
    const condition = this.CONSUME(LoopCondition);
    const members: NodeRef[] = [];
    this.MANY(() => {
      members.push(this.SUBRULE2(this.nodeRef));
    });
    return { kind: 'loop', keyword, condition, members };
  });
}

/** One instance, reused: building a chevrotain parser is the expensive part. */
const parser = new StatementParser();

export type StatementParse = { statement: Statement; error?: undefined } | { statement?: undefined; error: StatementError };

export interface StatementError {
  /** The token where parsing went wrong; undefined at the end of the line. */
  token: IToken | undefined;
  expected: string;
}

const STATEMENT_STARTS = new Set([Identifier, Loop, Handle, NodeId, RBrace]);

export function parseStatement(tokens: IToken[]): StatementParse {
  // A line no statement can begin with is answered here: chevrotain's own answer works out
  // every path the line could have taken, which made a file of stray lines crawl.
  const [head] = tokens;
  if (head !== undefined && !STATEMENT_STARTS.has(head.tokenType)) {
    return { error: { token: head, expected: 'a lane, a node, an edge or a loop' } };
  }
  parser.input = tokens;
  // The parser signals a bad line with an exception it catches itself; capturing a stack
  // trace for each was a third of the time spent on a file full of mistakes.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let statement: Statement;
  try {
    statement = parser.statement();
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  const [first] = parser.errors;
  if (first === undefined) return { statement };
  const token = first.token.image === '' ? undefined : first.token;
  return { error: { token, expected: expectationOf(first) } };
}

/** The range of a token. Only newlines span lines, so the end is the start plus the length. */
export function tokenRange(token: IToken): Range {
  const length = token.image.length;
  return {
    start: { line: token.startLine!, column: token.startColumn!, offset: token.startOffset },
    end: { line: token.startLine!, column: token.startColumn! + length, offset: token.startOffset + length },
  };
}

/** The value of a string token: quotes removed, `\"` and `\\` unescaped. */
function stringValue(token: IToken): string {
  const image = token.image;
  const inner = token.tokenType === TerminatedString ? image.slice(1, -1) : image.slice(1);
  return inner.includes('\\') ? inner.replace(/\\(["\\])/g, '$1') : inner;
}

/** What the statement needed at the point of failure, in the user's words. */
function expectationOf(error: IRecognitionException): string {
  const rule = error.context.ruleStack[error.context.ruleStack.length - 1];
  if (error.name === 'NotAllInputParsedException') return 'the end of the line';
  if (rule === 'statement') return 'a lane, a node, an edge or a loop';
  return TOKEN_WORDS[error.message] ?? RULE_WORDS[rule ?? ''] ?? 'something else';
}


const TOKEN_WORDS: Record<string, string> = {
  Identifier: 'a name',
  NodeId: 'a node id like `n1`',
  Colon: '`:`',
  Equals: '`=`',
  Arrow: '`->`',
  Dot: '`.`',
  Handle: '`handle`',
  LParen: '`(`',
  RParen: '`)`',
  LBracket: '`[`',
  RBracket: '`]`',
  LBrace: '`{`',
  RBrace: '`}`',
  StringLiteral: 'a quoted string',
  LoopCondition: 'a condition in brackets, like `[retry up to 3 times]`',
};

const RULE_WORDS: Record<string, string> = {
  nodeDecl: 'a node declaration like `n1: rectangle label:"Step"`',
  attribute: 'an attribute like `label:"text"`',
  edge: 'an edge like `n1.handle(right) -> n2.handle(left)`',
  edgeEnd: 'an edge end like `n1.handle(right)`',
  nodeRef: 'a node id like `n1`',
  loop: 'a loop like `loop [retry up to 3 times] n1 n2`',
  laneOpen: 'a lane like `Billing { # Billing System`',
};
