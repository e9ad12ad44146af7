import { describe, expect, it } from 'vitest';
import { runFlow, ScenarioAssertionError } from '../../src/runtime/testing/run-flow';
import { repoRoot } from '../helpers/cases';
import { fixtures } from './helpers';

const dunning = `${repoRoot}${fixtures}/dunning.flow`;
const DAY = 86_400_000;

describe('runFlow', () => {
  it('runs a 30-day dunning schedule on the virtual clock', async () => {
    const run = await runFlow(dunning, undefined, { clock: 'virtual', input: { customer: 'cus_1', cardWorks: false } });
    expect(run.status).toBe('completed');
    expect(run.trace.updatedAt - run.trace.startedAt).toBe(30 * DAY);
    // A charge is recorded when its step commits; each wait ends with the next charge.
    expect(run.effectsOf('charge').map((e) => new Date(e.at).toISOString())).toEqual([
      '2025-01-01T00:00:00.000Z',
      '2025-01-04T00:00:00.000Z',
      '2025-01-09T00:00:00.000Z',
      '2025-01-16T00:00:00.000Z',
    ]);
    run.expect({ end: 'Canceled', visits: { 'Charge card': 4 }, elapsed: '30d', data: { canceledAt: '2025-01-31T00:00:00.000Z' } });
  });

  it('delivers a signal when the virtual clock reaches it', async () => {
    const run = await runFlow(dunning, undefined, {
      clock: { start: Date.UTC(2026, 5, 1) },
      input: { customer: 'cus_2', cardWorks: false },
      signals: [{ name: 'card-updated', after: '4d' }],
    });
    run.expect({ end: 'Recovered', through: ['Charge card', 'Charge card', 'Paid?', 'Recovered'], elapsed: '4d' });
    expect(run.visits('Charge card')).toBe(3);
  });

  it('throws an assertion error that names the node and its line', async () => {
    const run = await runFlow(dunning, undefined, { input: { customer: 'cus_3', cardWorks: true }, outcomes: { 'Paid?': 'No', 'Attempts left?': 'No' } });
    expect(() => run.expect({ end: 'Recovered' })).toThrow(ScenarioAssertionError);
    try {
      run.expect({ end: 'Recovered' });
    } catch (error) {
      expect((error as Error).message).toContain('expect.end: expected to end at n6 "Recovered"; reached n8 "Canceled"');
      expect((error as Error).message).toContain(`at n8 "Canceled" (${dunning}:9:3)`);
    }
  });

  it('refuses a label the decision does not have', async () => {
    await expect(runFlow(dunning, undefined, { outcomes: { 'Paid?': 'Maybe' } })).rejects.toThrow('n3 has no branch "Maybe"; its labels are "Yes", "No"');
  });
});
