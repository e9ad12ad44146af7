import { describe, it } from 'vitest';
import { checkSource } from '../../src/index';
import { flowCases, testdata } from '../helpers/cases';
import { expectGolden, toJson } from '../helpers/golden';

// Each case's syntax tree and its diagnostics from every stage, against
// test/testdata/parser/<case>.exp.json. ACCEPT=1 re-blesses.
describe('parser goldens', () => {
  for (const c of [...flowCases('test/testdata/parser'), ...flowCases('flows')]) {
    it(c.path, () => {
      const { ast, diagnostics } = checkSource(c.path, c.text);
      expectGolden(`${testdata}parser/${c.name}.exp.json`, toJson({ ast, diagnostics }));
    });
  }
});
