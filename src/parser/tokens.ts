import { createToken, Lexer, type CustomPatternMatcherFunc, type TokenType } from 'chevrotain';

// Keywords come before Identifier and name it as their longer alternative, so `loops` or
// `handler` stay identifiers. They also belong to Identifier's category: a lane may be
// called `loop`.
export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/ });
export const Loop = createToken({
  name: 'Loop',
  pattern: /loop/,
  longer_alt: Identifier,
  categories: [Identifier],
});
export const Handle = createToken({
  name: 'Handle',
  pattern: /handle/,
  longer_alt: Identifier,
  categories: [Identifier],
});
// Only a whole word `n<digits>` is a node id: `n8nTrigger` is a lane id.
export const NodeId = createToken({ name: 'NodeId', pattern: /n[0-9]+/, longer_alt: Identifier });

// One token for a run of line breaks and blank lines: a file of a million empty lines is a
// million fewer tokens.
export const Newline = createToken({ name: 'Newline', pattern: /(?:\r\n|\r|\n)(?:[ \t]*(?:\r\n|\r|\n))*/, line_breaks: true });
export const WhiteSpace = createToken({
  name: 'WhiteSpace',
  pattern: /[ \t\f\v\u00a0\ufeff]+/,
  group: Lexer.SKIPPED,
});
export const Comment = createToken({ name: 'Comment', pattern: /\/\/[^\r\n]*/, group: 'comments' });
/** `# Display label` after a lane's `{`: everything to the end of the line. */
export const LaneLabel = createToken({ name: 'LaneLabel', pattern: /#[^\r\n]*/ });

/** Either kind of string: the parser accepts both, the AST builder reports the unterminated one. */
export const StringLiteral = createToken({ name: 'StringLiteral', pattern: Lexer.NA });
export const TerminatedString = createToken({
  name: 'TerminatedString',
  pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*"/,
  categories: [StringLiteral],
});
export const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*\\?/,
  categories: [StringLiteral],
});

const loopConditionPattern = /\[[^\]\r\n]*\]?/y;
/**
 * `[retry up to 5 times]` is free prose, so it is one token, lexed only right after `loop`:
 * an edge's `[label="…"]` is ordinary tokens.
 */
const matchLoopCondition: CustomPatternMatcherFunc = (text, offset, tokens) => {
  const previous = tokens[tokens.length - 1];
  if (previous === undefined || previous.tokenType !== Loop) return null;
  loopConditionPattern.lastIndex = offset;
  return loopConditionPattern.exec(text);
};
export const LoopCondition = createToken({
  name: 'LoopCondition',
  pattern: { exec: matchLoopCondition },
  start_chars_hint: ['['],
  line_breaks: false,
});

export const Arrow = createToken({ name: 'Arrow', pattern: /->/ });
export const Colon = createToken({ name: 'Colon', pattern: /:/ });
export const Equals = createToken({ name: 'Equals', pattern: /=/ });
export const Dot = createToken({ name: 'Dot', pattern: /\./ });
export const Comma = createToken({ name: 'Comma', pattern: /,/ });
export const LParen = createToken({ name: 'LParen', pattern: /\(/ });
export const RParen = createToken({ name: 'RParen', pattern: /\)/ });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/ });
export const RBracket = createToken({ name: 'RBracket', pattern: /]/ });
export const LBrace = createToken({ name: 'LBrace', pattern: /{/ });
export const RBrace = createToken({ name: 'RBrace', pattern: /}/ });

export const allTokens: TokenType[] = [
  Newline,
  WhiteSpace,
  Comment,
  LaneLabel,
  StringLiteral,
  TerminatedString,
  UnterminatedString,
  LoopCondition,
  Arrow,
  Loop,
  Handle,
  NodeId,
  Identifier,
  Colon,
  Equals,
  Dot,
  Comma,
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
];

// Tokens carry only their start: none but newlines spans lines, so the end follows from the
// length, and a lighter token costs less to keep for a 10,000-node file.
export const flowLexer = new Lexer(allTokens, {
  positionTracking: 'onlyStart',
  ensureOptimizations: true,
});
