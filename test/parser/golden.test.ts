import { describe, expect, it } from 'vitest';
import { checkSource } from '../../src/index';
import type { Range } from '../../src/lib/diagnostics';
import type { FlowFile, NodeDecl } from '../../src/parser/types';
import { rangeProblem } from '../helpers/ast';
import { flowCases, testdata } from '../helpers/cases';
import { expectGolden, toJson } from '../helpers/golden';

// Each case's syntax tree and its diagnostics from every stage, against
// test/testdata/parser/<case>.exp.json. ACCEPT=1 re-blesses. Of flows/, the two seed diagrams
// only: a flow added there needs no golden (the round-trip and property tests take every one).
// Beside the golden, what a re-blessed golden could not hide: every diagnostic's range is valid
// and every id, shape and node reference in the tree is the text at its range.
const SEED_FLOWS = ['flows/plan-upgrade.flow', 'flows/webhook-integration.flow'];

function allNodes(ast: FlowFile): NodeDecl[] {
  return [...ast.nodes, ...ast.lanes.flatMap((lane) => lane.nodes)];
}

/** Each named piece of the tree beside the text its range covers, where the two differ. */
function misplaced(text: string, ast: FlowFile): string[] {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const at = (range: Range) => source.slice(range.start.offset, range.end.offset);
  const pieces: Array<[string, Range]> = [
    ...ast.lanes.map((lane): [string, Range] => [lane.id, lane.idRange]),
    ...allNodes(ast).flatMap((node): Array<[string, Range]> => [[node.id, node.idRange], [node.shape, node.shapeRange]]),
    ...[...ast.edges, ...ast.lanes.flatMap((lane) => lane.edges)].flatMap((edge): Array<[string, Range]> => [
      [edge.from.node, edge.from.nodeRange],
      [edge.to.node, edge.to.nodeRange],
    ]),
  ];
  return pieces.filter(([name, range]) => at(range) !== name).map(([name, range]) => `${name} at ${range.start.line}:${range.start.column} is "${at(range)}"`);
}

describe('parser goldens', () => {
  for (const c of [...flowCases('test/testdata/parser'), ...flowCases('flows').filter((f) => SEED_FLOWS.includes(f.path))]) {
    it(c.path, () => {
      const { ast, diagnostics } = checkSource(c.path, c.text);
      expect(diagnostics.map((d) => rangeProblem(c.text, d)).filter((problem) => problem !== undefined)).toEqual([]);
      expect(allNodes(ast).length, 'the tree holds nodes').toBeGreaterThan(0);
      expect(misplaced(c.text, ast)).toEqual([]);
      expectGolden(`${testdata}parser/${c.name}.exp.json`, toJson({ ast, diagnostics }));
    });
  }
});
