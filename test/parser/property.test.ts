import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkSource, format, parse } from '../../src/index';
import { rangeProblem, withoutPositions } from '../helpers/ast';
import { flowCases } from '../helpers/cases';

const seeds = [...flowCases('flows'), ...flowCases('test/testdata/parser')].map((c) => c.text);

/** Fragments that push the parser into its corners when spliced into real files. */
const fragments = ['{', '}', '"', '\\"', '->', '[', ']', '(', ')', ':', '=', '.', 'n1', 'n99', 'loop', 'handle', '.handle(', 'left', '#', '//', '\n', '\r\n', '\t', ' ', 'é', '→', '\u0000', 'Lane {', 'n7: diamond label:"?"', '[label="x"]'];

function assertSound(text: string): void {
  const result = checkSource('fuzz.flow', text);
  const problems = result.diagnostics.flatMap((d) => {
    const problem = rangeProblem(text, d);
    return problem === undefined ? [] : [`${d.code} ${d.message}: ${problem}`];
  });
  expect(problems, JSON.stringify(text)).toEqual([]);
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(...fragments) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('unicode' as const), at: fc.nat(), text: fc.string({ unit: 'grapheme', maxLength: 5 }) }),
);

interface Mutation {
  kind: 'insert' | 'delete' | 'unicode';
  at: number;
  text?: string;
  length?: number;
}

function mutate(text: string, mutations: Mutation[]): string {
  let out = text;
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % (out.length + 1);
    out = m.kind === 'delete' ? out.slice(0, at) + out.slice(at + (m.length ?? 1)) : out.slice(0, at) + (m.text ?? '') + out.slice(at);
  }
  return out;
}

describe('the parser and validator never throw, and every diagnostic has a valid range', () => {
  it('on arbitrary text', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => assertSound(text)), { numRuns: 300 });
  });

  it('on random token streams', () => {
    const stream = fc.array(fc.constantFrom(...fragments), { maxLength: 120 }).map((parts) => parts.join(' '));
    fc.assert(fc.property(stream, (text) => assertSound(text)), { numRuns: 300 });
  });

  it('on mutated real flows', () => {
    const mutated = fc
      .tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 8 }))
      .map(([seed, mutations]) => mutate(seed, mutations));
    fc.assert(fc.property(mutated, (text) => assertSound(text)), { numRuns: 300 });
  });
});

describe('formatting any text that parses cleanly', () => {
  it('gives back the same tree', () => {
    const mutated = fc
      .tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 3 }))
      .map(([seed, mutations]) => mutate(seed, mutations))
      .filter((text) => !parse('x.flow', text).diagnostics.some((d) => d.severity === 'error'));
    fc.assert(
      fc.property(mutated, (text) => {
        const { ast } = parse('x.flow', text);
        expect(withoutPositions(parse('x.flow', format(ast)).ast)).toEqual(withoutPositions(ast));
      }),
      { numRuns: 200 },
    );
  });
});
