import { describe, expect, it } from 'vitest';
import { formatFailure } from '../../src/runtime/testing/format';
import { readScenarios } from '../../src/runtime/testing/scenario-file';
import { fixtureFlow, runYaml } from './helpers';

describe('scenario runner', () => {
  it('passes a scenario whose expectations hold', async () => {
    const [result] = await runYaml(
      'refund',
      `scenarios:
  - name: small refund
    input: { order: ord_1, amountCents: 2500, ageDays: 3 }
    expect:
      path: [n1, n2, "Within 30 days?", n5, Refund card, Done]
      end: Done
      status: completed
      data: { refund: { via: card, amountCents: 2500 } }
      effects: [{ kind: refund, payload: { order: ord_1 }, count: 1 }]
`,
    );
    expect(result!.failures).toEqual([]);
    expect(result!.status).toBe('passed');
    expect(result!.trace!.edges).toEqual(['n1->n2', 'n2->n3', 'n3->n5', 'n5->n4', 'n4->n8']);
  });

  it('names the node, its line in the .flow file and the expectation that failed', async () => {
    const [result] = await runYaml(
      'refund',
      `scenarios:
  - name: big refund expected without a manager
    input: { order: ord_9, amountCents: 50000, ageDays: 3 }
    expect:
      path: [n1, n2, n3, n5, n4, n8]
      data:
        refund: { via: credit }
`,
    );
    expect(result!.status).toBe('failed');
    const [path, data] = result!.failures;
    expect(path!.expectation).toBe('path');
    // The path went astray at the decision on line 6 of refund.flow, which chose "Yes".
    expect(path!.node).toEqual({ id: 'n5', label: 'Amount over limit?', at: { path: 'test/testing/fixtures/refund.flow', line: 6, column: 3 } });
    expect(path!.message).toContain('step 5 of the path went to n6 "Ask a manager" instead of n4 "Refund card" after n5 "Amount over limit?" chose "Yes"');
    expect(path!.at).toEqual({ path: 'test/testing/fixtures/refund.scenarios.yaml', line: 5, column: 7 });

    expect(data!.expectation).toBe('data.refund.via');
    expect(data!.node?.id).toBe('n4');
    expect(data!.at?.line).toBe(7);
    const text = formatFailure(data!);
    expect(text).toBe(
      [
        'expect.data.refund.via (test/testing/fixtures/refund.scenarios.yaml:7:19): expected data.refund.via to be "credit", got "card" (last written by n4 "Refund card")',
        '  at n4 "Refund card" (test/testing/fixtures/refund.flow:5:3)',
        '     5 |   n4: rectangle label:"Refund card"',
      ].join('\n'),
    );
  });

  it('points a status failure at the node where the instance failed', async () => {
    const [result] = await runYaml(
      'refund',
      `scenarios:
  - name: the order lookup fails
    input: { amountCents: 100, ageDays: 1 }
    expect:
      end: Done
`,
    );
    const [status, end] = result!.failures;
    expect(status!.expectation).toBe('status');
    expect(status!.message).toBe('expected status "completed", got "failed": failed at n2 "Look up order" with Error: no order number');
    expect(status!.node?.at.line).toBe(3);
    expect(end!.message).toContain('no end was reached');
  });

  it('answers handler runs with scripted outcomes per attempt, through the retry policy', async () => {
    const [result] = await runYaml(
      'refund',
      `scenarios:
  - name: the card refund times out twice, then runs
    input: { order: ord_3, amountCents: 50000, ageDays: 3 }
    outcomes:
      Amount over limit?: No
      Refund card:
        - { throw: GatewayTimeout, times: 2 }
        - run
    expect:
      avoids: [Ask a manager]
      attempts: { Refund card: 3 }
      visits: { Refund card: 1 }
      effects: [{ kind: refund, count: 1 }]
      # The default retry policy waits 1 s, then 2 s, on the virtual clock.
      elapsed: 3s
`,
    );
    expect(result!.failures).toEqual([]);
  });

  it('lets a scripted step return a patch and effects instead of its handler', async () => {
    const [result] = await runYaml(
      'refund',
      `scenarios:
  - name: manager scripted
    input: { order: ord_4, amountCents: 50000, ageDays: 3 }
    outcomes:
      Ask a manager: { return: { approvedBy: grace }, emit: [{ kind: approval, payload: { by: grace } }] }
    expect:
      data: { approvedBy: grace }
      effects: [{ kind: approval, payload: { by: grace }, count: 1 }]
`,
    );
    expect(result!.failures).toEqual([]);
  });

  it('reports scenario file mistakes with their line', () => {
    const { problems } = readScenarios(
      'x.scenarios.yaml',
      `scenarios:
  - name: typo
    outcomes:
      Within 30 day?: Maybe
      Amount over limit?: Perhaps
    expect:
      stauts: completed
`,
      fixtureFlow('refund'),
    );
    expect(problems.map((p) => `${p.at.line}:${p.at.column} ${p.message}`)).toEqual([
      '4:7 test/testing/fixtures/refund.flow has no node "Within 30 day?" (did you mean `Within 30 days?`?)',
      '5:27 n5 "Amount over limit?" has no branch "Perhaps"; its labels are "Yes", "No"',
      '7:7 unknown key `stauts` in `expect:` (did you mean `status`?); the keys are path, through, avoids, end, status, error, data, effects, visits, attempts, elapsed',
    ]);
  });

  it('fails a scenario whose expectation cannot be read, at its line, instead of running it without', async () => {
    const flow = fixtureFlow('refund');
    const { scenarios, problems } = readScenarios(
      'x.scenarios.yaml',
      `scenarios:
  - name: compound elapsed
    input: { order: ord_1, amountCents: 2500, ageDays: 3 }
    expect:
      end: Done
      elapsed: 8d 90s
  - name: fine
    input: { order: ord_1, amountCents: 2500, ageDays: 3 }
`,
      flow,
    );
    const message = '`elapsed: 8d 90s` is not a duration: a duration is one number and one unit (ms, s, m, h, d or w); write 691290s';
    expect(problems.map((p) => `${p.at.line}:${p.at.column} ${p.message}`)).toEqual([`6:16 ${message}`]);
    const { runScenarios } = await import('../../src/runtime/testing/suite');
    expect(scenarios.map((s) => s.problems?.length ?? 0)).toEqual([1, 0]);
    const [bad] = await runScenarios({ flow }, scenarios.slice(0, 1));
    expect(bad!.status).toBe('failed');
    expect(bad!.trace).toBeUndefined();
    expect(bad!.failures).toEqual([{ expectation: 'scenario-file', message, at: { path: 'x.scenarios.yaml', line: 6, column: 16 } }]);
  });

  it('names a signal\'s bad `after:` the same way', () => {
    const { problems } = readScenarios('x.scenarios.yaml', `scenarios:\n  - name: s\n    signals:\n      - { name: go, after: 1h 30m }\n`, fixtureFlow('refund'));
    expect(problems.map((p) => `${p.at.line}:${p.at.column} ${p.message}`)).toEqual([
      '4:28 `after: 1h 30m` is not a duration: a duration is one number and one unit (ms, s, m, h, d or w); write 90m',
    ]);
  });

  it('stops a scenario that goes round a cycle for ever', async () => {
    const flow = fixtureFlow('retry-loop');
    const { scenarios } = readScenarios('loop.scenarios.yaml', `scenarios:\n  - name: never works\n    outcomes:\n      Worked?: No\n`, flow);
    const { runScenarios } = await import('../../src/runtime/testing/suite');
    // Without bindings every step passes; the loop's bound ends the cycle as a failure.
    const [result] = await runScenarios({ flow }, scenarios);
    expect(result!.trace!.error?.name).toBe('laneflow.LoopExhausted');
    expect(result!.failures[0]!.message).toContain('failed at n2 "Try" with laneflow.LoopExhausted');
  });
});

describe('subsetDifferences', () => {
  it('compares only the keys expected, arrays whole, and takes null for a deleted key', async () => {
    const { subsetDifferences } = await import('../../src/runtime/testing/expect');
    expect(subsetDifferences({ a: { b: 1 }, gone: null }, { a: { b: 1, c: 2 }, other: true }, 'data')).toEqual([]);
    expect(subsetDifferences({ list: [{ id: 1 }] }, { list: [{ id: 1 }, { id: 2 }] }, 'data')).toEqual([{ path: 'data.list', expected: [{ id: 1 }], actual: [{ id: 1 }, { id: 2 }] }]);
    expect(subsetDifferences({ a: { b: 1 } }, { a: { b: 2 } }, 'data')).toEqual([{ path: 'data.a.b', expected: 1, actual: 2 }]);
    expect(subsetDifferences({ a: 0 }, {}, 'data')).toEqual([{ path: 'data.a', expected: 0, actual: undefined }]);
  });
});

describe('scenario databases', () => {
  it('runs the same on a temporary SQLite file as in memory, and removes the file', async () => {
    const { readdirSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { runScenario } = await import('../../src/runtime/testing/run');
    const { fixtureBindings } = await import('./helpers');
    const flow = fixtureFlow('dunning');
    const { scenarios } = readScenarios('d.scenarios.yaml', 'scenarios:\n  - name: thirty days\n    input: { customer: c, cardWorks: false }\n', flow);
    const target = { flow, bindings: await fixtureBindings('dunning') };
    const before = readdirSync(tmpdir()).filter((name) => name.startsWith('laneflow-test-')).length;
    const onFile = await runScenario(target, scenarios[0]!, { database: 'file' });
    const inMemory = await runScenario(target, scenarios[0]!, { database: 'memory' });
    expect(onFile.trace!.path).toEqual(inMemory.trace!.path);
    expect(onFile.trace!.effects).toEqual(inMemory.trace!.effects);
    expect(onFile.trace!.updatedAt - onFile.trace!.startedAt).toBe(30 * 86_400_000);
    expect(readdirSync(tmpdir()).filter((name) => name.startsWith('laneflow-test-')).length).toBe(before);
  });
});

describe('readScenarioHeader', () => {
  it('finds the flow beside the file, or where `flow:` and `bindings:` say, relative or absolute', async () => {
    const { readScenarioHeader } = await import('../../src/runtime/testing/scenario-file');
    expect(readScenarioHeader('flows/x.scenarios.yaml', 'scenarios: []\n')).toMatchObject({ flowPath: 'flows/x.flow', problems: [] });
    expect(readScenarioHeader('tests/x.scenarios.yaml', 'flow: ../flows/y.flow\nbindings: y.bindings.ts\nscenarios: []\n')).toMatchObject({ flowPath: 'flows/y.flow', bindingsPath: 'tests/y.bindings.ts' });
    expect(readScenarioHeader('tests/x.scenarios.yaml', 'flow: /srv/flows/z.flow\nscenarios: []\n').flowPath).toBe('/srv/flows/z.flow');
  });
});
