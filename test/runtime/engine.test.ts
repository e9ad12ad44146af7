import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { CompiledFlow } from '../../src/compiler/types';
import { checkSource } from '../../src/index';
import { VirtualClock, wallClock, type Clock } from '../../src/runtime/clock';
import { defineBindings, defineDecision } from '../../src/runtime/define';
import { Engine } from '../../src/runtime/engine';
import planUpgradeBindings from '../../flows/plan-upgrade.bindings';
import { repoRoot } from '../helpers/cases';
import { T0 } from './helpers';

const DAY = 86_400_000;
const artifacts = `${repoRoot}test/artifacts/runtime/`;
const engines: Engine[] = [];

function flowOf(path: string, text?: string): CompiledFlow {
  const source = text ?? readFileSync(`${repoRoot}${path}`, 'utf8');
  const { flow, diagnostics } = checkSource(path, source);
  if (flow === undefined) throw new Error(diagnostics.map((d) => d.message).join('; '));
  return flow;
}

let counter = 0;
/** An engine on a fresh SQLite file with a virtual clock and seeded ids. */
function openEngine(name: string, clock: Clock = new VirtualClock(T0)): Engine {
  mkdirSync(artifacts, { recursive: true });
  const db = `${artifacts}${name}-${process.pid}-${counter++}.db`;
  for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
  let ids = 0;
  const engine = new Engine({ db, clock, random: () => 0.5, newId: () => `${name}-${++ids}` });
  engines.push(engine);
  return engine;
}

afterEach(() => {
  for (const engine of engines.splice(0)) engine.close();
});

const DUNNING = `
Billing { # Billing
  n1: circle label:"Invoice due"
  n2: rectangle label:"Charge card"
  n3: diamond label:"Paid?"
  n4: rectangle label:"Wait a day"
  n5: circle label:"Paid"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
  n3.handle(right) -> n5.handle(left) [label="Yes"]
  n3.handle(bottom) -> n4.handle(top) [label="No"]
  n4.handle(left) -> n2.handle(bottom)
  loop [try for 30 days] n2 n3 n4
}
`;

const APPROVAL = `
Desk { # Desk
  n1: circle label:"Start"
  n2: rectangle label:"Await approval"
  n3: diamond label:"Approved?"
  n4: rectangle label:"Provision"
  n5: rectangle label:"Escalate"
  n6: circle label:"End"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
  n3.handle(right) -> n4.handle(left) [label="Yes"]
  n3.handle(bottom) -> n5.handle(top) [label="No"]
  n4.handle(right) -> n6.handle(left)
  n5.handle(right) -> n6.handle(bottom)
}
`;

describe('engine on SQLite', () => {
  it('runs plan-upgrade.flow end to end with its bindings: proration, charge and email recorded once', async () => {
    const engine = openEngine('plan');
    const { machine, diagnostics } = engine.deploy(flowOf('flows/plan-upgrade.flow'), planUpgradeBindings);
    expect(diagnostics).toEqual([]);
    const id = engine.start(machine!.version, { input: { currentPlan: 'basic', newPlan: 'team', daysRemaining: 10, daysInPeriod: 30, creditCents: 500 } });
    await engine.runUntilIdle();
    const instance = engine.instance(id)!;
    expect(instance.status).toBe('completed');
    // (7900 − 900) × 10 / 30 = 2333.33… → 2333 cents, less 500 credit.
    expect(instance.snapshot.data).toMatchObject({ prorationCents: 2333, creditAppliedCents: 500, amountDueCents: 1833, creditCents: 0, currentPlan: 'team' });
    expect(instance.journal.map((e) => `${e.node}:${e.outcome}`)).toContain('n9:decided');
    expect(instance.journal.find((e) => e.node === 'n9')!.detail).toEqual({ label: 'Yes' });
    expect(instance.outbox.map((e) => [e.kind, e.key])).toEqual([
      ['gateway.charge', `${id}:n14:1:gateway.charge`],
      ['email', `${id}:n21:1:email`],
    ]);
    expect(instance.journal.at(-1)).toMatchObject({ node: 'n6', outcome: 'ended' });
  });

  it('goes round a declined charge to the next card, charging each visit under its own idempotency key', async () => {
    const engine = openEngine('plan-declined');
    const { machine } = engine.deploy(flowOf('flows/plan-upgrade.flow'), planUpgradeBindings);
    const cards = [
      { number: '4242424242424241', expMonth: 1, expYear: 2031 },
      { number: '4000000000000002', expMonth: 1, expYear: 2031 },
      { number: '4242424242424242', expMonth: 1, expYear: 2031 },
    ];
    const id = engine.start(machine!.version, { input: { cards } });
    await engine.runUntilIdle();
    const instance = engine.instance(id)!;
    expect(instance.status).toBe('completed');
    expect(instance.snapshot.data).toMatchObject({ paymentTries: 3, failedCharges: 1, paymentErrors: ['card ending 4241: the card number is mistyped'] });
    const charges = instance.outbox.filter((e) => e.kind === 'gateway.charge');
    expect(charges.map((c) => [c.key, (c.payload as { status: string }).status])).toEqual([
      [`${id}:n14:1:gateway.charge`, 'declined'],
      [`${id}:n14:2:gateway.charge`, 'succeeded'],
    ]);
  });

  it('runs a 30-day dunning schedule on the virtual clock, sleeping durably a day at a time', async () => {
    const clock = new VirtualClock(T0);
    const engine = openEngine('dunning', clock);
    const bindings = defineBindings({
      nodes: {
        'Charge card': (ctx) => ({ attempts: ctx.loop!.iteration, paid: ctx.now().getTime() - T0 >= 29 * DAY }),
        'Paid?': (ctx) => (ctx.data['paid'] === true ? 'Yes' : 'No'),
        'Wait a day': async (ctx) => {
          await ctx.sleep('1d');
        },
      },
    });
    const { machine } = engine.deploy(flowOf('dunning.flow', DUNNING), bindings);
    const id = engine.start(machine!.version);
    await engine.runUntilIdle();
    const instance = engine.instance(id)!;
    expect(instance.status).toBe('completed');
    expect(instance.snapshot.data).toEqual({ attempts: 30, paid: true });
    expect(clock.now() - T0).toBe(29 * DAY);
    const sleeps = instance.journal.filter((e) => e.outcome === 'sleeping');
    expect(sleeps).toHaveLength(29);
    expect(instance.journal.filter((e) => e.outcome === 'woke').map((e) => e.at - T0)).toEqual(Array.from({ length: 29 }, (_, i) => (i + 1) * DAY));
  });

  it('fails with loop exhausted past the bound, keeps the dead letter, and retries it on request', async () => {
    const engine = openEngine('dunning-exhausted');
    const bindings = defineBindings({
      nodes: {
        'Charge card': () => ({ paid: false }),
        'Paid?': (ctx) => (ctx.data['paid'] === true ? 'Yes' : 'No'),
        'Wait a day': async (ctx) => {
          await ctx.sleep('1d');
        },
      },
      loops: { loop1: 3 },
    });
    const { machine } = engine.deploy(flowOf('dunning.flow', DUNNING), bindings);
    const id = engine.start(machine!.version);
    await engine.runUntilIdle();
    let instance = engine.instance(id)!;
    expect(instance.status).toBe('failed');
    expect(instance.snapshot.error).toEqual({ name: 'laneflow.LoopExhausted', message: 'loop exhausted: "try for 30 days" allows 3 iterations' });
    expect(engine.instances({ status: 'failed' }).map((i) => i.id)).toEqual([id]);
    engine.retry(id);
    expect(engine.instance(id)!.status).toBe('running');
    await engine.runUntilIdle();
    instance = engine.instance(id)!;
    expect(instance.status).toBe('failed');
    expect(instance.journal.filter((e) => e.outcome === 'retried')).toHaveLength(1);
    expect(() => engine.retry('no-such-instance')).toThrow(/no instance/);
  });

  it('retries a throwing handler by its policy with the same idempotency key, then follows the catch route', async () => {
    const engine = openEngine('retries');
    const seen: { key: string; attempt: number; at: number }[] = [];
    const bindings = defineBindings({
      nodes: {
        'Await approval': {
          handler: (ctx) => {
            seen.push({ key: ctx.idempotencyKey, attempt: ctx.attempt, at: ctx.now().getTime() });
            throw Object.assign(new Error('service unavailable'), { name: 'Unavailable' });
          },
          retry: { errorEquals: ['Unavailable'], intervalSeconds: 10, backoffRate: 3, maxAttempts: 2 },
          catch: 'Escalate',
        },
        'Approved?': () => 'Yes',
        Provision: () => ({ provisioned: true }),
        Escalate: (ctx) => ({ escalated: ctx.caught?.message ?? 'no error' }),
      },
    });
    const { machine } = engine.deploy(flowOf('approval.flow', APPROVAL), bindings);
    const id = engine.start(machine!.version);
    await engine.runUntilIdle();
    expect(seen).toEqual([
      { key: `${id}:n2:1`, attempt: 1, at: T0 },
      { key: `${id}:n2:1`, attempt: 2, at: T0 + 10_000 },
      { key: `${id}:n2:1`, attempt: 3, at: T0 + 40_000 },
    ]);
    const instance = engine.instance(id)!;
    expect(instance.status).toBe('completed');
    expect(instance.snapshot.data).toEqual({ escalated: 'service unavailable' });
    expect(instance.journal.map((e) => e.outcome)).toEqual(['started', 'failed', 'failed', 'caught', 'completed', 'ended']);
  });

  it('parks a waitFor until a signal arrives, and tells the handler when it timed out instead', async () => {
    const clock = new VirtualClock(T0);
    const engine = openEngine('signals', clock);
    const bindings = defineBindings({
      nodes: {
        'Await approval': async (ctx) => {
          const answer = await ctx.waitFor('approval', { timeout: '2d' });
          return answer.received ? { approved: answer.payload } : { approved: false, timedOut: true };
        },
        'Approved?': defineDecision(['Yes', 'No'], (ctx) => (ctx.data['approved'] === false ? 'No' : 'Yes')),
        Provision: () => ({ provisioned: true }),
        Escalate: () => ({ escalated: true }),
      },
    });
    const { machine } = engine.deploy(flowOf('approval.flow', APPROVAL), bindings);
    const signalled = engine.start(machine!.version);
    await engine.runUntilIdle({ only: signalled, horizon: T0 + DAY });
    expect(engine.instance(signalled)!.snapshot.tokens).toMatchObject([{ node: 'n2', state: 'waiting', signal: 'approval', dueAt: T0 + 2 * DAY }]);
    clock.advance(DAY);
    engine.signal(signalled, 'approval', { by: 'ops' });
    await engine.runUntilIdle({ only: signalled, horizon: T0 + DAY });
    expect(engine.instance(signalled)!.snapshot.data).toEqual({ approved: { by: 'ops' }, provisioned: true });
    expect(() => engine.signal(signalled, 'approval')).toThrow(/completed/);

    const ignored = engine.start(machine!.version);
    await engine.runUntilIdle();
    const instance = engine.instance(ignored)!;
    expect(instance.snapshot.data).toEqual({ approved: false, timedOut: true, escalated: true });
    expect(instance.journal.find((e) => e.outcome === 'timed-out')!.at).toBe(clock.now());
  });

  it('delivers a signal sent while a worker is driving the instance', async () => {
    const engine = openEngine('signal-while-held', wallClock);
    let sent = false;
    const bindings = defineBindings({
      nodes: {
        'Await approval': async (ctx) => {
          // The signal arrives from outside while this instance is claimed and mid-step.
          if (!sent) {
            sent = true;
            engine.signal(ctx.instanceId, 'approval', 'granted');
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
          return { first: true };
        },
        'Approved?': async (ctx) => {
          const answer = await ctx.waitFor('approval', { timeout: '1h' });
          return answer.received ? ('Yes' as const) : ('No' as const);
        },
        Provision: () => ({ provisioned: true }),
        Escalate: () => ({ escalated: true }),
      },
    });
    const { machine } = engine.deploy(flowOf('approval.flow', APPROVAL), bindings);
    const id = engine.start(machine!.version);
    await engine.runUntilIdle();
    const instance = engine.instance(id)!;
    expect(instance.status).toBe('completed');
    expect(instance.snapshot.data).toEqual({ first: true, provisioned: true });
    expect(instance.journal.map((e) => e.outcome)).toEqual(['started', 'completed', 'signal-buffered', 'signalled', 'decided', 'completed', 'ended']);
  });

  it('delivers a signal sent before the handler waits for it', async () => {
    const engine = openEngine('early-signal');
    const bindings = defineBindings({
      nodes: {
        'Await approval': async (ctx) => {
          await ctx.sleep('1h');
          const answer = await ctx.waitFor('approval');
          return { approved: answer.received };
        },
        'Approved?': () => 'Yes',
        Provision: () => ({ provisioned: true }),
        Escalate: () => ({}),
      },
    });
    const { machine } = engine.deploy(flowOf('approval.flow', APPROVAL), bindings);
    const id = engine.start(machine!.version);
    engine.signal(id, 'approval', 'yes');
    await engine.runUntilIdle();
    const instance = engine.instance(id)!;
    expect(instance.snapshot.data).toEqual({ approved: true, provisioned: true });
    expect(instance.journal.map((e) => e.outcome)).toEqual(['started', 'signal-buffered', 'sleeping', 'woke', 'signalled', 'completed', 'decided', 'completed', 'ended']);
  });

  it('keeps a running instance on the machine it started with when the flow changes', async () => {
    const engine = openEngine('pinned');
    const nodes = {
      'Charge card': async (ctx: { sleep: (d: '1d') => Promise<void> }) => {
        await ctx.sleep('1d');
        return { paid: true };
      },
      'Paid?': () => 'Yes',
      'Wait a day': () => ({}),
    };
    const v1 = engine.deploy(flowOf('dunning.flow', DUNNING), defineBindings({ nodes })).machine!;
    const old = engine.start(v1.version);
    await engine.runUntilIdle({ only: old });
    const changed = DUNNING.replace('n3.handle(right) -> n5.handle(left) [label="Yes"]', 'n3.handle(right) -> n6.handle(left) [label="Yes"]\n  n6: rectangle label:"Send receipt"\n  n6.handle(right) -> n5.handle(left)');
    const v2 = engine.deploy(flowOf('dunning.flow', changed), defineBindings({ nodes: { ...nodes, 'Send receipt': () => ({ receipt: true }) } })).machine!;
    expect(v2.flowVersion).not.toBe(v1.flowVersion);
    const fresh = engine.start(v2.version);
    await engine.runUntilIdle();
    expect(engine.instance(old)).toMatchObject({ machine: v1.version, status: 'completed', snapshot: { data: { paid: true } } });
    expect(engine.instance(fresh)).toMatchObject({ machine: v2.version, status: 'completed', snapshot: { data: { paid: true, receipt: true } } });
  });

  it('fails a handler that runs past its timeout with laneflow.Timeout', async () => {
    const engine = openEngine('timeout', undefined);
    const bindings = defineBindings({
      nodes: {
        'Await approval': { handler: () => new Promise<void>(() => {}), timeout: '50ms', retry: false },
        'Approved?': () => 'Yes',
        Provision: () => ({}),
        Escalate: () => ({}),
      },
    });
    const { machine } = engine.deploy(flowOf('approval.flow', APPROVAL), bindings);
    const id = engine.start(machine!.version);
    await engine.runUntilIdle();
    expect(engine.instance(id)!.snapshot.error).toEqual({ name: 'laneflow.Timeout', message: 'n2 ran longer than its timeout of 0.05 s' });
  });

  it('loads a TypeScript binding module by path and remembers it for workers', async () => {
    const engine = openEngine('module');
    const { machine, diagnostics } = await engine.deployModule(flowOf('flows/plan-upgrade.flow'), `${repoRoot}flows/plan-upgrade.bindings.ts`);
    expect(diagnostics).toEqual([]);
    const id = engine.start(machine!.version);
    await engine.runUntilIdle();
    expect(engine.instance(id)!.status).toBe('completed');
  });
});
