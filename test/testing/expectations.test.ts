import { describe, expect, it } from 'vitest';
import type { ExpectationFailure } from '../../src/runtime/testing/types';
import { readScenarios } from '../../src/runtime/testing/scenario-file';
import { fixtureFlow, runYaml } from './helpers';

// Every kind of expectation, seen failing: each case is a scenario whose expectations all hold
// but one, which is wrong, so the run must fail with that expectation's own message and nothing
// else. The holding versions are run first, so a failure below is the wrong line's doing.

/** A card refund that times out twice, then runs: 3 attempts, 3 s of retry waits. */
const CARD = `    input: { order: ord_3, amountCents: 50000, ageDays: 3 }
    outcomes:
      Amount over limit?: No
      Refund card:
        - { throw: GatewayTimeout, times: 2 }
        - run
    expect:
`;
const CARD_HOLDS: Record<string, string> = {
  path: '[n1, n2, n3, n5, n4, n8]',
  end: 'Done',
  status: 'completed',
  through: '[Refund card, Done]',
  avoids: '[Ask a manager]',
  attempts: '{ Refund card: 3 }',
  visits: '{ Refund card: 1 }',
  elapsed: '3s',
  effects: '[{ kind: refund, payload: { order: ord_3 }, count: 1 }]',
  data: '{ refund: { via: card, amountCents: 50000 } }',
};

/** An order lookup that throws: the instance fails at n2 and reaches no end. */
const LOOKUP = `    input: { amountCents: 100, ageDays: 1 }
    expect:
`;
const LOOKUP_HOLDS: Record<string, string> = {
  error: '{ name: Error, message: no order number }',
  status: 'failed',
};

function scenario(name: string, body: string, expectations: Record<string, string>): string {
  const lines = Object.entries(expectations).map(([key, value]) => `      ${key}: ${value}\n`);
  return `scenarios:\n  - name: ${name}\n${body}${lines.join('')}`;
}

async function failuresOf(body: string, expectations: Record<string, string>): Promise<{ status: string; failures: ExpectationFailure[] }> {
  const [result] = await runYaml('refund', scenario('one wrong expectation', body, expectations));
  return { status: result!.status, failures: result!.failures };
}

const WRONG: Array<{ kind: string; body: string; holds: Record<string, string>; value: string; expectation: string; message: string }> = [
  {
    kind: 'attempts',
    body: CARD,
    holds: CARD_HOLDS,
    value: '{ Refund card: 2 }',
    expectation: 'attempts.n4',
    message: 'expected n4 "Refund card"\'s handler to run 2 times, it ran 3 times',
  },
  {
    kind: 'visits',
    body: CARD,
    holds: CARD_HOLDS,
    value: '{ Refund card: 2 }',
    expectation: 'visits.n4',
    message: 'expected n4 "Refund card" to be visited 2 times, it was visited once',
  },
  {
    kind: 'elapsed',
    body: CARD,
    holds: CARD_HOLDS,
    value: '2s',
    expectation: 'elapsed',
    message: 'expected 2s of virtual time from start to finish, took 3s',
  },
  {
    kind: 'effects',
    body: CARD,
    holds: CARD_HOLDS,
    value: '[{ kind: refund, count: 2 }]',
    expectation: 'effects[0]',
    message: 'expected 2 "refund" effects, got 1',
  },
  {
    kind: 'through',
    body: CARD,
    holds: CARD_HOLDS,
    value: '[Refund card, Amount over limit?]',
    expectation: 'through',
    message:
      'expected the path to pass n5 "Amount over limit?" after n4 "Refund card", but it did not (it visited it only before n4 "Refund card"); actual path: n1 → n2 → n3 → n5 → n4 → n8',
  },
  {
    kind: 'avoids',
    body: CARD,
    holds: CARD_HOLDS,
    value: '[Refund card]',
    expectation: 'avoids',
    message: 'expected the path never to visit n4 "Refund card", but step 5 did',
  },
  {
    kind: 'data',
    body: CARD,
    holds: CARD_HOLDS,
    value: '{ refund: { via: card, amountCents: 5000 } }',
    expectation: 'data.refund.amountCents',
    message: 'expected data.refund.amountCents to be 5000, got 50000 (last written by n4 "Refund card")',
  },
  {
    kind: 'path',
    body: CARD,
    holds: CARD_HOLDS,
    value: '[n1, n2, n3, n5, n6, n4, n8]',
    expectation: 'path',
    message: [
      'step 5 of the path went to n4 "Refund card" instead of n6 "Ask a manager" after n5 "Amount over limit?" chose "No"',
      '    expected path: n1 → n2 → n3 → n5 → n6 → n4 → n8',
      '    actual path:   n1 → n2 → n3 → n5 → n4 → n8',
    ].join('\n'),
  },
  {
    kind: 'end',
    body: LOOKUP,
    holds: LOOKUP_HOLDS,
    value: 'Done',
    expectation: 'end',
    message: 'expected to end at n8 "Done"; no end was reached (failed at n2 "Look up order" with Error: no order number)',
  },
  {
    kind: 'status',
    body: CARD,
    holds: CARD_HOLDS,
    value: 'running',
    expectation: 'status',
    message: 'expected status "running", got "completed": completed at n8 "Done"',
  },
  {
    kind: 'error',
    body: LOOKUP,
    holds: LOOKUP_HOLDS,
    value: '{ name: TypeError, message: no order number }',
    expectation: 'error',
    message: 'expected TypeError with a message containing "no order number", got Error: no order number',
  },
];

describe('scenario expectations', () => {
  it('hold, every kind of them, on the scenarios the wrong ones are made from', async () => {
    expect(await failuresOf(CARD, CARD_HOLDS)).toEqual({ status: 'passed', failures: [] });
    expect(await failuresOf(LOOKUP, LOOKUP_HOLDS)).toEqual({ status: 'passed', failures: [] });
  });

  it('cover every kind the scenario file accepts', () => {
    // The keys as the scenario file lists them to a user who wrote an unknown one.
    const { problems } = readScenarios('x.scenarios.yaml', 'scenarios:\n  - name: s\n    expect:\n      nonsense: 1\n', fixtureFlow('refund'));
    const accepted = /the keys are (.*)$/.exec(problems[0]?.message ?? '')?.[1]?.split(', ');
    expect(accepted).toBeDefined();
    expect([...new Set(WRONG.map((w) => w.kind))].sort()).toEqual([...accepted!].sort());
  });

  for (const wrong of WRONG) {
    it(`fail the scenario on a wrong \`${wrong.kind}:\`, with its own message`, async () => {
      const { status, failures } = await failuresOf(wrong.body, { ...wrong.holds, [wrong.kind]: wrong.value });
      expect(status).toBe('failed');
      expect(failures.map((f) => ({ expectation: f.expectation, message: f.message }))).toEqual([{ expectation: wrong.expectation, message: wrong.message }]);
    });
  }
});
