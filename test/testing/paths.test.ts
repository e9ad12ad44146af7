import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { flowPaths } from '../../src/compiler/paths';
import { checkSource } from '../../src/index';
import { repoRoot } from '../helpers/cases';
import { fixtureFlow } from './helpers';

function flowAt(path: string) {
  return checkSource(path, readFileSync(`${repoRoot}${path}`, 'utf8')).flow!;
}

describe('flowPaths', () => {
  it('bounds a declared loop by its iteration bound', () => {
    // "up to 3 times" over n2 n3 n4: the token may enter n2 three times, so "Worked?" says
    // Yes on the first, second or third try; a fourth entry is where the loop runs out.
    const { paths, loopBounds, truncated } = flowPaths(fixtureFlow('retry-loop'));
    expect(loopBounds).toEqual({ loop1: 3 });
    expect(truncated).toBe(false);
    expect(paths.map((p) => [p.nodes.join(' '), p.outcome.kind])).toEqual([
      ['n1 n2 n3 n5', 'end'],
      ['n1 n2 n3 n4 n2 n3 n5', 'end'],
      ['n1 n2 n3 n4 n2 n3 n4 n2 n3 n5', 'end'],
      ['n1 n2 n3 n4 n2 n3 n4 n2 n3 n4 n2', 'loop-exhausted'],
    ]);
    expect(paths[1]!.decisions).toEqual([
      { node: 'n3', label: 'No' },
      { node: 'n3', label: 'Yes' },
    ]);
    expect(paths[1]!.edges).toEqual(['n1->n2', 'n2->n3', 'n3->n4', 'n4->n2', 'n2->n3', 'n3->n5']);
  });

  it('takes a binding\'s bound over the flow\'s', () => {
    const { paths } = flowPaths(fixtureFlow('retry-loop'), { loopBounds: { loop1: 1 } });
    expect(paths.map((p) => p.outcome.kind)).toEqual(['end', 'loop-exhausted']);
  });

  it('counts webhook-integration.flow\'s paths: the retry loop allows five retries', () => {
    // From n4: a valid signature reaches n7 through the event processor (A), or a 401 meets
    // "Response 2xx?" which says Yes (B) or No and goes round the loop. With k retries left
    // P(k) = 2 + P(k-1), and P(0) = 2 + 1 (the loop running out): P(5) = 13.
    const { paths } = flowPaths(flowAt('flows/webhook-integration.flow'));
    expect(paths).toHaveLength(13);
    expect(paths.filter((p) => p.outcome.kind === 'end')).toHaveLength(12);
    expect(paths.filter((p) => p.outcome.kind === 'loop-exhausted').map((p) => p.nodes.filter((n) => n === 'n15').length)).toEqual([6]);
  });

  it('follows a cycle that no loop bounds once around', () => {
    // plan-upgrade.flow: credit Yes or No (2) times, from "Enter payment details": paid at once,
    // or one trip back by "Try again" or by "Retry" and then paid (3): 6 paths.
    const { paths, unboundedCycleNodes } = flowPaths(flowAt('flows/plan-upgrade.flow'));
    expect(paths).toHaveLength(6);
    expect(paths.every((p) => p.outcome.kind === 'end' && p.outcome.node === 'n6')).toBe(true);
    expect(unboundedCycleNodes).toEqual(['n4', 'n12', 'n13', 'n14', 'n15', 'n16', 'n18']);
  });

  it('stops at maxPaths and says so', () => {
    const result = flowPaths(flowAt('flows/webhook-integration.flow'), { maxPaths: 5 });
    expect(result.paths).toHaveLength(5);
    expect(result.truncated).toBe(true);
  });
});
