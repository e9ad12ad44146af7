import { describe, expect, it } from 'vitest';
import type { Machine, RetryPolicy } from '../../src/compiler/types';
import { begin, ENGINE_ERRORS, nextWake, transition } from '../../src/runtime/core';
import type { Effect, RuntimeEvent, Snapshot } from '../../src/runtime/types';
import { testdata } from '../helpers/cases';
import { expectGolden, toJson } from '../helpers/golden';
import { completed, decided, handled, machineOf, T0, threw, waits } from './helpers';

const DAY = 86_400_000;

const LINEAR = `
Main { # Main
  n1: circle label:"Start"
  n2: rectangle label:"Reserve stock"
  n3: rectangle label:"Ship"
  n4: circle label:"End"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
  n3.handle(right) -> n4.handle(left)
}
`;

const FORK = `
Main { # Main
  n1: circle label:"Start"
  n2: rectangle label:"Accept order"
  n3: rectangle label:"Email receipt"
  n4: rectangle label:"Pack parcel"
  n5: circle label:"Done"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
  n2.handle(bottom) -> n4.handle(top)
  n3.handle(right) -> n5.handle(left)
  n4.handle(right) -> n5.handle(bottom)
}
`;

const DECISION = `
Main { # Main
  n1: circle label:"Start"
  n2: diamond label:"In stock?"
  n3: rectangle label:"Ship"
  n4: rectangle label:"Backorder"
  n5: circle label:"End"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left) [label="Yes"]
  n2.handle(bottom) -> n4.handle(top) [label="No"]
  n3.handle(right) -> n5.handle(left)
  n4.handle(right) -> n5.handle(bottom)
}
`;

const LOOP = `
Main { # Main
  n1: circle label:"Start"
  n2: rectangle label:"Call supplier"
  n3: diamond label:"Answered?"
  n4: circle label:"End"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
  n3.handle(right) -> n4.handle(left) [label="Yes"]
  n3.handle(bottom) -> n2.handle(bottom) [label="No"]
  loop [try at most 2 times] n2 n3
}
`;

const CATCH = `
Main { # Main
  n1: circle label:"Start"
  n2: rectangle label:"Charge card"
  n3: rectangle label:"Notify finance"
  n4: circle label:"End"
  n5: rectangle label:"Send receipt"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n5.handle(left)
  n5.handle(right) -> n4.handle(left)
  n3.handle(right) -> n4.handle(top)
}
`;

const NONE_JITTER: RetryPolicy = { errorEquals: ['Timeout', 'laneflow.InvalidLabel'], intervalSeconds: 2, backoffRate: 2, maxAttempts: 2, maxDelaySeconds: 3, jitterStrategy: 'NONE' };

interface Recorded {
  event: RuntimeEvent | { type: 'begin' };
  status: Snapshot['status'];
  tokens: Snapshot['tokens'];
  data: Snapshot['data'];
  loops: Snapshot['loops'];
  inbox: Snapshot['inbox'];
  nextWake: number | null;
  effects: Effect[];
}

/** Runs a script of events through the core, recording every snapshot and effect. */
class Script {
  snapshot: Snapshot;
  readonly recorded: Recorded[] = [];
  at = T0;

  constructor(
    readonly machine: Machine,
    input: Snapshot['data'] = {},
  ) {
    const { snapshot, effects } = begin(machine, { id: 'i1', at: this.at, input, start: machine.starts[0]! });
    this.snapshot = snapshot;
    this.record({ type: 'begin' }, effects);
  }

  /** Applies an event built from the current snapshot, one second after the previous one unless it says otherwise. */
  step(make: (snapshot: Snapshot, at: number) => RuntimeEvent): Effect[] {
    this.at += 1000;
    const event = make(this.snapshot, this.at);
    this.at = event.at;
    const { snapshot, effects } = transition(this.machine, this.snapshot, event);
    this.snapshot = snapshot;
    this.record(event, effects);
    return effects;
  }

  private record(event: Recorded['event'], effects: Effect[]): void {
    const s = this.snapshot;
    this.recorded.push({ event, status: s.status, tokens: s.tokens, data: s.data, loops: s.loops, inbox: s.inbox, nextWake: nextWake(s, this.at), effects });
  }

  golden(name: string): void {
    expectGolden(`${testdata}runtime/core/${name}.exp.json`, toJson(this.recorded));
  }
}

const runs = (effects: Effect[]) => effects.flatMap((e) => (e.type === 'run' ? [e.run] : []));
const journal = (effects: Effect[]) => effects.flatMap((e) => (e.type === 'journal' ? [e.entry] : []));
const wake = (_: Snapshot, at: number): RuntimeEvent => ({ type: 'wake', at });

describe('core', () => {
  it('carries a token through a linear flow, merging patches, until it ends', () => {
    const script = new Script(machineOf(LINEAR), { order: 'o-1' });
    expect(runs(script.step(wake))).toMatchObject([{ node: 'n2', idempotencyKey: 'i1:n2:1', attempt: 1 }]);
    script.step((s, at) => handled(s, at, completed({ reserved: { sku: 'A', qty: 2 } })));
    script.step((s, at) => handled(s, at, completed({ reserved: { qty: 3 }, shipped: true })));
    expect(script.snapshot.status).toBe('completed');
    expect(script.snapshot.data).toEqual({ order: 'o-1', reserved: { sku: 'A', qty: 3 }, shipped: true });
    expect(nextWake(script.snapshot, script.at)).toBeNull();
    script.golden('linear');
  });

  it('forks a step with two outgoing edges into parallel tokens and completes when both end', () => {
    const script = new Script(machineOf(FORK));
    script.step((s, at) => handled(s, at, completed()));
    expect(script.snapshot.tokens.map((t) => [t.id, t.node])).toEqual([['t1', 'n3'], ['t2', 'n4']]);
    expect(runs(script.step(wake)).map((r) => r.node)).toEqual(['n3', 'n4']);
    script.step((s, at) => handled(s, at, completed(), { node: 'n4' }));
    expect(script.snapshot.status).toBe('running');
    script.step((s, at) => handled(s, at, completed(), { node: 'n3' }));
    expect(script.snapshot.status).toBe('completed');
    // No implicit join: the end circle is passed once per arriving token.
    expect(journal(script.recorded.flatMap((r) => r.effects)).filter((e) => e.outcome === 'ended')).toHaveLength(2);
    script.golden('fork');
  });

  it('follows the decision label matched trimmed and case-insensitively', () => {
    const script = new Script(machineOf(DECISION, { retry: [NONE_JITTER] }));
    script.step((s, at) => handled(s, at, decided('  no ')));
    expect(script.snapshot.tokens[0]).toMatchObject({ node: 'n4', attempt: 1 });
    script.golden('decision');
  });

  it('fails an unknown label at once, with no retry and no catch route, naming the label and the allowed ones', () => {
    const machine = machineOf(DECISION, { retry: [NONE_JITTER] });
    machine.nodes['n2']!.catch = [{ errorEquals: ['States.ALL'], next: 'n4' }];
    const script = new Script(machine);
    const failed = script.step((s, at) => handled(s, at, decided('Maybe')));
    expect(journal(failed)).toEqual([
      expect.objectContaining({ outcome: 'dead-letter', node: 'n2', attempt: 1, detail: { error: { name: ENGINE_ERRORS.invalidLabel, message: 'decision n2 returned "Maybe"; its labels are "Yes", "No"' } } }),
    ]);
    expect(script.snapshot.status).toBe('failed');
    expect(script.snapshot.tokens[0]).toMatchObject({ node: 'n2', state: 'failed', attempt: 1 });
  });

  it.each([ENGINE_ERRORS.invalidResult, ENGINE_ERRORS.handlerNotFound])('fails %s at once, though a retry policy matches every error', (name) => {
    const script = new Script(machineOf(LINEAR, { retry: [NONE_JITTER] }));
    const failed = script.step((s, at) => handled(s, at, threw(name)));
    expect(journal(failed).map((e) => e.outcome)).toEqual(['dead-letter']);
    expect(script.snapshot.status).toBe('failed');
  });

  it('retries with exponential backoff capped by maxDelaySeconds, then fails the instance as a dead letter, and retries it on request', () => {
    const script = new Script(machineOf(LINEAR, { retry: [NONE_JITTER] }));
    script.step((s, at) => handled(s, at, threw('Timeout')));
    const first = script.snapshot.tokens[0]!;
    expect(first).toMatchObject({ state: 'backoff', attempt: 2, dueAt: script.at + 2000 });
    expect(runs(script.step((_, at) => ({ type: 'wake', at: first.dueAt! - 1 })))).toEqual([]);
    expect(runs(script.step((_, at) => ({ type: 'wake', at: first.dueAt! })))).toMatchObject([{ node: 'n2', attempt: 2, idempotencyKey: 'i1:n2:1' }]);
    script.step((s, at) => handled(s, at, threw('Timeout')));
    // 2 s × 2¹ = 4 s, capped at 3 s.
    expect(script.snapshot.tokens[0]).toMatchObject({ state: 'backoff', attempt: 3, dueAt: script.at + 3000 });
    script.step((s, at) => ({ type: 'wake', at: s.tokens[0]!.dueAt! }));
    script.step((s, at) => handled(s, at, threw('Timeout', 'still down')));
    expect(script.snapshot.status).toBe('failed');
    expect(script.snapshot.error).toEqual({ name: 'Timeout', message: 'still down' });
    expect(nextWake(script.snapshot, script.at)).toBeNull();
    expect(runs(script.step((_, at) => ({ type: 'retry', at })))).toMatchObject([{ node: 'n2', attempt: 1, idempotencyKey: 'i1:n2:1' }]);
    expect(script.snapshot.status).toBe('running');
    script.golden('retry-dead-letter');
  });

  it('does not retry an error no retrier matches, and draws full jitter from the event', () => {
    const full: RetryPolicy = { ...NONE_JITTER, errorEquals: ['Timeout'], jitterStrategy: 'FULL' };
    const script = new Script(machineOf(LINEAR, { retry: [full] }));
    script.step((s, at) => handled(s, at, threw('Timeout'), { random: 0.25 }));
    expect(script.snapshot.tokens[0]!.dueAt).toBe(script.at + 500);
    script.step((s) => ({ type: 'wake', at: s.tokens[0]!.dueAt! }));
    script.step((s, at) => handled(s, at, threw('CardDeclined')));
    expect(script.snapshot.status).toBe('failed');
    script.golden('retry-jitter-unmatched');
  });

  it('routes an exhausted step to its catch node with the error', () => {
    const script = new Script(machineOf(CATCH, { catch: { n2: 'n3' } }));
    script.step((s, at) => handled(s, at, threw('CardDeclined', 'insufficient funds')));
    expect(script.snapshot.tokens).toMatchObject([{ node: 'n3', state: 'ready', caught: { name: 'CardDeclined', message: 'insufficient funds' } }]);
    script.step((s, at) => handled(s, at, completed({ notified: true })));
    expect(script.snapshot.status).toBe('completed');
    script.golden('catch');
  });

  it('counts loop iterations at the first node and fails with loop exhausted past the bound', () => {
    const script = new Script(machineOf(LOOP));
    expect(script.snapshot.loops).toEqual({ loop1: 1 });
    script.step((s, at) => handled(s, at, completed()));
    script.step((s, at) => handled(s, at, decided('No')));
    expect(script.snapshot.loops).toEqual({ loop1: 2 });
    expect(script.snapshot.tokens[0]).toMatchObject({ node: 'n2', visit: 2 });
    script.step((s, at) => handled(s, at, completed()));
    const exhausted = script.step((s, at) => handled(s, at, decided('No')));
    expect(journal(exhausted).at(-1)).toMatchObject({ outcome: 'dead-letter', node: 'n2', detail: { error: { name: ENGINE_ERRORS.loopExhausted } } });
    expect(script.snapshot.status).toBe('failed');
    expect(runs(exhausted)).toEqual([]);
    // An operator's retry starts a fresh first iteration.
    script.step((_, at) => ({ type: 'retry', at }));
    expect(script.snapshot.loops).toEqual({ loop1: 1 });
    script.step((s, at) => handled(s, at, completed()));
    script.step((s, at) => handled(s, at, decided('Yes')));
    expect(script.snapshot.status).toBe('completed');
    script.golden('loop-exhausted');
  });

  it('parks a sleeping token until its timer and replays the sleep when the handler runs again', () => {
    const script = new Script(machineOf(LINEAR));
    script.step((s, at) => handled(s, at, waits({ kind: 'sleep', until: at + 3 * DAY })));
    const due = script.snapshot.tokens[0]!.dueAt!;
    expect(nextWake(script.snapshot, script.at)).toBe(due);
    expect(runs(script.step((_, at) => ({ type: 'wake', at: due - 1 })))).toEqual([]);
    expect(runs(script.step(() => ({ type: 'wake', at: due })))).toMatchObject([{ node: 'n2', attempt: 1, idempotencyKey: 'i1:n2:1' }]);
    expect(script.snapshot.tokens[0]!.waits).toEqual([{ kind: 'slept' }]);
    script.golden('sleep');
  });

  it('resumes a waitFor with the signal, times it out, and keeps a signal that comes before anyone waits', () => {
    const script = new Script(machineOf(LINEAR));
    script.step((s, at) => handled(s, at, waits({ kind: 'signal', name: 'approved', deadline: at + DAY })));
    expect(script.snapshot.tokens[0]).toMatchObject({ state: 'waiting', signal: 'approved' });
    script.step((_, at) => ({ type: 'signal', at, seq: 1, name: 'other', payload: 1 }));
    expect(script.snapshot.inbox).toHaveLength(1);
    script.step((_, at) => ({ type: 'signal', at, seq: 2, name: 'approved', payload: { by: 'ops' } }));
    expect(script.snapshot.tokens[0]).toMatchObject({ state: 'ready', waits: [{ kind: 'signal', name: 'approved', payload: { by: 'ops' } }] });
    expect(script.snapshot.signalSeq).toBe(2);
    script.step((s, at) => handled(s, at, completed()));
    // n3 waits for the signal that was buffered: it resumes at once.
    const resumed = script.step((s, at) => handled(s, at, waits({ kind: 'signal', name: 'other' })));
    expect(runs(resumed)).toMatchObject([{ node: 'n3' }]);
    expect(script.snapshot.inbox).toEqual([]);
    script.step((s, at) => handled(s, at, waits({ kind: 'signal', name: 'approved', deadline: at + DAY })));
    script.step((s) => ({ type: 'wake', at: s.tokens[0]!.dueAt! }));
    expect(script.snapshot.tokens[0]!.waits).toEqual([{ kind: 'signal', name: 'other', payload: 1 }, { kind: 'timeout', name: 'approved' }]);
    script.golden('wait-for-signal');
  });

  it('ignores the result of a visit that has moved on', () => {
    const script = new Script(machineOf(LINEAR));
    const stale = handled(script.snapshot, T0 + 1, completed());
    script.step((s, at) => handled(s, at, completed()));
    const before = script.snapshot;
    const { snapshot, effects } = transition(script.machine, before, { ...stale, at: script.at + 1 });
    expect(effects).toEqual([]);
    expect(snapshot.tokens).toEqual(before.tokens);
  });

  it('never changes the snapshot it is given', () => {
    const machine = machineOf(FORK);
    const { snapshot } = begin(machine, { id: 'i1', at: T0, input: { a: { b: 1 } }, start: 'n1' });
    const frozen = JSON.stringify(snapshot);
    transition(machine, snapshot, handled(snapshot, T0 + 1, completed({ a: { c: 2 } })));
    expect(JSON.stringify(snapshot)).toBe(frozen);
  });
});
