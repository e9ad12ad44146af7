import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bind } from '../../src/compiler/bind';
import type { RetryPolicy } from '../../src/compiler/types';
import { checkSource } from '../../src/index';
import {
  backoffDelayMs,
  backoffDelays,
  backoffProblems,
  baseDelayMs,
  exponentialBackoff,
  fixedBackoff,
  intervalBackoff,
  seededRandom,
} from '../../src/runtime/backoff';
import { readBindings } from '../../src/runtime/bindings';
import { VirtualClock } from '../../src/runtime/clock';
import { defineBindings } from '../../src/runtime/define';
import { Engine } from '../../src/runtime/engine';
import { waitWithBackoff } from '../../src/runtime/packs/retry';
import { retryDelayMs } from '../../src/runtime/retry-policy';
import { T0 } from './helpers';

const SECOND = 1000;
const HOUR = 3_600_000;

describe('backoff schedules', () => {
  it('waits the same before every retry with a fixed schedule', () => {
    const schedule = fixedBackoff('30s');
    expect([1, 2, 3, 10].map((retry) => baseDelayMs(schedule, retry))).toEqual([30 * SECOND, 30 * SECOND, 30 * SECOND, 30 * SECOND]);
  });

  it('grows an exponential schedule by its rate up to its cap', () => {
    const schedule = exponentialBackoff({ initial: '1s', rate: 3, max: '1m' });
    expect([1, 2, 3, 4, 5, 6].map((retry) => baseDelayMs(schedule, retry))).toEqual([1000, 3000, 9000, 27_000, 60_000, 60_000]);
    const uncapped = exponentialBackoff({ initial: '250ms' });
    expect(backoffDelays(uncapped, 5, () => 0.5)).toEqual([250, 500, 1000, 2000, 4000]);
  });

  it('reads an explicit interval list as durations, repeating its last wait', () => {
    const schedule = intervalBackoff(['0h', '24h', '72h', '168h']);
    expect(schedule).toEqual({ kind: 'intervals', delaysMs: [0, 24 * HOUR, 72 * HOUR, 168 * HOUR], jitter: 'none' });
    expect([1, 2, 3, 4, 5].map((retry) => baseDelayMs(schedule, retry))).toEqual([0, 24 * HOUR, 72 * HOUR, 168 * HOUR, 168 * HOUR]);
  });

  it('draws full jitter between 0 and the delay, and equal jitter in its upper half', () => {
    const full = exponentialBackoff({ initial: '1s', max: '20s', jitter: 'full' });
    const equal = exponentialBackoff({ initial: '1s', max: '20s', jitter: 'equal' });
    for (let seed = 0; seed < 200; seed++) {
      const fullDelays = backoffDelays(full, 6, seededRandom(seed));
      const equalDelays = backoffDelays(equal, 6, seededRandom(seed));
      fullDelays.forEach((delay, i) => {
        const base = baseDelayMs(full, i + 1);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(base);
        expect(equalDelays[i]).toBeGreaterThanOrEqual(base / 2);
        expect(equalDelays[i]).toBeLessThan(base);
      });
    }
    // The ends of the draw's range map to the ends of the jitter's range.
    expect(backoffDelays(full, 3, () => 0)).toEqual([0, 0, 0]);
    expect(backoffDelays(equal, 3, () => 0)).toEqual([500, 1000, 2000]);
    expect(backoffDelays(equal, 3, () => 0.999_999)).toEqual([999, 1999, 3999]);
  });

  it('spreads jittered delays across their range rather than bunching them', () => {
    const full = fixedBackoff('10s', 'full');
    const delays = Array.from({ length: 2000 }, (_, seed) => backoffDelayMs(full, 1, seededRandom(`instance-${seed}:n16`)));
    const mean = delays.reduce((sum, d) => sum + d, 0) / delays.length;
    expect(mean).toBeGreaterThan(4_700);
    expect(mean).toBeLessThan(5_300);
    const tenths = new Set(delays.map((d) => Math.floor(d / 1000)));
    expect(tenths.size).toBe(10);
  });

  it('grows decorrelated jitter from the previous delay: between the base and three times it, capped', () => {
    const schedule = exponentialBackoff({ initial: '1s', max: '30s', jitter: 'decorrelated' });
    for (let seed = 0; seed < 200; seed++) {
      const delays = backoffDelays(schedule, 8, seededRandom(seed));
      let previous = 1000;
      for (const delay of delays) {
        expect(delay).toBeGreaterThanOrEqual(1000);
        expect(delay).toBeLessThanOrEqual(Math.min(30_000, previous * 3));
        previous = delay;
      }
    }
    const a = backoffDelays(schedule, 8, seededRandom('inst-1:n4'));
    expect(backoffDelays(schedule, 8, seededRandom('inst-1:n4'))).toEqual(a);
    expect(backoffDelays(schedule, 8, seededRandom('inst-2:n4'))).not.toEqual(a);
    // Retry n's delay is the n-th of the sequence, so a replay gives what the run before waited.
    expect(backoffDelayMs(schedule, 5, seededRandom('inst-1:n4'))).toBe(a[4]);
  });

  it('seeds a generator in [0, 1) that repeats for the same seed', () => {
    const draws = (seed: number | string) => Array.from({ length: 5 }, seededRandom(seed));
    expect(draws(42)).toEqual(draws(42));
    expect(draws('a')).not.toEqual(draws('b'));
    for (const draw of draws('range')) {
      expect(draw).toBeGreaterThanOrEqual(0);
      expect(draw).toBeLessThan(1);
    }
  });

  it('names what is wrong with a schedule read from JSON, and refuses bad durations', () => {
    expect(backoffProblems({ kind: 'exponential', initialMs: 1000, rate: 2, maxDelayMs: 60_000, jitter: 'decorrelated' })).toEqual([]);
    expect(backoffProblems({ kind: 'exponential', initialMs: -1, rate: 0.5 })).toEqual(['initialMs must be 0 or more', 'rate must be 1 or more']);
    expect(backoffProblems({ kind: 'intervals', delaysMs: [] })).toEqual(['delaysMs must list at least one wait']);
    expect(backoffProblems({ kind: 'intervals', delaysMs: [1000], jitter: 'decorrelated' })).toEqual([
      'decorrelated jitter grows from an initial delay towards a cap: use it with an exponential schedule',
    ]);
    expect(backoffProblems({ kind: 'linear' })).toEqual(['a backoff schedule\'s kind is fixed, exponential or intervals, not "linear"']);
    expect(backoffProblems(['5s'])).toEqual(['a backoff schedule is an object with a kind: fixed, exponential or intervals']);
    expect(() => intervalBackoff(['1h', 'tomorrow' as '1h'])).toThrow('wait 2 of an interval backoff is "tomorrow", not a duration such as 30s, 5m, 24h or 1500');
  });
});

describe('retry policies with jitter strategies and schedules', () => {
  const policy: RetryPolicy = { errorEquals: ['States.ALL'], intervalSeconds: 2, backoffRate: 2, maxAttempts: 5, maxDelaySeconds: 10, jitterStrategy: 'NONE' };

  it('keeps States Language delays and full jitter as they were', () => {
    expect([0, 1, 2, 3].map((n) => retryDelayMs(policy, n, 0.5))).toEqual([2000, 4000, 8000, 10_000]);
    expect(retryDelayMs({ ...policy, jitterStrategy: 'FULL' }, 1, 0.25)).toBe(1000);
  });

  it('adds equal and decorrelated jitter drawn from the event', () => {
    const equal = { ...policy, jitterStrategy: 'EQUAL' as const };
    expect(retryDelayMs(equal, 1, 0)).toBe(2000);
    expect(retryDelayMs(equal, 1, 0.5)).toBe(3000);
    const decorrelated = { ...policy, jitterStrategy: 'DECORRELATED' as const };
    for (let i = 0; i < 100; i++) {
      const draw = i / 100;
      const delay = retryDelayMs(decorrelated, 3, draw);
      expect(delay).toBeGreaterThanOrEqual(2000);
      expect(delay).toBeLessThanOrEqual(10_000);
      expect(retryDelayMs(decorrelated, 3, draw)).toBe(delay);
    }
  });

  it('waits an explicit schedule entry by entry, its last repeated', () => {
    const scheduled = { ...policy, scheduleSeconds: [0, 86_400, 259_200] };
    expect([0, 1, 2, 3].map((n) => retryDelayMs(scheduled, n, 0.5))).toEqual([0, 86_400_000, 259_200_000, 259_200_000]);
    expect(retryDelayMs({ ...scheduled, jitterStrategy: 'FULL' }, 1, 0.5)).toBe(43_200_000);
  });
});

const FLAKY = `
Billing { # Billing
  n1: circle label:"Invoice due"
  n2: rectangle label:"Charge card"
  n3: circle label:"Paid"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
}
`;

const POLLING = `
Jobs { # Jobs
  n1: circle label:"Start"
  n2: rectangle label:"Check export"
  n3: diamond label:"Ready?"
  n4: rectangle label:"Wait with backoff"
  n5: circle label:"Done"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
  n3.handle(right) -> n5.handle(left) [label="Yes"]
  n3.handle(bottom) -> n4.handle(top) [label="No"]
  n4.handle(left) -> n2.handle(bottom)
  loop [poll up to 6 times] n2 n3 n4
}
`;

function flowOf(path: string, text: string) {
  const { flow, diagnostics } = checkSource(path, text);
  if (flow === undefined) throw new Error(diagnostics.map((d) => d.message).join('; '));
  return flow;
}

describe('schedules in bindings', () => {
  it('compiles a schedule of durations into seconds, one retry per wait, in a machine that survives JSON', () => {
    const bindings = defineBindings({ nodes: { 'Charge card': { handler: () => undefined, retry: { errorEquals: ['CardDeclined'], schedule: ['0h', '24h', '72h', '168h'] } } } });
    const { spec, registry } = readBindings(bindings, 'flaky.bindings.ts');
    const { machine, diagnostics } = bind(flowOf('flaky.flow', FLAKY), spec, registry.catalog());
    expect(diagnostics).toEqual([]);
    expect(machine!.nodes['n2']!.retry).toEqual([
      { errorEquals: ['CardDeclined'], intervalSeconds: 1, backoffRate: 2, maxAttempts: 4, jitterStrategy: 'NONE', scheduleSeconds: [0, 86_400, 259_200, 604_800] },
    ]);
    expect(JSON.parse(JSON.stringify(machine))).toEqual(machine);
  });

  it('reports schedules and jitter strategies that make no sense, and refuses waits that are no durations', () => {
    const bindings = defineBindings({
      nodes: {
        'Charge card': {
          handler: () => undefined,
          retry: [{ schedule: [] }, { schedule: ['1h'], jitterStrategy: 'DECORRELATED' }, { jitterStrategy: 'DECORRELATED', intervalSeconds: 0 }, { jitterStrategy: 'SOMETIMES' as 'FULL' }],
        },
      },
    });
    const { spec, registry } = readBindings(bindings, 'flaky.bindings.ts');
    const { machine, diagnostics } = bind(flowOf('flaky.flow', FLAKY), spec, registry.catalog());
    expect(machine).toBeUndefined();
    expect(diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([
      'FZ410 the retry policy of n2: a schedule must list at least one wait',
      'FZ410 the retry policy of n2: DECORRELATED jitter grows from intervalSeconds towards maxDelaySeconds; it does not apply to a schedule',
      'FZ410 the retry policy of n2: DECORRELATED jitter grows from intervalSeconds, which must be more than 0',
      'FZ410 the retry policy of n2: jitterStrategy must be NONE, FULL, EQUAL, DECORRELATED, not "SOMETIMES"',
    ]);
    const typo = defineBindings({ nodes: { 'Charge card': { handler: () => undefined, retry: { schedule: ['1h', '1 day' as '1h'] } } } });
    expect(() => readBindings(typo, 'typo.bindings.ts')).toThrow('wait 2 of a retry schedule is "1 day", not a duration such as 30s, 5m or 1500');
  });
});

describe('backoff on the engine, on a virtual clock', () => {
  const folders: string[] = [];
  const engines: Engine[] = [];
  afterEach(() => {
    for (const engine of engines.splice(0)) engine.close();
    for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
  });

  function openEngine(clock: VirtualClock): Engine {
    const folder = mkdtempSync(join(tmpdir(), 'laneflow-backoff-'));
    folders.push(folder);
    let ids = 0;
    const engine = new Engine({ db: join(folder, 'laneflow.db'), clock, random: () => 0.5, newId: () => `i${++ids}` });
    engines.push(engine);
    return engine;
  }

  class CardDeclined extends Error {
    override name = 'CardDeclined';
  }

  it('retries a step at 0 h, 24 h, 72 h and 168 h, then dead-letters it', async () => {
    const clock = new VirtualClock(T0);
    const engine = openEngine(clock);
    const tries: number[] = [];
    const bindings = defineBindings({
      nodes: {
        'Charge card': {
          handler: (ctx) => {
            tries.push(ctx.now().getTime() - T0);
            throw new CardDeclined(`try ${ctx.attempt} declined`);
          },
          retry: { errorEquals: ['CardDeclined'], schedule: ['0h', '24h', '72h', '168h'] },
        },
      },
    });
    const { machine } = engine.deploy(flowOf('flaky.flow', FLAKY), bindings);
    const id = engine.start(machine!.version);
    await engine.runUntilIdle();
    expect(tries).toEqual([0, 0, 24 * HOUR, 96 * HOUR, 264 * HOUR]);
    const instance = engine.instance(id)!;
    expect(instance.status).toBe('failed');
    expect(instance.snapshot.error).toEqual({ name: 'CardDeclined', message: 'try 5 declined' });
    expect(instance.journal.filter((e) => e.outcome === 'failed').map((e) => e.detail!['retryAt'])).toEqual(
      [0, 24, 96, 264].map((hours) => new Date(T0 + hours * HOUR).toISOString()),
    );
  });

  it('waits with backoff in a loop: the schedule entry for each iteration, slept durably', async () => {
    const clock = new VirtualClock(T0);
    const engine = openEngine(clock);
    const checks: number[] = [];
    const bindings = defineBindings({
      nodes: {
        'Check export': (ctx) => {
          checks.push(ctx.now().getTime() - T0);
          return { ready: ctx.loop!.iteration === 4 };
        },
        'Ready?': (ctx) => (ctx.data['ready'] === true ? 'Yes' : 'No'),
        'Wait with backoff': waitWithBackoff(intervalBackoff(['5s', '5m', '30m'])),
      },
    });
    const { machine } = engine.deploy(flowOf('polling.flow', POLLING), bindings);
    const id = engine.start(machine!.version);
    await engine.runUntilIdle();
    const instance = engine.instance(id)!;
    expect(instance.status).toBe('completed');
    expect(checks).toEqual([0, 5 * SECOND, 5 * SECOND + 5 * 60 * SECOND, 5 * SECOND + 35 * 60 * SECOND]);
    expect(instance.snapshot.data['backoffWait']).toEqual({ retry: 3, delayMs: 30 * 60 * SECOND });
    expect(instance.journal.filter((e) => e.outcome === 'sleeping')).toHaveLength(3);
  });

  it('runs the built-in retry.waitWithBackoff with a jittered schedule from the data, the same wait on the run after the sleep', async () => {
    const clock = new VirtualClock(T0);
    const engine = openEngine(clock);
    const bindings = defineBindings({
      nodes: {
        'Check export': (ctx) => ({ ready: ctx.loop!.iteration === 3 }),
        'Ready?': (ctx) => (ctx.data['ready'] === true ? 'Yes' : 'No'),
        'Wait with backoff': 'retry.waitWithBackoff',
      },
    });
    const { machine, diagnostics } = engine.deploy(flowOf('polling.flow', POLLING), bindings);
    expect(diagnostics).toEqual([]);
    const schedule = exponentialBackoff({ initial: '1m', max: '10m', jitter: 'full' });
    const id = engine.start(machine!.version, { input: { backoff: schedule } });
    await engine.runUntilIdle();
    const instance = engine.instance(id)!;
    expect(instance.status).toBe('completed');
    const sleeps = instance.journal.filter((e) => e.outcome === 'sleeping');
    const woke = instance.journal.filter((e) => e.outcome === 'completed' && e.node === 'n4');
    expect(sleeps).toHaveLength(2);
    sleeps.forEach((sleep, i) => {
      const slept = Date.parse(sleep.detail!['until'] as string) - sleep.at;
      // The patch after waking names the delay the sleep used: the draws are seeded, not fresh.
      expect((woke[i]!.detail!['patch'] as { backoffWait: { delayMs: number } }).backoffWait).toEqual({ retry: i + 1, delayMs: slept });
      expect(slept).toBeLessThan(baseDelayMs(schedule, i + 1));
    });
    const failing = engine.start(machine!.version, { input: { backoff: { kind: 'exponential', initialMs: 1000, rate: 0 } } });
    await engine.runUntilIdle();
    expect(engine.instance(failing)!.snapshot.error).toEqual({ name: 'BackoffScheduleInvalid', message: "n4: the instance's backoff schedule is invalid: rate must be 1 or more" });
  });
});
