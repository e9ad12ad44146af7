import { describe, expect, it } from 'vitest';
import { checkSource, parse } from '../../src/index';
import { MAX_ERRORS } from '../../src/parser/parse';
import { rangeProblem } from '../helpers/ast';

// Large files are lexed in pieces; positions must come out as if lexed whole.
describe('a file larger than one lexing chunk', () => {
  // A stray `$` in every fifth lane: 800 errors, under the error limit.
  const block = (i: number) =>
    [`Lane${i} { # Lane ${i}`, `  n${2 * i + 1}: circle label:"Start ${i}"`, `  // note ${i}`, `  n${2 * i + 2}: circle label:"End ${i}"${i % 5 === 0 ? ' $' : ''}`, `  n${2 * i + 1} -> n${2 * i + 2}`, '}'];
  const blocks = Array.from({ length: 4000 }, (_, i) => block(i));
  const lines = blocks.flat();

  for (const [name, eol] of [['LF', '\n'], ['CRLF', '\r\n']] as const) {
    it(`keeps every position exact with ${name} line endings`, () => {
      const text = lines.join(eol);
      expect(text.length).toBeGreaterThan(3 * 64 * 1024);
      const { ast, diagnostics } = parse('big.flow', text);
      expect(ast.lanes).toHaveLength(4000);
      expect(diagnostics.map((d) => [d.code, d.range.start.line, d.range.start.column])).toEqual(
        blocks.flatMap((_, i) => (i % 5 === 0 ? [['FZ100', i * 6 + 4, block(i)[3]!.length]] : [])),
      );
      for (const d of diagnostics) expect(rangeProblem(text, d)).toBeUndefined();
      const last = ast.lanes[3999]!;
      expect(last.nodes[1]!.comments).toEqual(['note 3999']);
      expect(last.range.end.line).toBe(lines.length);
      expect(text.slice(last.nodes[0]!.idRange.start.offset, last.nodes[0]!.idRange.end.offset)).toBe('n7999');
    });
  }
});

describe('a file of garbage', () => {
  it('stops at the error limit with one diagnostic saying so, and is not validated', () => {
    const text = Array.from({ length: 5000 }, (_, i) => `{ stray line ${i}`).join('\n');
    const { diagnostics, flow } = checkSource('garbage.flow', text);
    expect(diagnostics.filter((d) => d.severity === 'error')).toHaveLength(MAX_ERRORS + 1);
    expect(diagnostics.at(-1)).toMatchObject({ code: 'FZ107', range: { start: { line: MAX_ERRORS } } });
    expect(diagnostics.some((d) => d.code === 'FZ210')).toBe(false);
    expect(flow).toBeUndefined();
  });
});
