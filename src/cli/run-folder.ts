import { basename, dirname, join } from 'node:path';
import { collectFlowFiles, InputError } from '../lib/files';
import type { Clock } from '../runtime/clock';
import type { JsonObject } from '../runtime/types';
import { EXIT_PROBLEMS, output } from './output';
import {
  clockOf,
  compiledFlow,
  describeState,
  effectList,
  inputOf,
  iso,
  printBindDiagnostics,
  runInstance,
  type RunOptions,
  withEngine,
} from './runtime';

/** How one flow of the folder ended. */
type Outcome = 'completed' | 'waiting' | 'failed' | 'not run';

/**
 * `laneflow run <folder>`: one instance of every flow in the folder, each bound by the binding
 * module beside it, one after the other in one database, each on its own clock (a virtual one
 * starts where the first did). Prints per flow its instance, final state, time span and effects.
 *
 * Exit 0 when no instance failed and none is left waiting on a virtual clock: there every timer
 * fires, so the flows' default inputs all run to an end, and an instance still waiting waits for
 * a signal that nothing will send. On the wall clock a waiting instance is normal (a worker
 * continues it). Exit 1 otherwise, or when a flow does not compile or bind.
 */
export async function runFolder(folder: string, options: RunOptions): Promise<number> {
  if (options.dry === true || options.detach === true || options.bindings !== undefined || options.start !== undefined) {
    throw new InputError('run <folder> runs each flow with its own binding module and start: --dry, --detach, --bindings and --start take a single .flow file');
  }
  const files = collectFlowFiles([folder]).sort();
  const input = inputOf(options);
  const { defaultBindingsPath } = await import('../runtime/bindings');
  const { VirtualClock } = await import('../runtime/clock');
  const virtualStart = (await clockOf(options.clock))?.now();
  const outcomes: Outcome[] = [];
  for (const [index, file] of files.entries()) {
    if (index > 0) output.out('\n');
    const clock = virtualStart === undefined ? undefined : new VirtualClock(virtualStart);
    outcomes.push(await runFlow(file, defaultBindingsPath(file), input, options, clock));
  }
  const count = (outcome: Outcome) => outcomes.filter((o) => o === outcome).length;
  const parts = [`${count('completed')} completed`, `${count('waiting')} waiting`, `${count('failed')} failed`];
  if (count('not run') > 0) parts.push(`${count('not run')} not run`);
  output.out(`\n${files.length} flow${files.length === 1 ? '' : 's'} in ${folder}: ${parts.join(', ')} (database ${options.db})\n`);
  const virtual = virtualStart !== undefined;
  if (count('waiting') > 0) output.out(`\`laneflow worker --db ${options.db}\` continues the waiting ones\n`);
  const fine = outcomes.every((outcome) => outcome === 'completed' || (outcome === 'waiting' && !virtual));
  return fine ? 0 : EXIT_PROBLEMS;
}

async function runFlow(file: string, bindingsPath: string | undefined, input: JsonObject, options: RunOptions, clock: Clock | undefined): Promise<Outcome> {
  const name = basename(file);
  const flow = compiledFlow(file);
  if (flow === undefined) {
    output.out(`${name}: not run: it does not compile\n`);
    return 'not run';
  }
  if (bindingsPath === undefined) {
    output.out(`${name}: not run: no binding module (write ${join(dirname(file), basename(file, '.flow'))}.bindings.ts)\n`);
    return 'not run';
  }
  return withEngine(options.db, async (engine) => {
    const { machine, diagnostics } = await engine.deployModule(flow, bindingsPath);
    printBindDiagnostics(file, diagnostics);
    if (machine === undefined) {
      output.out(`${name}: not run: its bindings do not check\n`);
      return 'not run';
    }
    const { id, startedAt, sandboxNote } = await runInstance(engine, machine, input, options);
    const instance = engine.instance(id)!;
    const endedAt = engine.clock.virtual ? engine.clock.now() : instance.updatedAt;
    output.out(`${name}: ${id} ${describeState(instance, machine)}\n`);
    if (sandboxNote !== undefined) output.out(`  ${sandboxNote}\n`);
    output.out(`  ${engine.clock.virtual ? 'virtual time' : 'time'}: ${iso(startedAt)} → ${iso(endedAt)} (${span(endedAt - startedAt)})\n`);
    const effects = effectList(instance);
    output.out(effects === '' ? '  effects: none\n' : effects.replace(/^(?=.)/gm, '  '));
    if (instance.status === 'failed') return 'failed';
    return instance.status === 'completed' ? 'completed' : 'waiting';
  }, clock === undefined ? { creates: true } : { clock, creates: true });
}

/** A duration in the largest whole units: `30d 2h`, `5m`, `0s`. */
function span(ms: number): string {
  const units: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]];
  const parts: string[] = [];
  let rest = Math.max(0, Math.round(ms));
  for (const [unit, size] of units) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.length === 0 ? '0s' : parts.join(' ');
}
