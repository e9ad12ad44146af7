import { CstParser, type CstNode, type IToken } from 'chevrotain';
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
} from './tokens';

/**
 * The grammar of one statement. The language is line-oriented, so the parser is fed one
 * line's tokens at a time: an error is confined to its line and parsing goes on at the next,
 * which is the re-synchronisation point chevrotain's recovery would look for anyway.
 * Lane nesting (`{` … `}`) is tracked across lines by the AST builder.
 */
class StatementParser extends CstParser {
  constructor() {
    super(allTokens, { recoveryEnabled: false, maxLookahead: 3 });
    this.performSelfAnalysis();
  }

  public statement = this.RULE('statement', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.laneOpen) },
      { ALT: () => this.SUBRULE(this.laneClose) },
      { ALT: () => this.SUBRULE(this.nodeDecl) },
      { ALT: () => this.SUBRULE(this.loop) },
      { ALT: () => this.SUBRULE(this.edge) },
    ]);
  });

  private laneOpen = this.RULE('laneOpen', () => {
    this.CONSUME(Identifier);
    this.CONSUME(LBrace);
    this.OPTION(() => this.CONSUME(LaneLabel));
  });

  private laneClose = this.RULE('laneClose', () => {
    this.CONSUME(RBrace);
  });

  private nodeDecl = this.RULE('nodeDecl', () => {
    this.CONSUME(NodeId);
    this.CONSUME(Colon);
    this.CONSUME(Identifier, { LABEL: 'shape' });
    this.MANY(() => this.SUBRULE(this.attribute));
  });

  private attribute = this.RULE('attribute', () => {
    this.CONSUME(Identifier, { LABEL: 'key' });
    this.OR([{ ALT: () => this.CONSUME(Colon) }, { ALT: () => this.CONSUME(Equals) }]);
    this.CONSUME(StringLiteral, { LABEL: 'value' });
  });

  private edge = this.RULE('edge', () => {
    this.SUBRULE(this.edgeEnd, { LABEL: 'from' });
    this.CONSUME(Arrow);
    this.SUBRULE2(this.edgeEnd, { LABEL: 'to' });
    this.OPTION(() => this.SUBRULE(this.attributeList));
  });

  private edgeEnd = this.RULE('edgeEnd', () => {
    this.SUBRULE(this.nodeRef);
    this.OPTION(() => {
      this.CONSUME(Dot);
      this.CONSUME(Handle);
      this.CONSUME(LParen);
      this.CONSUME(Identifier, { LABEL: 'side' });
      this.CONSUME(RParen);
    });
  });

  private nodeRef = this.RULE('nodeRef', () => {
    this.OPTION(() => {
      this.CONSUME(Identifier, { LABEL: 'lane' });
      this.CONSUME(Dot);
    });
    this.CONSUME(NodeId);
  });

  private attributeList = this.RULE('attributeList', () => {
    this.CONSUME(LBracket);
    this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.attribute) });
    this.CONSUME(RBracket);
  });

  private loop = this.RULE('loop', () => {
    this.CONSUME(Loop);
    this.CONSUME(LoopCondition);
    this.MANY(() => this.SUBRULE(this.nodeRef));
  });
}

/** One instance, reused: building a chevrotain parser is the expensive part. */
const parser = new StatementParser();

export interface StatementParse {
  cst: CstNode | undefined;
  error: StatementError | undefined;
}

export interface StatementError {
  /** The token where parsing went wrong; undefined at the end of the line. */
  token: IToken | undefined;
  expected: string;
}

export function parseStatement(tokens: IToken[]): StatementParse {
  parser.input = tokens;
  const cst = parser.statement();
  const [first] = parser.errors;
  if (first === undefined) return { cst, error: undefined };
  const token = first.token.tokenType === undefined || first.token.image === '' ? undefined : first.token;
  return { cst: undefined, error: { token, expected: expectationOf(first) } };
}

/** What the statement needed at the point of failure, in the user's words. */
function expectationOf(error: { name: string; message: string; context: { ruleStack: string[] } }): string {
  const rule = error.context.ruleStack[error.context.ruleStack.length - 1];
  if (error.name === 'NotAllInputParsedException') return 'the end of the line';
  if (rule === 'statement') return 'a lane, a node, an edge or a loop';
  const expected = /Expecting (?:token of type )?--> (\w+) <--/.exec(error.message)?.[1];
  return (expected !== undefined ? TOKEN_WORDS[expected] : undefined) ?? RULE_WORDS[rule ?? ''] ?? 'something else';
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
  attributeList: 'an attribute like `label="text"`',
  loop: 'a loop like `loop [retry up to 3 times] n1 n2`',
  laneOpen: 'a lane like `Billing { # Billing System`',
};
