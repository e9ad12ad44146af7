import { mkdirSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { checkSource } from '../../src/index';
import { VirtualClock } from '../../src/runtime/clock';
import { defineBindings } from '../../src/runtime/define';
import { Engine, type InstanceDetails } from '../../src/runtime/engine';
import { replay, snapshotDifferences } from '../../src/runtime/replay';
import type { JournalEntry } from '../../src/runtime/types';
import { repoRoot } from '../helpers/cases';
import { T0 } from './helpers';

// A fetch that fails twice before it answers (retried with full jitter), then a loop around a
// decision: each round waits for a "go" signal or a minute, and sleeps a while.
const FLOW = `
Work { # Work
  n1: circle label:"Start"
  n2: rectangle label:"Fetch"
  n3: rectangle label:"Count"
  n4: diamond label:"Again?"
  n5: rectangle label:"Wait for go"
  n6: rectangle label:"Rest"
  n7: circle label:"Done"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
  n3.handle(right) -> n4.handle(left)
  n4.handle(bottom) -> n5.handle(top) [label="Yes"]
  n4.handle(right) -> n7.handle(left) [label="No"]
  n5.handle(right) -> n6.handle(left)
  n6.handle(left) -> n3.handle(bottom)
  loop [up to 5 rounds] n3 n4 n5 n6
}
`;

const engines: Engine[] = [];
afterEach(() => {
  for (const engine of engines.splice(0)) engine.close();
});

/** An instance run to its end on a fresh SQLite file and a virtual clock, with a signal sent while it waits. */
async function finishedInstance(name: string): Promise<{ engine: Engine; instance: InstanceDetails }> {
  const folder = `${repoRoot}test/artifacts/runtime/`;
  mkdirSync(folder, { recursive: true });
  const db = `${folder}replay-${name}-${process.pid}.db`;
  for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
  let draws = 0;
  const engine = new Engine({ db, clock: new VirtualClock(T0), random: () => ((draws++ * 0.37) % 1), newId: () => `replay-${name}` });
  engines.push(engine);
  let fetches = 0;
  const bindings = defineBindings({
    nodes: {
      Fetch: {
        handler: () => {
          fetches++;
          if (fetches <= 2) throw Object.assign(new Error('try later'), { name: 'Unavailable' });
          return { fetched: fetches };
        },
        retry: { errorEquals: ['Unavailable'], intervalSeconds: 10, backoffRate: 2, maxAttempts: 3, jitterStrategy: 'FULL' },
      },
      Count: (ctx) => ({ rounds: ctx.loop?.iteration ?? 0, history: [...((ctx.data['history'] as string[] | undefined) ?? []), `round ${ctx.loop?.iteration}`] }),
      'Again?': (ctx) => ((ctx.data['rounds'] as number) < 3 ? 'Yes' : 'No'),
      'Wait for go': async (ctx) => ({ [`go${ctx.loop?.iteration}`]: (await ctx.waitFor('go', { timeout: '1m' })).received }),
      Rest: async (ctx) => {
        await ctx.sleep('30s');
        return { rested: ctx.now().toISOString() };
      },
    },
  });
  const { flow } = checkSource('work.flow', FLOW);
  const { machine } = engine.deploy(flow!, bindings);
  const id = engine.start(machine!.version, { input: { customer: 'ada', rounds: 0 } });
  await engine.runUntilIdle({ horizon: T0 });
  // The first round's wait times out; the second is answered by a signal, sent while it waits.
  await engine.runUntilIdle({ horizon: T0 + 120_000 });
  engine.signal(id, 'go', { by: 'test' });
  await engine.runUntilIdle();
  return { engine, instance: engine.instance(id)! };
}

describe('replay', () => {
  it('folds a journal with retries, a loop, a decision, timers and a signal into the stored snapshot', async () => {
    const { engine, instance } = await finishedInstance('ok');
    expect(instance.status).toBe('completed');
    const outcomes = instance.journal.map((entry) => entry.outcome);
    expect(outcomes.filter((outcome) => outcome === 'failed')).toHaveLength(2);
    expect(outcomes).toContain('timed-out');
    expect(outcomes).toContain('signalled');
    expect(instance.journal.filter((entry) => entry.outcome === 'decided').map((entry) => entry.detail?.['label'])).toEqual(['Yes', 'Yes', 'No']);

    const result = replay(engine.machine(instance.machine)!, instance.journal, { id: instance.snapshot.id, input: { customer: 'ada', rounds: 0 } });
    if (!result.ok) expect.fail(`row ${result.row}: ${result.reason}`);
    expect(snapshotDifferences(result.snapshot, instance.snapshot)).toEqual([]);
    expect(result.snapshot.data).toMatchObject({ customer: 'ada', fetched: 3, rounds: 3, go1: false, go2: true });
    expect(result.events).toBeGreaterThan(10);
  });

  it('replays a running instance to its stored state too', async () => {
    const { engine, instance } = await finishedInstance('running');
    const half = instance.journal.findIndex((entry) => entry.outcome === 'timed-out');
    const partial = replay(engine.machine(instance.machine)!, instance.journal.slice(0, half), { id: instance.snapshot.id, input: { customer: 'ada', rounds: 0 } });
    expect(partial.ok).toBe(true);
    if (partial.ok) {
      expect(partial.snapshot.status).toBe('running');
      expect(partial.snapshot.tokens).toMatchObject([{ node: 'n5', state: 'waiting', signal: 'go' }]);
    }
  });

  it('tells a tampered row from the history the core writes', async () => {
    const { engine, instance } = await finishedInstance('tampered');
    const machine = engine.machine(instance.machine)!;
    const origin = { id: instance.snapshot.id, input: { customer: 'ada', rounds: 0 } };
    const tamper = (change: (entry: JournalEntry) => JournalEntry, which: (entry: JournalEntry) => boolean) =>
      instance.journal.map((entry, index) => (index === instance.journal.findIndex(which) ? change(entry) : entry));

    // A different patch replays without complaint but to another state.
    const patched = replay(machine, tamper((entry) => ({ ...entry, detail: { patch: { fetched: 99 } } }), (entry) => entry.node === 'n2' && entry.outcome === 'completed'), origin);
    expect(patched.ok).toBe(true);
    if (patched.ok) expect(snapshotDifferences(patched.snapshot, instance.snapshot)).toEqual(['data']);

    // A decision's other label sends the token elsewhere: the next rows no longer fit.
    const decided = replay(machine, tamper((entry) => ({ ...entry, detail: { label: 'No' } }), (entry) => entry.outcome === 'decided'), origin);
    expect(decided.ok).toBe(false);

    // A retry time that is not the one written makes the token due at another time.
    const retried = replay(
      machine,
      tamper((entry) => ({ ...entry, detail: { ...entry.detail, retryAt: new Date(entry.at + 9_999).toISOString() } }), (entry) => entry.outcome === 'failed'),
      origin,
    );
    expect(retried.ok).toBe(false);

    // A row left out.
    const dropped = replay(machine, instance.journal.filter((entry) => entry.outcome !== 'woke'), origin);
    expect(dropped.ok).toBe(false);

    // Another input.
    const other = replay(machine, instance.journal, { ...origin, input: { customer: 'bob', rounds: 0 } });
    expect(other.ok && snapshotDifferences(other.snapshot, instance.snapshot)).toEqual(['data']);
  });
});
