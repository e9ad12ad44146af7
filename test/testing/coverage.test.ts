import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { coverageOf, percent } from '../../src/runtime/testing/coverage';
import { readScenarios } from '../../src/runtime/testing/scenario-file';
import { runScenarios } from '../../src/runtime/testing/suite';
import { repoRoot } from '../helpers/cases';
import { fixtureBindings, fixtureFlow, fixtures } from './helpers';

describe('coverage', () => {
  it('counts the nodes, edges and branches that refund.flow\'s two scenarios take, and the manager branch they miss', async () => {
    const flow = fixtureFlow('refund');
    const path = `${fixtures}/refund.scenarios.yaml`;
    const { scenarios } = readScenarios(path, readFileSync(`${repoRoot}${path}`, 'utf8'), flow);
    const results = await runScenarios({ flow, bindings: await fixtureBindings('refund') }, scenarios);
    const coverage = coverageOf(flow, results.map((r) => r.trace!));

    // 8 nodes, n6 never visited; 9 edges, the two through n6 never taken; 4 decision branches, n5's Yes never taken.
    expect(coverage.nodes).toEqual({ covered: 7, total: 8 });
    expect(coverage.edges).toEqual({ covered: 7, total: 9 });
    expect(coverage.branches).toEqual({ covered: 3, total: 4 });
    expect(percent(coverage.edges)).toBeCloseTo(77.78, 2);
    const uncovered = coverage.edgeItems.filter((item) => item.hits === 0);
    expect(uncovered.map((item) => [item.id, item.at.line, item.describe])).toEqual([
      ['n5->n6', 15, 'n5 "Amount over limit?" → n6 "Ask a manager" [Yes]'],
      ['n6->n4', 17, 'n6 "Ask a manager" → n4 "Refund card"'],
    ]);
    // Both scenarios pass n1->n2; only the first refunds to the card.
    expect(coverage.edgeItems.find((item) => item.id === 'n1->n2')!.hits).toBe(2);
    expect(coverage.edgeItems.find((item) => item.id === 'n4->n8')!.hits).toBe(1);
  });

  it('marks edges that nothing can reach as unreachable', () => {
    const flow = fixtureFlow('refund');
    const unreachable = { ...flow, edges: flow.edges.filter((edge) => edge.id !== 'n5->n6') };
    const coverage = coverageOf(unreachable, []);
    expect(coverage.edgeItems.find((item) => item.id === 'n6->n4')!.unreachable).toBe(true);
    expect(coverage.edgeItems.find((item) => item.id === 'n5->n4')!.unreachable).toBeUndefined();
  });
});
