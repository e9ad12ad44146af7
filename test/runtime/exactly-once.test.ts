// The engine's guarantees around one step: a hung handler times out and holds up nothing else,
// a stop drains for a bounded time, instances run only on the code they started with, and
// errors no retry can mend fail at once.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { CompiledFlow } from '../../src/compiler/types';
import { checkSource } from '../../src/index';
import { VirtualClock, wallClock, type Clock } from '../../src/runtime/clock';
import { defineBindings } from '../../src/runtime/define';
import { Engine, type EngineOptions } from '../../src/runtime/engine';
import { T0 } from './helpers';

const folder = mkdtempSync(join(tmpdir(), 'laneflow-exactly-once-'));
const engines: Engine[] = [];
afterEach(() => {
  for (const engine of engines.splice(0)) engine.close();
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const FLOW = `Ops { # Ops
  n1: circle label:"Start"
  n2: rectangle label:"Call partner"
  n3: rectangle label:"Nap"
  n4: diamond label:"Good?"
  n5: circle label:"Done"
  n6: circle label:"Rejected"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
  n3.handle(right) -> n4.handle(left)
  n4.handle(right) -> n5.handle(left) [label="Yes"]
  n4.handle(bottom) -> n6.handle(top) [label="No"]
}
`;

function flowOf(text: string, path = join(folder, 'ops.flow')): CompiledFlow {
  const { flow, diagnostics } = checkSource(path, text);
  if (flow === undefined) throw new Error(diagnostics.map((d) => d.message).join('; '));
  return flow;
}

let counter = 0;
function openEngine(options: Partial<EngineOptions> & { clock?: Clock } = {}, db = join(folder, `engine-${counter++}.db`)): Engine {
  let ids = 0;
  const engine = new Engine({ db, random: () => 0.5, newId: () => `i${counter}-${++ids}`, onVersionRefused: () => {}, ...options });
  engines.push(engine);
  return engine;
}

describe('a step that hangs', () => {
  it('fails with laneflow.Timeout after its timeout, its signal aborted, while other instances run their timers on time', async () => {
    const engine = openEngine({ clock: wallClock, stepTimeout: '300ms' });
    let aborted: unknown;
    const { machine } = engine.deploy(
      flowOf(FLOW),
      defineBindings({
        nodes: {
          n2: {
            handler: (ctx) =>
              ctx.data['hang'] === true
                ? new Promise<undefined>((resolve) => ctx.signal.addEventListener('abort', () => ((aborted = ctx.signal.reason), resolve(undefined))))
                : {},
            retry: false,
          },
          n3: async (ctx) => {
            await ctx.sleep(150);
            return { napped: ctx.now().getTime() };
          },
          n4: () => 'Yes',
        },
      }),
    );
    const hung = engine.start(machine!.version, { input: { hang: true } });
    const started = Date.now();
    const others = engine.startMany(machine!.version, [{}, {}, {}]);
    await engine.runUntilIdle();
    const failed = engine.instance(hung)!;
    expect(failed.status).toBe('failed');
    expect(failed.snapshot.error).toEqual({ name: 'laneflow.Timeout', message: 'n2 ran longer than its timeout of 0.3 s' });
    expect(String(aborted)).toContain('n2 ran longer than its timeout of 0.3 s');
    for (const id of others) {
      const instance = engine.instance(id)!;
      expect(instance.status).toBe('completed');
      // The 150 ms naps were woken while the hung step still ran (it ran 300 ms).
      expect((instance.snapshot.data['napped'] as number) - started).toBeLessThan(300);
    }
  });

  it('is committed up to the step that hangs: steps chained before it are durable while it runs', async () => {
    const engine = openEngine({ clock: wallClock });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { machine } = engine.deploy(
      flowOf(FLOW),
      defineBindings({ nodes: { n2: () => ({ called: true }), n3: async () => {
            await gate;
            return { napped: true };
          }, n4: () => 'Yes' } }),
    );
    const id = engine.start(machine!.version);
    const running = engine.runUntilIdle();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const during = engine.instance(id)!;
    expect(during.snapshot.tokens.map((t) => t.node)).toEqual(['n3']);
    expect(during.journal.map((e) => `${e.node}:${e.outcome}`)).toContain('n2:completed');
    expect(during.leaseOwner).not.toBeNull();
    release();
    await running;
    expect(engine.instance(id)!.status).toBe('completed');
  });

  it('does not stop a worker: a stop waits the drain time, aborts the step and lets its instance go for another worker at once', async () => {
    const engine = openEngine({ clock: wallClock, drainTimeout: '200ms', stepTimeout: '1h' });
    let aborted = false;
    const { machine } = engine.deploy(
      flowOf(FLOW),
      defineBindings({ nodes: { n2: (ctx) => new Promise<undefined>(() => ctx.signal.addEventListener('abort', () => (aborted = true))), n3: () => ({}), n4: () => 'Yes' } }),
    );
    const id = engine.start(machine!.version);
    const stop = new AbortController();
    const working = engine.work(stop.signal);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(engine.instance(id)!.leaseOwner).not.toBeNull();
    const stopped = Date.now();
    stop.abort();
    const summary = await working;
    expect(Date.now() - stopped).toBeGreaterThanOrEqual(190);
    expect(Date.now() - stopped).toBeLessThan(2000);
    expect(summary.abandoned).toBe(1);
    expect(aborted).toBe(true);
    const after = engine.instance(id)!;
    expect(after.leaseOwner).toBeNull();
    expect(after.wakeAt).toBeLessThanOrEqual(Date.now());
    expect(after.snapshot.tokens).toMatchObject([{ node: 'n2', state: 'ready' }]);
    expect(engine.workers()).toEqual([]);
  });
});

describe('errors that no retry can mend', () => {
  it.each([
    ['a label its diamond does not have', () => 'Maybe', 'decision n4 returned "Maybe"; its labels are "Yes", "No"'],
    ['a number', () => 42, 'decision n4 returned 42; it must return one of its labels "Yes", "No"'],
    ['nothing', () => undefined, 'decision n4 returned nothing (undefined); it must return one of its labels "Yes", "No"'],
    ['an object', async () => ({ by: 'Yes' }), 'decision n4 returned {"by":"Yes"}; it must return one of its labels "Yes", "No"'],
  ])('fail a decision returning %s at once, naming what it returned, though a retry policy and a catch route match every error', async (_, decide, message) => {
    const engine = openEngine({ clock: new VirtualClock(T0) });
    let runs = 0;
    const { machine } = engine.deploy(
      flowOf(FLOW),
      defineBindings({
        nodes: {
          n2: () => ({}),
          n3: () => ({}),
          n4: { handler: ((ctx: unknown) => (runs++, (decide as (ctx: unknown) => unknown)(ctx))) as never, retry: { maxAttempts: 5 }, catch: 'n6' },
        },
      }),
    );
    const id = engine.start(machine!.version);
    await engine.runUntilIdle();
    const instance = engine.instance(id)!;
    expect(runs).toBe(1);
    expect(instance.status).toBe('failed');
    expect(instance.snapshot.error).toEqual({ name: 'laneflow.InvalidLabel', message });
    expect(instance.journal.filter((e) => e.node === 'n4').map((e) => e.outcome)).toEqual(['dead-letter']);
  });

  it('fails a step returning something that is not a data patch at once', async () => {
    const engine = openEngine({ clock: new VirtualClock(T0) });
    let runs = 0;
    const { machine } = engine.deploy(flowOf(FLOW), defineBindings({ nodes: { n2: () => (runs++, 'done' as never), n3: () => ({}), n4: () => 'Yes' } }));
    const id = engine.start(machine!.version);
    await engine.runUntilIdle();
    expect(runs).toBe(1);
    expect(engine.instance(id)!.snapshot.error).toEqual({ name: 'laneflow.InvalidResult', message: 'n2 returned "done"; a step returns a data patch object or nothing' });
  });
});

describe('versions that include the code', () => {
  const BINDINGS = (marker: string) => `import { mark } from './helper.mjs';
export default {
  nodes: {
    n2: () => ({ called: mark('${marker}') }),
    n3: async (ctx) => { await ctx.sleep('1d'); return { napped: true }; },
    n4: () => 'Yes',
  },
};
`;

  function project(name: string): { dir: string; flow: string; bindings: string; helper: string } {
    const dir = join(folder, name);
    mkdirSync(dir, { recursive: true });
    const paths = { dir, flow: join(dir, 'ops.flow'), bindings: join(dir, 'ops.bindings.mjs'), helper: join(dir, 'helper.mjs') };
    writeFileSync(paths.flow, FLOW);
    writeFileSync(paths.bindings, BINDINGS('v1'));
    writeFileSync(paths.helper, 'export const mark = (m) => `${m} via helper 1`;\n');
    return paths;
  }

  it('changes when the binding module or a local module it imports changes, and not otherwise', async () => {
    const paths = project('hash');
    const engine = openEngine();
    const flow = flowOf(FLOW, paths.flow);
    const v1 = (await engine.deployModule(flow, paths.bindings)).machine!;
    expect((await engine.deployModule(flow, paths.bindings)).machine!.version).toBe(v1.version);
    writeFileSync(paths.helper, 'export const mark = (m) => `${m} via helper 2`;\n');
    const v2 = (await engine.deployModule(flow, paths.bindings)).machine!;
    expect(v2.version).not.toBe(v1.version);
    expect(v2.flowVersion).toBe(v1.flowVersion);
    writeFileSync(paths.bindings, BINDINGS('v3'));
    const v3 = (await engine.deployModule(flow, paths.bindings)).machine!;
    expect(new Set([v1.version, v2.version, v3.version]).size).toBe(3);
  });

  it('leaves instances of changed code alone, says why, and runs them on the new code only once upgraded', async () => {
    const paths = project('changed');
    const clock = new VirtualClock(T0);
    const db = join(folder, 'changed.db');
    const first = openEngine({ clock }, db);
    const flow = flowOf(FLOW, paths.flow);
    const v1 = (await first.deployModule(flow, paths.bindings)).machine!;
    const ids = first.startMany(v1.version, [{}, {}]);
    await first.runUntilIdle({ horizon: T0 });
    expect(ids.map((id) => first.instance(id)!.snapshot.tokens[0]!.state)).toEqual(['sleeping', 'sleeping']);
    first.close();

    // The helper the bindings import changes while the instances sleep.
    writeFileSync(paths.helper, 'export const mark = (m) => `${m} via helper 2`;\n');
    const refusals: string[] = [];
    const second = openEngine({ clock, onVersionRefused: (version, reason) => refusals.push(`${version}: ${reason}`) }, db);
    const before = ids.map((id) => second.instance(id)!.journal.length);
    const { steps } = await second.runUntilIdle();
    expect(steps).toBe(0);
    expect(ids.map((id) => second.instance(id)!.journal.length)).toEqual(before);
    expect(refusals).toEqual([expect.stringMatching(new RegExp(`^${v1.version}: its code changed since it was deployed: .*ops\\.bindings\\.mjs`))]);
    const versions = await second.versions();
    expect(versions).toEqual([expect.objectContaining({ version: v1.version, running: 2, workers: [], refused: expect.stringContaining('its code changed') })]);

    // Moving them is explicit.
    const v2 = (await second.deployModule(flow, paths.bindings)).machine!;
    expect(second.upgrade(ids, v2.version)).toEqual(ids.map((id) => ({ id, from: v1.version, moved: true })));
    await second.runUntilIdle();
    for (const id of ids) {
      const instance = second.instance(id)!;
      expect(instance.status).toBe('completed');
      expect(instance.machine).toBe(v2.version);
      expect(instance.journal.map((e) => e.outcome)).toContain('upgraded');
    }
  });

  it('runs an instance on its own code again when the files are back as they were', async () => {
    const paths = project('reverted');
    const clock = new VirtualClock(T0);
    const db = join(folder, 'reverted.db');
    const first = openEngine({ clock }, db);
    const v1 = (await first.deployModule(flowOf(FLOW, paths.flow), paths.bindings)).machine!;
    const id = first.start(v1.version);
    await first.runUntilIdle({ horizon: T0 });
    first.close();
    const original = readFileSync(paths.helper, 'utf8');
    writeFileSync(paths.helper, 'export const mark = () => "changed";\n');
    writeFileSync(paths.helper, original);
    const second = openEngine({ clock }, db);
    await second.runUntilIdle();
    expect(second.instance(id)!.status).toBe('completed');
    expect(second.instance(id)!.snapshot.data['called']).toBe('v1 via helper 1');
  });

  it('refuses to move an instance to a version without the node it is at, and leaves it as it was', async () => {
    const paths = project('refused');
    const engine = openEngine({ clock: new VirtualClock(T0) });
    const v1 = (await engine.deployModule(flowOf(FLOW, paths.flow), paths.bindings)).machine!;
    const id = engine.start(v1.version);
    await engine.runUntilIdle({ horizon: T0 });
    const without = FLOW.replace('  n3: rectangle label:"Nap"\n', '').replace('n2.handle(right) -> n3.handle(left)\n  n3.handle(right) -> n4.handle(left)', 'n2.handle(right) -> n4.handle(left)');
    const v2 = engine.deploy(flowOf(without, paths.flow), defineBindings({ nodes: { n2: () => ({}), n4: () => 'Yes' } })).machine!;
    const [result] = engine.upgrade([id], v2.version);
    expect(result).toEqual({ id, from: v1.version, refused: `version ${v2.version} has no node n3 "Nap", where the instance is (sleeping)` });
    expect(engine.instance(id)!.machine).toBe(v1.version);
  });
});
