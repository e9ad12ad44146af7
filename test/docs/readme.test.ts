import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkSource, declareTypes, DEFAULT_LOOP_BOUND, Engine, VirtualClock, type CompiledFlow, type FlowBindings, type HandlerContext, type JsonObject } from '../../src/index';
import { repoRoot } from '../helpers/cases';
import { laneflow } from '../helpers/cli';
import { codeBlocks, codeSpans, namesIn, paragraph, readmeTokens, section, tableRows, tables } from './markdown';

// Issue 13: the README's reference sections, checked as written. Their ```flow examples must
// check with the diagnostics the text after each names, their ```ts examples must type-check
// against the library and behave, when run, as the text says.

const tokens = readmeTokens();
const language = section(tokens, 'The .flow language');
const bindingsSection = section(tokens, 'Writing bindings');
const readmeText = [language, bindingsSection].flat().map((t) => t.raw).join('');
const [checkoutBlock, ...otherFlows] = codeBlocks(language, 'flow');
const bindingsBlock = codeBlocks(bindingsSection, 'ts').find((block) => block.text.includes('export default defineBindings'))!;
const signalResultBlock = codeBlocks(bindingsSection, 'ts').find((block) => block.text.includes('type SignalResult'))!;

const START = Date.parse('2025-01-01T00:00:00Z');
const scratch = () => mkdtempSync(join(tmpdir(), 'laneflow-readme-'));

/** The diagnostics codes the sentence after a flow example names: "`laneflow check` reports no problems" or "… the warnings FZ307, …". */
function statedCodes(after: string): string[] {
  expect(after, 'a flow example is followed by what `laneflow check` says of it').toMatch(/^`laneflow check` (reports no problems|accepts it with the warnings? )/);
  return [...new Set(after.match(/FZ\d{3}/g) ?? [])].sort();
}

function checked(text: string, path = 'checkout.flow'): CompiledFlow {
  const { flow, diagnostics } = checkSource(path, text);
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return flow!;
}

const checkoutFlow = () => checked(checkoutBlock!.text);

function engine(): Engine {
  return new Engine({ db: ':memory:', clock: new VirtualClock(START) });
}

/** Runs the flow with bindings to its end, counting each node's handler runs. */
async function run(flow: CompiledFlow, bindings: FlowBindings, input: JsonObject, before?: (engine: Engine, id: string) => void) {
  const e = engine();
  const runs: Record<string, number> = {};
  const { machine, diagnostics } = e.deploy(flow, bindings, {
    intercept: (ctx, handler) => {
      runs[ctx.node.id] = (runs[ctx.node.id] ?? 0) + 1;
      return handler(ctx);
    },
  });
  expect(diagnostics).toEqual([]);
  const id = e.start(machine!.version, { input });
  before?.(e, id);
  await e.runUntilIdle();
  const instance = e.instance(id)!;
  e.close();
  return { instance, machine: machine!, runs };
}

describe('README: The .flow language', () => {
  it('has flow examples, each followed by what `laneflow check` says of it', () => {
    expect(checkoutBlock).toBeDefined();
    expect(otherFlows.length).toBeGreaterThan(0);
  });

  it.each(codeBlocks(language, 'flow').map((block, index) => [index + 1, block] as const))('flow example %i checks with exactly the diagnostics stated', (_, block) => {
    const { diagnostics } = checkSource('example.flow', block.text);
    expect(diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.message}`)).toEqual([]);
    expect([...new Set(diagnostics.map((d) => d.code))].sort()).toEqual(statedCodes(block.after));
  });

  it('reads the lenient example as the text says', () => {
    const lenient = otherFlows.find((block) => block.text.includes('{#Operations'))!;
    const flow = checked(lenient.text, 'lenient.flow');
    expect(flow.lanes.map((l) => [l.id, l.label])).toEqual([['Ops', 'Operations'], ['Billing', 'Billing']]);
    expect(flow.nodes.find((n) => n.id === 'n7')!.label).toBe('Say "hi" \\ bye');
    expect(flow.edges.find((e) => e.to.node === 'n7')!.label).toBe('Bill it');
    expect(flow.edges.find((e) => e.id === 'n4->n2')!).toMatchObject({ from: { side: 'right', inferred: true }, to: { side: 'left', inferred: true } });
    expect(lenient.after).toContain('`n7`\'s label is `Say "hi" \\ bye`');
  });

  it('takes the loop bound from the first whole number of the condition, else DEFAULT_LOOP_BOUND, else the binding', () => {
    expect(DEFAULT_LOOP_BOUND).toBe(10);
    expect(readmeText).toContain('default bound of 10');
    const boundOf = (condition: string, loops?: Record<string, number>) => {
      expect(readmeText).toContain(condition);
      const flow = checked(checkoutBlock!.text.replace('[retry up to 3 times]', `[${condition}]`));
      const { machine } = engine().deploy(flow, { nodes: { n2: () => undefined, n4: () => undefined, n5: () => 'Yes', n6: () => undefined }, ...(loops !== undefined && { loops }) });
      const { bound, boundFrom } = machine!.loops['loop1']!;
      return [bound, boundFrom];
    };
    expect(boundOf('retry up to 3 times')).toEqual([3, 'condition']);
    expect(boundOf('at most 5 rounds')).toEqual([5, 'condition']);
    expect(boundOf('2-3 tries')).toEqual([2, 'condition']);
    expect(boundOf('until it works')).toEqual([10, 'default']);
    expect(boundOf('up to three times')).toEqual([10, 'default']);
    expect(readmeText).toContain('`loops: { loop1: 5 }`');
    expect(boundOf('retry up to 3 times', { loop1: 5 })).toEqual([5, 'binding']);
  });

  it('prints the loop and the path that runs out in `laneflow paths`', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'checkout.flow'), checkoutBlock!.text);
    const paths = laneflow(['paths', 'checkout.flow'], { cwd: dir, launcher: 'bin/laneflow.js' });
    const stated = /`laneflow paths` prints\s+`([^`]+)`/.exec(readmeText)![1]!;
    expect(paths.stdout).toContain(stated);
    expect(paths.stdout).toContain('loop1 runs out when the token enters n4 "Charge card" again');
  });
});

describe('README: Writing bindings', () => {
  let dir: string;
  let bindings: FlowBindings;

  beforeAll(async () => {
    dir = scratch();
    writeFileSync(join(dir, 'checkout.flow'), checkoutBlock!.text);
    writeFileSync(join(dir, 'checkout.flow.d.ts'), declareTypes(checkoutFlow()));
    // The example as a user writes it, importing `laneflow`; run here against the source.
    const runnable = join(dir, 'checkout.run.ts');
    writeFileSync(runnable, bindingsBlock.text.replace("from 'laneflow'", `from ${JSON.stringify(`${repoRoot}src/index.ts`)}`));
    bindings = ((await import(pathToFileURL(runnable).href)) as { default: FlowBindings }).default;
  });

  it('type-checks every example against the library, and tsc rejects a wrong label or key as the text says', () => {
    writeFileSync(join(dir, 'checkout.bindings.ts'), bindingsBlock.text);
    expect(bindingsBlock.text).toContain("(ctx.data.paidWith === undefined ? 'No' : 'Yes')");
    writeFileSync(join(dir, 'wrong-label.bindings.ts'), bindingsBlock.text.replace("? 'No' : 'Yes'", "? 'No' : 'Maybe'"));
    writeFileSync(join(dir, 'wrong-key.bindings.ts'), bindingsBlock.text.replace("'Paid?':", "'Refund card': () => undefined,\n    'Paid?':"));
    // The SignalResult the README shows is the library's, both ways.
    writeFileSync(
      join(dir, 'signal-result.ts'),
      `import type { Json, SignalResult as Library } from 'laneflow';\n${signalResultBlock.text}\n` +
        'type Same = [SignalResult] extends [Library] ? ([Library] extends [SignalResult] ? true : false) : false;\nexport const same: Same = true;\n',
    );
    // Every member of the context table exists, and every member of HandlerContext is in the table.
    const members = tableRows(bindingsSection, 'member').map(([cell]) => /^`ctx\.(\w+)/.exec(cell!)![1]!);
    expect(members.length).toBeGreaterThan(10);
    writeFileSync(
      join(dir, 'context.ts'),
      "import type { HandlerContext } from 'laneflow';\n" +
        `export const read = (ctx: HandlerContext) => [${members.map((m) => `ctx.${m}`).join(', ')}];\n` +
        `type Undocumented = Exclude<keyof HandlerContext, ${members.map((m) => `'${m}'`).join(' | ')}>;\n` +
        'export const everyMemberDocumented: [Undocumented] extends [never] ? true : Undocumented = true;\n',
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: `${repoRoot}tsconfig.json`,
        compilerOptions: { paths: { laneflow: [`${repoRoot}src/index.ts`] }, typeRoots: [`${repoRoot}node_modules/@types`] },
        include: ['*.ts', `${repoRoot}src/render/svgdom.d.ts`],
        exclude: ['checkout.run.ts'],
      }),
    );
    const tsc = spawnSync(process.execPath, [`${repoRoot}node_modules/typescript/bin/tsc`, '-p', dir], { encoding: 'utf8' });
    const errors = tsc.stdout.split('\n').filter((line) => / error TS\d+/.test(line));
    const files = [...new Set(errors.map((line) => basename(line.slice(0, line.indexOf('(')))))].sort();
    expect(files, tsc.stdout).toEqual(['wrong-key.bindings.ts', 'wrong-label.bindings.ts']);
    expect(errors.find((line) => line.includes('wrong-label.bindings.ts'))).toContain('"Maybe"');
    expect(errors.find((line) => line.includes('wrong-key.bindings.ts'))).toContain('Refund card');
  }, 60_000);

  it('runs out of its loop as stated: 3 charges, each decline reviewed and waited on, then laneflow.LoopExhausted', async () => {
    const input = { card: 'pm_card_declined', amountCents: 500 };
    expect(readmeText).toContain(`--input '${JSON.stringify(input).replace(/,/g, ', ').replace(/":/g, '": ')}'`);
    const { instance, machine, runs } = await run(checkoutFlow(), bindings, input);
    expect(machine.loops['loop1']).toMatchObject({ condition: 'retry up to 3 times', bound: 3, boundFrom: 'condition' });
    expect(instance.status).toBe('failed');
    expect(instance.snapshot.error).toEqual({ name: 'laneflow.LoopExhausted', message: 'loop exhausted: "retry up to 3 times" allows 3 iterations' });
    expect(readmeText).toContain('`loop exhausted: "retry up to 3 times" allows 3 iterations`');
    // The first node of the loop ran 3 times; the handlers that sleep or wait ran twice per visit: again from the top.
    expect(runs).toEqual({ n4: 3, n5: 3, n6: 6, n2: 6 });
    expect(readmeText).toContain('`Review decline` runs\n  twice per decline');
    // Each patch's array replaced the last one: merged arrays would have grown to 1 + 2 + 3 entries.
    expect(instance.snapshot.data).toEqual({ ...input, declines: ['pm_card_declined', 'pm_card_declined', 'pm_card_declined'] });
    expect(readmeText).toContain('`"declines": ["pm_card_declined", "pm_card_declined", "pm_card_declined"]`');
    // Emitted once per visit, by the run that returned, not by the run that parked.
    expect(instance.outbox.map((e) => [e.kind, (e.payload as { triesLeft: number }).triesLeft])).toEqual([
      ['email.declined', 2],
      ['email.declined', 1],
      ['email.declined', 0],
    ]);
  });

  it('starts the loop over on `laneflow retry`: 3 more charges, then laneflow.LoopExhausted again', async () => {
    const e = engine();
    let charges = 0;
    const { machine } = e.deploy(checkoutFlow(), bindings, {
      intercept: (ctx, handler) => {
        if (ctx.node.id === 'n4') charges++;
        return handler(ctx);
      },
    });
    const id = e.start(machine!.version, { input: { card: 'pm_card_declined', amountCents: 500 } });
    await e.runUntilIdle();
    expect([e.instance(id)!.status, charges]).toEqual(['failed', 3]);
    expect(readmeText).toContain('`laneflow retry <instance>` resumes it at that node with the loop\'s count started again');
    e.retry(id);
    await e.runUntilIdle();
    expect([e.instance(id)!.status, e.instance(id)!.snapshot.error!.name, charges]).toEqual(['failed', 'laneflow.LoopExhausted', 6]);
    e.close();
  });

  it("hands laneflow.LoopExhausted to the first node's catch route when it has one", async () => {
    const withCancel = `${checkoutBlock!.text}\nSupport { # Support\n  n7: rectangle label:"Cancel order"\n  n8: circle label:"Order cancelled"\n  n7.handle(right) -> n8.handle(left)\n}\n`;
    const nodes = bindings.nodes as Record<string, unknown>;
    const { instance } = await run(checked(withCancel), {
      nodes: { ...nodes, 'Charge card': { handler: nodes['Charge card'] as () => undefined, catch: 'Cancel order' }, 'Cancel order': (ctx: HandlerContext) => ({ cancelled: ctx.caught!.name }) },
    }, { card: 'pm_card_declined', amountCents: 500 });
    expect(instance.status).toBe('completed');
    expect(instance.snapshot.data['cancelled']).toBe('laneflow.LoopExhausted');
    expect(readmeText).toContain("the node's `catch` route takes it when one matches\n(`laneflow.LoopExhausted` or `States.ALL`)");
  });

  it('completes at "Order paid" when the new card is signalled, even before the wait', async () => {
    const { instance } = await run(checkoutFlow(), bindings, { card: 'pm_card_declined', amountCents: 500 }, (e, id) => e.signal(id, 'card-updated', { card: 'pm_card_visa' }));
    expect(instance.status).toBe('completed');
    expect(instance.journal.filter((entry) => entry.outcome === 'ended').map((entry) => entry.node)).toEqual(['n3']);
    expect(instance.snapshot.data).toMatchObject({ card: 'pm_card_visa', paidWith: 'pm_card_visa', declines: ['pm_card_declined'] });
  });

  it('runs the documented CLI command with the stated exit code, data and effects', () => {
    const cliDir = scratch();
    writeFileSync(join(cliDir, 'checkout.flow'), checkoutBlock!.text);
    writeFileSync(join(cliDir, 'checkout.bindings.ts'), bindingsBlock.text.replace("from 'laneflow'", `from ${JSON.stringify(`${repoRoot}src/runtime/define.ts`)}`));
    const command = /`(laneflow run checkout\.flow --clock virtual --input '([^']+)')`/.exec(readmeText)!;
    const result = laneflow(['run', 'checkout.flow', '--clock', 'virtual', '--db', join(cliDir, 'checkout.db'), '--input', command[2]!], { cwd: cliDir, launcher: 'bin/laneflow.js' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('failed: laneflow.LoopExhausted');
    expect(result.stdout.match(/email\.declined +card=pm_card_declined triesLeft=\d/g)).toEqual([2, 1, 0].map((n) => `email.declined  card=pm_card_declined triesLeft=${n}`));
  }, 60_000);

  describe("waitFor's result", () => {
    const recordUpdate: FlowBindings = {
      nodes: {
        'Charge card': () => undefined,
        'Paid?': (ctx: HandlerContext) => (ctx.visit === 1 ? 'No' : 'Yes'),
        'Review decline': () => undefined,
        // As text: a null inside a patch would delete its key.
        'Wait for card update': async (ctx: HandlerContext) => ({ update: JSON.stringify(await ctx.waitFor('card-updated', { timeout: '3d' })) }),
      },
    };
    const updateOf = async (signal?: (e: Engine, id: string) => void) => JSON.parse((await run(checkoutFlow(), recordUpdate, {}, signal)).instance.snapshot.data['update'] as string) as unknown;

    it('is { received: false, timedOut: true } after the timeout, with no other field', async () => {
      expect(await updateOf()).toStrictEqual({ received: false, timedOut: true });
    });

    it('is { received: true, payload } for a signal, payload null when sent without one', async () => {
      expect(await updateOf((e, id) => e.signal(id, 'card-updated', { card: 'pm_card_visa' }))).toStrictEqual({ received: true, payload: { card: 'pm_card_visa' } });
      expect(await updateOf((e, id) => e.signal(id, 'card-updated'))).toStrictEqual({ received: true, payload: null });
    });
  });

  describe('what runs again', () => {
    it('a parked run does not reach its finally; a retry waits again', async () => {
      let finallyRuns = 0;
      const { instance, runs } = await run(
        checkoutFlow(),
        {
          nodes: {
            'Charge card': () => undefined,
            'Paid?': (ctx: HandlerContext) => (ctx.visit === 1 ? 'No' : 'Yes'),
            'Review decline': async (ctx: HandlerContext) => {
              try {
                await ctx.sleep('1h');
              } finally {
                finallyRuns++;
              }
            },
            'Wait for card update': {
              retry: { intervalSeconds: 0 },
              handler: async (ctx: HandlerContext) => {
                const update = await ctx.waitFor('card-updated', { timeout: '3d' });
                if (ctx.attempt === 1) throw new Error('after the signal');
                return { update, attempt: ctx.attempt };
              },
            },
          },
        },
        {},
        (e, id) => e.signal(id, 'card-updated', { card: 'pm_card_visa' }),
      );
      expect(finallyRuns).toBe(1);
      expect(runs['n6']).toBe(2);
      // Attempt 1 took the signal and threw; attempt 2 waited again, and timed out.
      expect(instance.snapshot.data).toEqual({ update: { received: false, timedOut: true }, attempt: 2 });
    });
  });

  describe('the context', () => {
    const steps = (wait: (ctx: HandlerContext) => unknown): FlowBindings => ({
      nodes: { 'Charge card': () => undefined, 'Paid?': (ctx: HandlerContext) => (ctx.visit === 1 ? 'No' : 'Yes'), 'Review decline': () => undefined, 'Wait for card update': wait as () => undefined },
    });

    it('gives each run its own now(), and a waitFor without timeout waits for its signal however long', async () => {
      const e = engine();
      const runsAt: string[] = [];
      const { machine } = e.deploy(checkoutFlow(), steps(async (ctx) => {
        runsAt.push(ctx.now().toISOString());
        await ctx.sleep('1h');
        const update = await ctx.waitFor('card-updated');
        return { got: update.received };
      }));
      const id = e.start(machine!.version, {});
      await e.runUntilIdle();
      expect(e.instance(id)!).toMatchObject({ status: 'running', wakeAt: null, snapshot: { tokens: [{ node: 'n2', state: 'waiting', signal: 'card-updated' }] } });
      e.signal(id, 'card-updated', { card: 'pm_card_visa' });
      await e.runUntilIdle();
      expect(e.instance(id)!).toMatchObject({ status: 'completed', snapshot: { data: { got: true } } });
      expect(runsAt).toEqual(['2025-01-01T00:00:00.000Z', '2025-01-01T01:00:00.000Z', '2025-01-01T01:00:00.000Z']);
      expect(() => e.signal(id, 'card-updated')).toThrow(/only running instances take signals/);
      e.close();
    });

    it('throws on an effect of the same kind emitted twice in one run, and fails the step on a bad duration', async () => {
      const twice = await run(checkoutFlow(), steps((ctx) => {
        ctx.emit('email.declined', {});
        ctx.emit('email.declined', {});
      }), {});
      expect(twice.instance.snapshot.error!.message).toContain('emitted "email.declined" twice in one run');
      const badDuration = await run(checkoutFlow(), steps((ctx) => ctx.sleep('2 days' as '2d')), {});
      expect(badDuration.instance.snapshot.error!.message).toContain('is not a duration');
    });
  });

  describe('what a handler returns', () => {
    // Retries and catch routes on both: a mistake in the code must not use them.
    const returning = (charge: () => unknown, paid: () => unknown): FlowBindings => ({
      nodes: {
        'Charge card': { handler: charge as () => undefined, retry: { maxAttempts: 3, intervalSeconds: 1 }, catch: 'Review decline' },
        'Paid?': { handler: paid as () => string, retry: { maxAttempts: 3, intervalSeconds: 1 }, catch: 'Review decline' },
        'Review decline': () => undefined,
        'Wait for card update': () => undefined,
      },
    });

    it('merges patches as the README example says', async () => {
      const example = codeSpans(paragraph(bindingsSection, 'Data `'));
      const [data, patch, result] = [JSON.parse(example[0]!) as JsonObject, new Function(`return (${example[1]})`)() as JsonObject, JSON.parse(example[2]!) as JsonObject];
      expect(patch['tags']).toEqual(['c']);
      const { instance } = await run(checkoutFlow(), returning(() => patch, () => 'Yes'), data);
      expect(instance.snapshot.data).toEqual(result);
      expect(instance.journal.find((e) => e.outcome === 'completed' && e.node === 'n4')!.detail).toEqual({ patch });
    });

    it('turns the patch into JSON first', async () => {
      const { instance } = await run(checkoutFlow(), returning(() => ({ when: new Date(START), skipped: undefined }), () => 'Yes'), {});
      expect(instance.snapshot.data).toStrictEqual({ when: '2025-01-01T00:00:00.000Z' });
    });

    it('deletes a key set to null at any depth, so a patch cannot store null', async () => {
      const { instance } = await run(checkoutFlow(), returning(() => ({ kept: { gone: null }, gone: null }), () => 'Yes'), { gone: 1 });
      expect(instance.snapshot.data).toStrictEqual({ kept: {} });
      expect(readmeText).toContain('a patch cannot store `null`');
    });

    it('matches a decision label trimmed and case-insensitively', async () => {
      const { instance } = await run(checkoutFlow(), returning(() => undefined, () => '  YES '), {});
      expect(instance.status).toBe('completed');
      expect(readmeText).toContain("(`'  no '` takes the edge `No`)");
    });

    it.each<[string, () => unknown, () => unknown, string]>([
      ['an array', () => ['x'], () => 'Yes', 'laneflow.InvalidResult'],
      ['a string', () => 'x', () => 'Yes', 'laneflow.InvalidResult'],
      ['a BigInt in the patch', () => ({ n: 1n }), () => 'Yes', 'laneflow.InvalidResult'],
      ['a label the diamond does not have', () => undefined, () => 'Maybe', 'laneflow.InvalidLabel'],
    ])('fails the instance at once on %s, with no retry and no catch', async (_, charge, paid, error) => {
      const { instance, runs } = await run(checkoutFlow(), returning(charge, paid), {});
      expect(instance.status).toBe('failed');
      expect(instance.snapshot.error!.name).toBe(error);
      expect(runs['n6']).toBeUndefined();
      expect(Object.values(runs)).not.toContain(2);
      expect(readmeText).toContain('instance at once: no retry policy and no `catch` route applies');
    });
  });

  it('makes the input the data, kept under snapshot.data', async () => {
    const input = { card: 'pm_card_visa', amountCents: 500 };
    const { instance } = await run(checkoutFlow(), bindings, input);
    expect(instance.snapshot.data).toEqual({ ...input, paidWith: 'pm_card_visa' });
    expect('data' in instance).toBe(false);
    expect(readmeText).toContain('`engine.instance(id).snapshot.data`');
  });
});

describe('README: laneflow inspect --json', () => {
  const inspectSection = section(tokens, 'Instances as JSON: laneflow inspect --json');
  const [listFields, summaryFields, detailFields] = tables(inspectSection, 'field').map((rows) => rows.map(([name, what]) => ({ names: namesIn(name!), what: what! })));
  const fieldNames = (rows: { names: string[] }[]) => rows.flatMap((row) => row.names).sort();
  const cellOf = (name: string) => detailFields!.find((row) => row.names.includes(name))!.what;
  const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
  const TIME_FIELDS = new Set(['at', 'createdAt', 'updatedAt', 'wakeAt', 'dueAt', 'since', 'leaseUntil']);

  /** Every time field anywhere in the output, which must be an ISO 8601 UTC string. */
  function times(value: unknown, found: unknown[] = []): unknown[] {
    if (Array.isArray(value)) for (const item of value) times(item, found);
    else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        if (TIME_FIELDS.has(key) && !Array.isArray(item) && item !== null) found.push(item);
        else times(item, found);
      }
    }
    return found;
  }

  it('prints the fields the tables name, every time as an ISO 8601 UTC string', () => {
    expect(inspectSection.map((t) => t.raw).join('')).toContain('Every time in this output is an ISO 8601 string in UTC');
    const dir = scratch();
    const db = join(dir, 'checkout.db');
    writeFileSync(join(dir, 'checkout.flow'), checkoutBlock!.text);
    writeFileSync(join(dir, 'checkout.bindings.ts'), bindingsBlock.text.replace("from 'laneflow'", `from ${JSON.stringify(`${repoRoot}src/runtime/define.ts`)}`));
    const cli = (args: string[]) => laneflow(args, { cwd: dir, launcher: 'bin/laneflow.js' });
    const input = JSON.stringify({ card: 'pm_card_declined', amountCents: 500 });
    // On the wall clock the run returns while "Review decline" sleeps for an hour; on a virtual one it runs out of its loop.
    expect(cli(['run', 'checkout.flow', '--db', db, '--input', input]).status).toBe(0);
    expect(cli(['run', 'checkout.flow', '--db', db, '--clock', 'virtual', '--input', input]).status).toBe(1);

    const list = JSON.parse(cli(['inspect', '--json', '--db', db]).stdout) as { counts: Record<string, number>; instances: Record<string, unknown>[] };
    expect(Object.keys(list).sort()).toEqual(fieldNames(listFields!));
    expect(list.counts).toEqual({ running: 1, completed: 0, failed: 1 });
    const [failed, sleeping] = list.instances;
    expect(failed!['status']).toBe('failed');
    expect(Object.keys(failed!).sort()).toEqual(fieldNames(summaryFields!));
    expect(failed).toMatchObject({ at: ['n4'], wakeAt: null, error: { name: 'laneflow.LoopExhausted' } });
    expect(Object.keys(sleeping!).sort()).toEqual(fieldNames(summaryFields!).filter((name) => name !== 'error'));
    expect(sleeping).toMatchObject({ status: 'running', at: ['n6'], wakeAt: expect.stringMatching(ISO_UTC) });

    const detailOf = (id: unknown) => JSON.parse(cli(['inspect', String(id), '--json', '--db', db]).stdout) as Record<string, unknown>;
    const sleepingDetail = detailOf(sleeping!['id']);
    expect(Object.keys(sleepingDetail).sort()).toEqual([...fieldNames(summaryFields!).filter((name) => name !== 'error'), ...fieldNames(detailFields!)].sort());
    const [token] = sleepingDetail['tokens'] as Record<string, unknown>[];
    expect(token).toMatchObject({ node: 'n6', state: 'sleeping', dueAt: expect.stringMatching(ISO_UTC) });
    const failedDetail = detailOf(failed!['id']);
    for (const [field, detail] of [['tokens', sleepingDetail], ['journal', failedDetail], ['outbox', failedDetail]] as const) {
      const rows = detail[field] as Record<string, unknown>[];
      expect(rows.length, field).toBeGreaterThan(0);
      for (const row of rows) for (const key of Object.keys(row)) expect(namesIn(cellOf(field)), `${field}.${key}`).toContain(key);
    }
    expect((failedDetail['outbox'] as { key: string; kind: string }[]).map((effect) => effect.key.endsWith(`:${effect.kind}`))).toEqual([true, true, true]);

    const allTimes = [list, sleepingDetail, failedDetail].flatMap((output) => times(output));
    expect(allTimes.length).toBeGreaterThan(20);
    for (const time of allTimes) expect(time).toMatch(ISO_UTC);
  }, 60_000);
});
