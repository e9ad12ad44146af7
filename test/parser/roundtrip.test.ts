import { describe, expect, it } from 'vitest';
import { checkSource, format, parse } from '../../src/index';
import { withoutPositions } from '../helpers/ast';
import { flowCases } from '../helpers/cases';
import { diagnosticCases } from '../helpers/diagnostic-cases';

const hasSyntaxErrors = (text: string) => parse('x.flow', text).diagnostics.some((d) => d.severity === 'error');

const cases = [
  ...flowCases('flows'),
  ...flowCases('test/testdata/parser'),
  ...Object.entries(diagnosticCases).map(([code, c]) => ({ path: `diagnostic case ${code}`, text: c.source })),
].filter((c) => !hasSyntaxErrors(c.text));

describe('format', () => {
  it('has cases from flows/, the parser goldens and the diagnostic cases', () => {
    expect(cases.length).toBeGreaterThan(30);
  });

  for (const c of cases) {
    it(`round-trips ${c.path}`, () => {
      const { ast } = parse(c.path, c.text);
      const formatted = format(ast);
      const reparsed = parse(c.path, formatted);
      expect(reparsed.diagnostics).toEqual([]);
      expect(withoutPositions(reparsed.ast)).toEqual(withoutPositions(ast));
      expect(format(reparsed.ast)).toBe(formatted);
    });
  }

  it('keeps the files in flows/ in canonical form', () => {
    for (const c of flowCases('flows')) expect(format(parse(c.path, c.text).ast), c.path).toBe(c.text);
  });

  it('prints lenient syntax canonically', () => {
    const text = 'A {#Lane A\n\tn2: circle label="Start"\nn2.handle(right)->n1.handle(left) [label:"go"]\nn1: circle label="End"\n}';
    expect(format(parse('x.flow', text).ast)).toBe(
      'A { # Lane A\n  n2: circle label:"Start"\n  n1: circle label:"End"\n\n  n2.handle(right) -> n1.handle(left) [label="go"]\n}\n',
    );
  });

  it('escapes quotes and backslashes so they read back the same', () => {
    const text = 'A {\n  n1: circle label:"say \\"hi\\" \\\\o/"\n}\n';
    const { ast } = parse('x.flow', text);
    expect(ast.lanes[0]!.nodes[0]!.attributes[0]!.value).toBe('say "hi" \\o/');
    expect(format(ast)).toBe(text);
  });
});

describe('format --renumber', () => {
  const text = [
    'A { # A',
    '  n10: circle label:"Start"',
    '  n4: rectangle label:"Work"',
    '  n10.handle(right) -> n4.handle(left)',
    '  n4.handle(bottom) -> B.n2.handle(top)',
    '}',
    'B { # B',
    '  n2: circle label:"End"',
    '  loop [twice] A.n4 n2',
    '}',
    '',
  ].join('\n');

  it('rewrites ids to n1..nN in declaration order, references included', () => {
    const renumbered = format(parse('x.flow', text).ast, { renumber: true });
    expect(renumbered).toContain('n1: circle label:"Start"');
    expect(renumbered).toContain('n2: rectangle label:"Work"');
    expect(renumbered).toContain('n3: circle label:"End"');
    expect(renumbered).toContain('n1.handle(right) -> n2.handle(left)');
    expect(renumbered).toContain('n2.handle(bottom) -> B.n3.handle(top)');
    expect(renumbered).toContain('loop [twice] A.n2 n3');
    const before = checkSource('x.flow', text);
    const after = checkSource('x.flow', renumbered);
    expect(before.diagnostics.map((d) => d.code)).toEqual(['FZ310']);
    expect(after.diagnostics).toEqual([]);
    expect(after.flow!.edges.map((e) => e.id)).toEqual(['n1->n2', 'n2->n3']);
  });
});
