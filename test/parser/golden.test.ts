import { describe, it } from 'vitest';
import { checkSource } from '../../src/index';
import { flowCases, testdata } from '../helpers/cases';
import { expectGolden, toJson } from '../helpers/golden';

// Each case's syntax tree and its diagnostics from every stage, against
// test/testdata/parser/<case>.exp.json. ACCEPT=1 re-blesses. Of flows/, the two seed diagrams
// only: a flow added there needs no golden (the round-trip and property tests take every one).
const SEED_FLOWS = ['flows/plan-upgrade.flow', 'flows/webhook-integration.flow'];

describe('parser goldens', () => {
  for (const c of [...flowCases('test/testdata/parser'), ...flowCases('flows').filter((f) => SEED_FLOWS.includes(f.path))]) {
    it(c.path, () => {
      const { ast, diagnostics } = checkSource(c.path, c.text);
      expectGolden(`${testdata}parser/${c.name}.exp.json`, toJson({ ast, diagnostics }));
    });
  }
});
