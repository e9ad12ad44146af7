import { Option, type Command } from 'commander';
import { existsSync, rmSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { CompiledFlow, Machine } from '../compiler/types';
import { InputError, readSource, writeFileAtomic } from '../lib/files';
import { formatDiagnostic } from '../lib/report';
import { didYouMean } from '../lib/suggest';
import type { Clock } from '../runtime/clock';
import type { Duration, FlowBindings, HandlerDefinition } from '../runtime/define';
import { DEFAULT_DRAIN_TIMEOUT, DEFAULT_STEP_TIMEOUT, durationMs } from '../runtime/duration';
import type { Engine, EngineOptions, InstanceDetails, VersionInfo } from '../runtime/engine';
import type { InstanceRow } from '../runtime/sqlite-store';
import type { Json, JsonObject } from '../runtime/types';
import { checkFiles, printDiagnostics } from './check';
import { EXIT_PROBLEMS, output } from './output';
import type { LogFormat } from './worker-log';

const DEFAULT_DB = '.laneflow/laneflow.db';

/**
 * `compile`, `types`, `run`, `worker`, `inspect`, `signal` and `retry`. The runtime (and with
 * it better-sqlite3) is imported only when one of these runs, so `laneflow check` starts fast.
 */
export function registerRuntimeCommands(program: Command): void {
  program
    .command('compile')
    .description('print the state machine a .flow compiles to, bound to its handlers when there is a binding module')
    .argument('<file>', 'a .flow file')
    .option('--bindings <module>', 'binding module (default: <name>.bindings.ts beside the flow, if any)')
    .option('--ranges', 'keep source ranges in the output')
    .action(async (file: string, options: { bindings?: string; ranges?: boolean }) => {
      process.exitCode = await runCompile(file, options);
    });

  program
    .command('types')
    .description('generate the .d.ts that type-checks a flow\'s binding module')
    .argument('<file>', 'a .flow file')
    .option('--out <file>', 'where to write it, or - for standard output (default: <file>.d.ts beside the flow)')
    .action(async (file: string, options: { out?: string }) => {
      process.exitCode = await runTypes(file, options);
    });

  program
    .command('run')
    .description('start an instance of a flow (or of every flow in a folder) and run it until it completes, fails or waits')
    .argument('<file>', 'a .flow file, or a folder: one instance of each of its flows, in one database')
    .option('--bindings <module>', 'binding module (default: <name>.bindings.ts beside the flow)')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .option('--input <json>', 'the instance\'s initial data, a JSON object')
    .option('--start <node>', 'the start node, when the flow has several')
    .option('--detach', 'only start the instance; leave running it to `laneflow worker`')
    .option('--clock <clock>', 'wall (the default); virtual, a virtual clock from now on which every timer fires at once; or an ISO time to start the virtual clock at')
    .option('--dry', 'simulate in memory on a virtual clock: unbound steps pass, unbound decisions take --branch (or their first label)')
    .option('--branch <node=label>', 'with --dry, the label an unbound decision returns (repeatable)', (value: string, all: string[]) => [...all, value], [] as string[])
    .action(async (file: string, options: RunOptions) => {
      if (isFolder(file)) {
        const { runFolder } = await import('./run-folder');
        process.exitCode = await runFolder(file, options);
        return;
      }
      process.exitCode = await runRun(file, options);
    });

  program
    .command('worker')
    .description('run due work from a database until stopped (SIGINT/SIGTERM drain the steps in hand; a second one exits at once)')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .option('--batch <n>', 'instances driven at once', positiveInteger, 1000)
    .option('--lease <ms>', 'claim lease, renewed by a heartbeat every third of it; a dead worker\'s instances are resumed after it', positiveInteger, 30_000)
    .option('--poll <ms>', 'how often an idle worker looks for new work', positiveInteger, 250)
    .option('--step-timeout <duration>', 'how long a step may run when its binding sets no timeout (real time)', DEFAULT_STEP_TIMEOUT)
    .option('--drain <duration>', 'on SIGINT/SIGTERM, how long to wait for the steps in hand before letting them go to another worker', DEFAULT_DRAIN_TIMEOUT)
    .addOption(new Option('--log <format>', 'a line per step, for a person or as JSON lines (default: pretty on a terminal, else json)').choices(['pretty', 'json']))
    .action(async (options: WorkerOptions) => {
      process.exitCode = await runWorker(options);
    });

  program
    .command('versions')
    .description('list the machine versions with instances: how many run or wait, and which live workers have their code')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .option('--json', 'print JSON')
    .action(async (options: { db: string; json?: boolean }) => {
      process.exitCode = await runVersions(options);
    });

  program
    .command('upgrade')
    .description('move instances to another version of their flow: by default, the flow and binding module as they are now')
    .argument('[instances...]', 'instance ids (or unique prefixes)')
    .option('--from <version>', 'every running or failed instance of this version (or a unique prefix of it)')
    .option('--to <version>', 'a version deployed in the database (or a unique prefix of it)')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .action(async (instances: string[], options: UpgradeOptions) => {
      process.exitCode = await runUpgrade(instances, options);
    });

  program
    .command('inspect')
    .description('list instances, or show one instance\'s timeline')
    .argument('[instance]', 'an instance id (or a unique prefix of one)')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .option('--status <status>', 'list only running, completed or failed instances')
    .option('--limit <n>', 'how many instances to list', positiveInteger, 50)
    .option('--json', 'print JSON')
    .action(async (instance: string | undefined, options: InspectOptions) => {
      process.exitCode = await runInspect(instance, options);
    });

  program
    .command('signal')
    .description('send a signal to an instance, resuming a handler that waits for it')
    .argument('<instance>', 'an instance id (or a unique prefix of one)')
    .argument('<name>', 'the signal\'s name')
    .option('--payload <json>', 'the signal\'s payload, JSON')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .action(async (instance: string, name: string, options: { payload?: string; db: string }) => {
      const payload = options.payload === undefined ? null : parseJson(options.payload, '--payload');
      await withEngine(options.db, (engine) => {
        engine.signal(instance, name, payload);
        const signalled = engine.instance(instance)!;
        output.out(signalReport(signalled, name, engine.machine(signalled.machine)));
      }, { mustExist: true });
    });

  program
    .command('retry')
    .description('retry a failed instance (a dead letter) from its failed step')
    .argument('<instance>', 'an instance id (or a unique prefix of one)')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .action(async (instance: string, options: { db: string }) => {
      await withEngine(options.db, (engine) => {
        engine.retry(instance);
        output.out(`${engine.instance(instance)!.id} will be retried: \`laneflow worker --db ${options.db}\` resumes it\n`);
      }, { mustExist: true });
    });
}

export interface RunOptions {
  bindings?: string;
  db: string;
  input?: string;
  start?: string;
  detach?: boolean;
  clock?: string;
  dry?: boolean;
  branch: string[];
}

interface WorkerOptions {
  db: string;
  batch: number;
  lease: number;
  poll: number;
  stepTimeout: string;
  drain: string;
  log?: LogFormat;
}

interface UpgradeOptions {
  db: string;
  from?: string;
  to?: string;
}

interface InspectOptions {
  db: string;
  status?: string;
  limit: number;
  json?: boolean;
}

/** The flow in `file`, or undefined after printing its errors. */
export function compiledFlow(file: string): CompiledFlow | undefined {
  const [checked] = checkFiles([file], { purpose: 'run' });
  if (checked === undefined) throw new InputError(`${file} is not a .flow file`);
  if (checked.flow === undefined) {
    printDiagnostics([{ ...checked, diagnostics: checked.diagnostics.filter((d) => d.severity === 'error') }], output.err);
    return undefined;
  }
  return checked.flow;
}

async function runCompile(file: string, options: { bindings?: string; ranges?: boolean }): Promise<number> {
  const flow = compiledFlow(file);
  if (flow === undefined) return EXIT_PROBLEMS;
  const { bind } = await import('../compiler/bind');
  const { defaultBindingsPath, loadBindingsModule, readBindings } = await import('../runtime/bindings');
  const bindingsPath = options.bindings ?? defaultBindingsPath(file);
  const bindings = bindingsPath === undefined ? { nodes: {} } : await loadBindingsModule(bindingsPath);
  const { spec, registry } = readBindings(bindings, bindingsPath ?? 'no binding module');
  const { machine, diagnostics } = bind(flow, spec, registry.catalog(), { allowUnbound: bindingsPath === undefined });
  printBindDiagnostics(file, diagnostics);
  if (machine === undefined) return EXIT_PROBLEMS;
  const json = JSON.stringify(machine, options.ranges === true ? undefined : (key, value: unknown) => (key === 'range' ? undefined : value), 2);
  output.out(json + '\n');
  return 0;
}

async function runTypes(file: string, options: { out?: string }): Promise<number> {
  const flow = compiledFlow(file);
  if (flow === undefined) return EXIT_PROBLEMS;
  const { declareTypes } = await import('../compiler/declarations');
  const text = declareTypes(flow);
  if (options.out === '-') {
    output.out(text);
    return 0;
  }
  const out = options.out ?? `${file}.d.ts`;
  writeFileAtomic(out, text);
  output.out(`${out}: types of ${basename(file)} written\n`);
  return 0;
}

async function runRun(file: string, options: RunOptions): Promise<number> {
  const flow = compiledFlow(file);
  if (flow === undefined) return EXIT_PROBLEMS;
  const { defaultBindingsPath } = await import('../runtime/bindings');
  const bindingsPath = options.bindings ?? defaultBindingsPath(file);
  if (options.dry === true) return runDry(file, flow, bindingsPath, options);
  if (bindingsPath === undefined) {
    throw new InputError(`${file} has no binding module: write ${file.replace(/\.flow$/, '')}.bindings.ts or pass --bindings`);
  }
  const input = inputOf(options);
  const clock = await clockOf(options.clock);
  return withEngine(options.db, async (engine) => {
    if (options.detach === true) {
      // Deployed before with the same code: no need to load the module to start another.
      const version = (await engine.deployedVersion(flow, bindingsPath)) ?? (await deployOrReport(engine, file, flow, bindingsPath));
      if (version === undefined) return EXIT_PROBLEMS;
      const id = engine.start(version, { input, ...(options.start !== undefined && { start: options.start }) });
      output.out(`${id}: started; \`laneflow worker --db ${options.db}\` runs it\n`);
      return 0;
    }
    const { machine, diagnostics } = await engine.deployModule(flow, bindingsPath);
    printBindDiagnostics(file, diagnostics);
    if (machine === undefined) return EXIT_PROBLEMS;
    const { id, startedAt, sandboxNote } = await runInstance(engine, machine, input, options);
    const instance = engine.instance(id)!;
    output.out(`${id}: ${describeState(instance, machine)}\n`);
    if (sandboxNote !== undefined) output.out(`${sandboxNote}\n`);
    if (engine.clock.virtual) output.out(`virtual clock: ${iso(startedAt)} → ${iso(engine.clock.now())}\n`);
    output.out(JSON.stringify(instance.snapshot.data, null, 2) + '\n');
    output.out(effectList(instance));
    if (instance.status === 'running') output.out(`\`laneflow worker --db ${options.db}\` continues it\n`);
    return instance.status === 'failed' ? EXIT_PROBLEMS : 0;
  }, clock === undefined ? { creates: true } : { clock, creates: true });
}

/** Deploys a flow with its binding module, printing the binding's diagnostics; the version, or undefined when it does not bind. */
async function deployOrReport(engine: Engine, file: string, flow: CompiledFlow, bindingsPath: string): Promise<string | undefined> {
  const { machine, diagnostics } = await engine.deployModule(flow, bindingsPath);
  printBindDiagnostics(file, diagnostics);
  return machine?.version;
}

/**
 * Starts one instance and runs it until it completes, fails or waits. A flow with webhook steps
 * whose input names no `endpoint` gets a sandbox receiver on 127.0.0.1 for the run (see
 * `openSandboxReceiver`): the instance POSTs to it for real, and the receiver's hand-off of the
 * event resumes the instance, so the run goes on until neither moves.
 */
export async function runInstance(engine: Engine, machine: Machine, input: JsonObject, options: { db: string; start?: string }): Promise<{ id: string; startedAt: number; sandboxNote?: string }> {
  // The receiver reaches the engine's tables through a connection of its own: an in-memory database has no file to share.
  const sandbox = usesWebhooks(machine) && input['endpoint'] === undefined && options.db !== ':memory:' ? await openSandbox(engine, options.db) : undefined;
  try {
    const startedAt = engine.clock.now();
    const id = engine.start(machine.version, { input: sandbox === undefined ? input : { ...input, endpoint: sandbox.endpoint }, ...(options.start !== undefined && { start: options.start }) });
    for (let round = 0; ; round++) {
      const { steps } = await engine.runUntilIdle({ only: id });
      if (sandbox === undefined || round === SANDBOX_ROUNDS) break;
      await sandbox.idle();
      if (steps === 0 || engine.instance(id)!.status !== 'running') break;
    }
    return { id, startedAt, ...(sandbox !== undefined && { sandboxNote: `sandbox: the input names no webhook endpoint; ${sandbox.endpoint} was a receiver on ${sandbox.url} for this run` }) };
  } finally {
    await sandbox?.close();
  }
}

/** At most this many runs of the engine between the receiver's hand-offs: a flow that loops on its own webhooks stops here. */
const SANDBOX_ROUNDS = 50;

function usesWebhooks(machine: Machine): boolean {
  return Object.values(machine.nodes).some((node) => node.handler?.startsWith('webhook.') === true);
}

async function openSandbox(engine: Engine, db: string) {
  const { openSandboxReceiver } = await import('../runtime/packs/webhook/sandbox');
  return openSandboxReceiver({ engine, dbFile: db, clock: engine.clock });
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The clock `--clock` names: undefined for the wall clock. */
export async function clockOf(option: string | undefined): Promise<Clock | undefined> {
  if (option === undefined || option === 'wall') return undefined;
  const { VirtualClock } = await import('../runtime/clock');
  if (option === 'virtual') return new VirtualClock(Date.now());
  const start = Date.parse(option);
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(option) || Number.isNaN(start)) {
    throw new InputError(`--clock must be wall, virtual or a UTC time such as 2025-01-15T09:00:00Z to start a virtual clock at, not "${option}"`);
  }
  return new VirtualClock(start);
}

/**
 * The side effects the instance's handlers recorded (charges, emails, deliveries), in the order
 * of the steps that made them, with the engine's time of each step.
 */
export function effectList(instance: InstanceDetails): string {
  if (instance.outbox.length === 0) return '';
  const stepOrder = new Map<string, number>();
  instance.journal.forEach((entry, index) => {
    if (entry.outcome === 'completed' || entry.outcome === 'decided') stepOrder.set(`${instance.id}:${entry.node}:${entry.visit}`, index);
  });
  const orderOf = (key: string) => stepOrder.get(key.split(':').slice(0, 3).join(':')) ?? Number.MAX_SAFE_INTEGER;
  const effects = [...instance.outbox].sort((a, b) => a.at - b.at || orderOf(a.key) - orderOf(b.key));
  const width = Math.max(...effects.map((effect) => effect.kind.length));
  const lines = effects.map((effect) => `  ${iso(effect.at)}  ${effect.kind.padEnd(width)}  ${describePayload(effect.payload)}`);
  return ['effects:', ...lines, ''].join('\n');
}

function describePayload(payload: Json): string {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return JSON.stringify(payload);
  return Object.entries(payload)
    .map(([key, value]) => `${key}=${typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`)
    .join(' ');
}

export function inputOf(options: RunOptions): JsonObject {
  const input = options.input === undefined ? {} : parseJson(options.input, '--input');
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new InputError('--input must be a JSON object');
  return input;
}

/**
 * A simulation for analysts: an in-memory database and a virtual clock, so waits pass at once;
 * steps without a handler pass, and decisions without one return the label `--branch` names for
 * them (or their first). Nothing is written to disk.
 */
async function runDry(file: string, flow: CompiledFlow, bindingsPath: string | undefined, options: RunOptions): Promise<number> {
  const { bind } = await import('../compiler/bind');
  const { loadBindingsModule, readBindings } = await import('../runtime/bindings');
  const { defineDecision, defineStep } = await import('../runtime/define');
  const { VirtualClock } = await import('../runtime/clock');
  const { Engine } = await import('../runtime/engine');
  const bindings = bindingsPath === undefined ? { nodes: {} } : await loadBindingsModule(bindingsPath);
  const source = bindingsPath ?? 'no binding module';
  const { spec, registry } = readBindings(bindings, source);
  const { machine: partial, diagnostics } = bind(flow, spec, registry.catalog(), { allowUnbound: true });
  printBindDiagnostics(file, diagnostics);
  if (partial === undefined) return EXIT_PROBLEMS;

  const branches = new Map(
    options.branch.map((choice) => {
      const [key, ...rest] = choice.split('=');
      const node = Object.values(partial.nodes).find((n) => n.kind === 'decision' && (n.id === key || n.label.trim() === key?.trim()));
      if (node === undefined || rest.length === 0) throw new InputError(`--branch ${choice} must be <decision id or label>=<label>`);
      const label = node.branches?.find((b) => b.label.toLowerCase() === rest.join('=').trim().toLowerCase())?.label;
      if (label === undefined) throw new InputError(`--branch ${choice}: ${node.id} has the labels ${(node.branches ?? []).map((b) => `"${b.label}"`).join(', ')}`);
      return [node.id, label];
    }),
  );
  const nodes: Record<string, unknown> = { ...bindings.nodes };
  const handlers = { ...bindings.handlers, 'dry.pass': defineStep(() => undefined) } as Record<string, HandlerDefinition>;
  for (const node of Object.values(partial.nodes)) {
    if (node.handler !== undefined || (node.kind !== 'step' && node.kind !== 'decision')) continue;
    if (node.kind === 'step') {
      nodes[node.id] = 'dry.pass';
      continue;
    }
    const label = branches.get(node.id) ?? node.branches?.[0]?.label;
    if (label === undefined) throw new InputError(`decision ${node.id} has no labelled branch to take`);
    handlers[`dry.branch.${node.id}`] = defineDecision([label], () => label);
    nodes[node.id] = `dry.branch.${node.id}`;
  }
  const engine = new Engine({ db: ':memory:', clock: new VirtualClock(Date.now()) });
  try {
    const { machine, diagnostics: dryDiagnostics } = engine.deploy(flow, { ...bindings, handlers, nodes } as FlowBindings, { bindingsPath: source });
    if (machine === undefined) {
      printBindDiagnostics(file, dryDiagnostics);
      return EXIT_PROBLEMS;
    }
    const id = engine.start(machine.version, { input: inputOf(options), ...(options.start !== undefined && { start: options.start }) });
    await engine.runUntilIdle();
    const instance = engine.instance(id)!;
    output.out(timeline(instance, machine));
    return instance.status === 'failed' ? EXIT_PROBLEMS : 0;
  } finally {
    engine.close();
  }
}

async function runWorker(options: WorkerOptions): Promise<number> {
  const stepTimeout = durationOption(options.stepTimeout, '--step-timeout');
  const drainTimeout = durationOption(options.drain, '--drain');
  const { openWorkerLog, logStep } = await import('./worker-log');
  const log = await openWorkerLog(options.log);
  const worker = `laneflow worker ${process.pid}`;
  return withEngine(
    options.db,
    async (engine) => {
      const stop = new AbortController();
      let signals = 0;
      const onSignal = (name: NodeJS.Signals) => {
        signals++;
        if (signals === 1) {
          log.info(`${worker}: ${name}: finishing the steps in hand (up to ${options.drain}); send it again to exit at once`);
          stop.abort();
          return;
        }
        // A second signal: hand every instance held on to another worker now, and go (the
        // leases run out by themselves when the database cannot be written).
        try {
          engine.releaseLeases();
        } catch {}
        log.warn(`${worker}: ${name} again: let go of the steps in hand and exited`);
        process.exit(EXIT_PROBLEMS);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const summary = await engine.work(stop.signal, {
          onStarted: (versions) => log.info(`${worker}: running due work from ${options.db} (${versions.length} version${versions.length === 1 ? '' : 's'} loaded)`),
        });
        const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
        const abandoned = summary.abandoned === 0 ? '' : `; ${plural(summary.abandoned, 'step')} still running after ${options.drain} let go to another worker`;
        log.info(`${worker}: stopped after ${plural(summary.steps, 'step')}; ${plural(summary.finished, 'instance')} finished${abandoned}`);
        // A step that never settled may hold the event loop open (a socket, a timer): the worker exits all the same.
        if (summary.abandoned > 0) setTimeout(() => process.exit(), 100).unref();
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      return 0;
    },
    // A worker on a database nothing has been started in would wait forever on a file it made.
    {
      batchSize: options.batch,
      leaseMs: options.lease,
      pollMs: options.poll,
      stepTimeout,
      drainTimeout,
      mustExist: true,
      onStep: (step) => logStep(log, step),
      onVersionRefused: (version, reason) =>
        log.warn(`${worker}: instances of version ${version} wait for a worker with their code: ${reason} (\`laneflow upgrade --from ${version}\` moves them to the current code)`),
    },
  );
}

async function runVersions(options: { db: string; json?: boolean }): Promise<number> {
  return withEngine(options.db, async (engine) => {
    const versions = await engine.versions();
    if (options.json === true) {
      output.out(JSON.stringify({ versions: versions.map((v) => ({ ...v, deployedAt: iso(v.deployedAt) })) }, null, 2) + '\n');
      return 0;
    }
    const header = ['version', 'flow', 'deployed (UTC)', 'running', 'due', 'failed', 'workers'];
    const rows = versions.map((v) => [v.version, v.flowPath, iso(v.deployedAt), String(v.running), String(v.due), String(v.failed), v.workers.length === 0 ? '-' : v.workers.join(' ')]);
    output.out(table(header, rows));
    for (const line of waitingNotes(versions)) output.out(`${line}\n`);
    return 0;
  }, { mustExist: true, onVersionRefused: () => {} });
}

/** A line for each version whose running instances no live worker runs, with why this process cannot either. */
function waitingNotes(versions: readonly VersionInfo[]): string[] {
  return versions
    .filter((v) => v.due > 0 && v.workers.length === 0)
    .map((v) => {
      const waiting = `${v.due} instance${v.due === 1 ? '' : 's'} of version ${v.version} (${v.flowPath}) wait`;
      if (v.refused !== undefined) return `${waiting}: no live worker has its code: ${v.refused}; \`laneflow upgrade --from ${v.version}\` moves them to the current code`;
      return `${waiting}: no live worker runs it (\`laneflow worker\` runs it when it has its code; \`laneflow versions\` tells)`;
    });
}

async function runUpgrade(instances: string[], options: UpgradeOptions): Promise<number> {
  if (instances.length === 0 && options.from === undefined) throw new InputError('name the instances to upgrade, or every instance of a version with --from <version>');
  if (instances.length > 0 && options.from !== undefined) throw new InputError('name the instances to upgrade or give --from <version>, not both');
  return withEngine(options.db, async (engine) => {
    const from = options.from === undefined ? undefined : uniqueVersion(engine, options.from, '--from');
    const ids = from === undefined ? instances : engine.instancesOf(from);
    if (ids.length === 0) {
      output.out(`no running or failed instance of ${from} to upgrade\n`);
      return 0;
    }
    const to = options.to === undefined ? await currentVersion(engine, ids[0]!) : uniqueVersion(engine, options.to, '--to');
    if (to === undefined) return EXIT_PROBLEMS;
    const results = engine.upgrade(ids, to);
    for (const result of results) {
      output.out(result.moved === true ? `${result.id}: ${result.from} → ${to}\n` : `${result.id}: not moved: ${result.refused}\n`);
    }
    const moved = results.filter((r) => r.moved === true).length;
    const there = results.filter((r) => r.from === to).length;
    output.out(`${moved} of ${results.length} instance${results.length === 1 ? '' : 's'} moved to ${to}${there === 0 ? '' : ` (${there} already on it)`}\n`);
    return moved + there === results.length ? 0 : EXIT_PROBLEMS;
  }, { mustExist: true, onVersionRefused: () => {} });
}

function uniqueVersion(engine: Engine, prefix: string, option: string): string {
  const found = engine.machineVersions(prefix);
  if (found.length === 0) throw new InputError(`${option} ${prefix}: no such version is deployed in this database (\`laneflow versions\` lists them)`);
  if (found.length > 1 && !found.includes(prefix)) throw new InputError(`${option} ${prefix} names ${found.length} versions; give more of it`);
  return found.includes(prefix) ? prefix : found[0]!;
}

/**
 * The version of an instance's flow as its files are now: the flow at the path it was deployed
 * from, bound to the binding module it was deployed with, deployed if it is new.
 */
async function currentVersion(engine: Engine, instanceId: string): Promise<string | undefined> {
  const instance = engine.instance(instanceId);
  if (instance === undefined) throw new InputError(`no instance ${instanceId} in this database`);
  const bindings = engine.bindingsOf(instance.machine);
  if (bindings === null) throw new InputError(`version ${instance.machine} was deployed with no binding module; name the version to move to with --to`);
  const flow = compiledFlow(instance.flowPath);
  if (flow === undefined) return undefined;
  const { machine, diagnostics } = await engine.deployModule(flow, bindings);
  printBindDiagnostics(instance.flowPath, diagnostics);
  return machine?.version;
}

function durationOption(value: string, option: string): Duration {
  const numeric = /^\d+$/.test(value) ? Number(value) : value;
  if (durationMs(numeric as Duration) === undefined) throw new InputError(`${option} must be a duration such as 30s, 5m or 1500 (milliseconds), not "${value}"`);
  return numeric as Duration;
}

async function runInspect(instanceId: string | undefined, options: InspectOptions): Promise<number> {
  const statuses = ['running', 'completed', 'failed'] as const;
  const status = options.status as (typeof statuses)[number] | undefined;
  if (status !== undefined && !statuses.includes(status)) throw new InputError(`--status must be running, completed or failed, not "${options.status}"`);
  return withEngine(options.db, async (engine) => {
    if (instanceId === undefined) {
      const rows = engine.instances({ ...(status !== undefined && { status }), limit: options.limit });
      const waiting = waitingNotes(await engine.versions({ loadCode: false }));
      if (options.json === true) output.out(JSON.stringify({ counts: engine.counts(), instances: rows.map(summaryOf), waiting }, null, 2) + '\n');
      else output.out(instanceTable(rows, engine.counts()) + waiting.map((line) => `${line}\n`).join(''));
      return 0;
    }
    const instance = engine.instance(instanceId);
    if (instance === undefined) throw new InputError(`no instance ${instanceId} in ${options.db}`);
    if (options.json === true) {
      const details = {
        ...summaryOf(instance),
        inProgress: inProgressOf(instance),
        data: instance.snapshot.data,
        tokens: instance.snapshot.tokens.map((token) => (token.dueAt === undefined ? token : { ...token, dueAt: iso(token.dueAt) })),
        journal: instance.journal.map((entry) => ({ ...entry, at: iso(entry.at) })),
        outbox: instance.outbox.map((effect) => ({ ...effect, at: iso(effect.at) })),
      };
      output.out(JSON.stringify(details, null, 2) + '\n');
      return 0;
    }
    output.out(timeline(instance, engine.machine(instance.machine)));
    return 0;
  }, { mustExist: true });
}

export async function withEngine<T>(
  db: string,
  run: (engine: Engine) => T | Promise<T>,
  options: Omit<EngineOptions, 'db'> & { mustExist?: boolean; creates?: boolean } = {},
): Promise<T> {
  const { mustExist, creates, ...tuning } = options;
  if (mustExist === true && !existsSync(db)) throw new InputError(`there is no database at ${db} (\`laneflow run\` creates it)`);
  const isNew = db !== ':memory:' && !existsSync(db);
  // A typo in --db must not make a folder and a database somewhere: only the default's folder is made.
  if (creates === true && isNew && db !== DEFAULT_DB && !existsSync(dirname(db))) {
    throw new InputError(`there is no folder ${dirname(db)} for the database ${db}: create it first (only ${dirname(DEFAULT_DB)}/ is made when missing)`);
  }
  const { Engine } = await import('../runtime/engine');
  let engine: Engine;
  try {
    engine = new Engine({ db, ...tuning });
  } catch (error) {
    throw new InputError(`cannot open the database ${db}: ${error instanceof Error ? error.message : String(error)}`);
  }
  let started = true;
  try {
    return await run(engine);
  } catch (error) {
    throw storageError(db, error) ?? error;
  } finally {
    // A run that started nothing (a binding module that does not load, bindings with errors)
    // leaves no database it made behind.
    try {
      const { running, completed, failed } = engine.counts();
      started = running + completed + failed > 0;
    } finally {
      engine.close();
    }
    if (creates === true && isNew && !started) for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
  }
}

/** SQLite's word that the database cannot be written or read (a full disk, a read-only file system), as a user-facing error. */
function storageError(db: string, error: unknown): InputError | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^SQLITE_(FULL|READONLY|IOERR|CANTOPEN|CORRUPT|NOTADB|PERM)/.test(code)) return undefined;
  return new InputError(`cannot write the database ${db}: ${(error as Error).message}`);
}

export function printBindDiagnostics(file: string, diagnostics: Parameters<typeof printDiagnostics>[0][number]['diagnostics']): void {
  if (diagnostics.length === 0) return;
  const [checked] = checkFiles([file]);
  // A binding module's own mistake (a key that names no node) points into the module, not the flow.
  for (const d of diagnostics) {
    if (d.file === undefined) printDiagnostics([{ ...checked!, diagnostics: [d] }], output.err);
    else output.err(formatDiagnostic(d.file, readSource(d.file).text, d, { color: output.color }) + '\n');
  }
}

export function describeState(instance: InstanceRow | InstanceDetails, machine?: Machine): string {
  const { snapshot } = instance;
  if (snapshot.status === 'completed') {
    const ends = 'journal' in instance ? instance.journal.filter((e) => e.outcome === 'ended').map((e) => nodeName(e.node, machine)) : [];
    return ends.length === 0 ? 'completed' : `completed at ${[...new Set(ends)].join(', ')}`;
  }
  if (snapshot.status === 'failed') return `failed: ${snapshot.error?.name}: ${snapshot.error?.message} (\`laneflow retry ${instance.id}\` retries it)`;
  const waits = snapshot.tokens.map((t) => {
    if (t.state === 'sleeping') return `${t.node} sleeping until ${iso(t.dueAt!)}`;
    if (t.state === 'waiting') return `${t.node} waiting for signal "${t.signal}"${t.dueAt === undefined ? '' : ` until ${iso(t.dueAt)}`}`;
    if (t.state === 'backoff') return `${t.node} retrying at ${iso(t.dueAt!)}`;
    return `${t.node} ${t.state}`;
  });
  return `running: ${waits.join('; ')}`;
}

/** The steps a worker is running for the instance now: its ready tokens, the worker, since when, and until when its lease runs. */
function inProgressOf(instance: InstanceRow): { worker: string; since: string | null; leaseUntil: string | null; nodes: string[] } | null {
  if (instance.leaseOwner === null) return null;
  return {
    worker: instance.leaseOwner,
    since: instance.claimedAt === null ? null : iso(Math.max(instance.claimedAt, instance.updatedAt)),
    leaseUntil: instance.wakeAt === null ? null : iso(instance.wakeAt),
    nodes: instance.snapshot.tokens.filter((t) => t.state === 'ready').map((t) => t.node),
  };
}

/** A node as messages name it: its id, with its label in quotes when it has one. */
function nodeName(id: string, machine: Machine | undefined): string {
  const label = machine?.nodes[id]?.label ?? '';
  return label === '' ? id : `${id} "${label}"`;
}

/**
 * What `laneflow signal` did: resumed the step waiting for it, or, when none waits for that name
 * now, only buffered it for a later `waitFor` — with a likely misspelling named.
 */
function signalReport(instance: InstanceRow, name: string, machine: Machine | undefined): string {
  const waiting = instance.snapshot.tokens.filter((t) => t.state === 'waiting');
  const resumed = waiting.find((t) => t.signal === name);
  if (resumed !== undefined) return `signal "${name}" sent to ${instance.id}: ${nodeName(resumed.node, machine)} was waiting for it and resumes\n`;
  const names = waiting.map((t) => t.signal!);
  const now = waiting.length === 0 ? 'no step waits for a signal now' : `it waits for ${waiting.map((t) => `"${t.signal}" at ${nodeName(t.node, machine)}`).join(', ')}`;
  return `signal "${name}" buffered for ${instance.id}, not delivered: ${now}${didYouMean(name, names)}; a step that waits for "${name}" later gets it at once\n`;
}

function summaryOf(instance: InstanceRow) {
  return {
    id: instance.id,
    flow: instance.flowPath,
    flowVersion: instance.flowVersion,
    machine: instance.machine,
    status: instance.status,
    at: instance.snapshot.tokens.map((t) => t.node),
    wakeAt: instance.wakeAt === null || instance.leaseOwner !== null ? null : iso(instance.wakeAt),
    createdAt: iso(instance.createdAt),
    updatedAt: iso(instance.updatedAt),
    ...(instance.snapshot.error !== undefined && { error: instance.snapshot.error }),
  };
}

function instanceTable(rows: InstanceRow[], counts: Record<string, number>): string {
  const header = ['instance', 'flow', 'status', 'at', 'updated (UTC)', 'next'];
  const cells = rows.map((row) => {
    const summary = summaryOf(row);
    const status = row.status === 'failed' ? `failed: ${row.snapshot.error?.name ?? ''}` : row.status;
    return [row.id, basename(row.flowPath), status, summary.at.join(' ') || '-', summary.updatedAt, summary.wakeAt ?? '-'];
  });
  const total = `${counts['running']} running, ${counts['completed']} completed, ${counts['failed']} failed (dead letters)\n`;
  return table(header, cells) + total;
}

function timeline(instance: InstanceDetails, machine: Machine | undefined): string {
  const lines = [
    `instance ${instance.id}`,
    `flow     ${instance.flowPath} (version ${instance.flowVersion}, machine ${instance.machine})`,
    `status   ${describeState(instance, machine)}`,
    `started  ${iso(instance.createdAt)}   updated ${iso(instance.updatedAt)}`,
  ];
  const running = inProgressOf(instance);
  if (running !== null) {
    const nodes = running.nodes.map((id) => `${id}${machine?.nodes[id]?.label ? ` ${machine.nodes[id]!.label}` : ''}`).join(', ') || 'its next round';
    lines.push(`running  ${nodes} on worker ${running.worker} since ${running.since ?? '?'} (lease until ${running.leaseUntil ?? '?'})`);
  }
  lines.push('');
  const header = ['time (UTC)', 'node', 'lane', 'handler', 'attempt', 'outcome', 'detail'];
  const rows = instance.journal.map((entry) => {
    const node = machine?.nodes[entry.node];
    return [
      iso(entry.at),
      entry.node === '' ? '-' : node === undefined || node.label === '' ? entry.node : `${entry.node} ${node.label}`,
      node?.lane ?? '',
      entry.handler ?? '',
      entry.attempt === 0 ? '' : String(entry.attempt),
      entry.outcome,
      entry.detail === undefined ? '' : compact(entry.detail),
    ];
  });
  lines.push(table(header, rows));
  if (instance.outbox.length > 0) {
    lines.push('outbox:');
    for (const effect of instance.outbox) lines.push(`  ${iso(effect.at)}  ${effect.kind}  ${effect.key}  ${JSON.stringify(effect.payload)}`);
    lines.push('');
  }
  lines.push('data:', JSON.stringify(instance.snapshot.data, null, 2), '');
  return lines.join('\n');
}

function compact(detail: JsonObject): string {
  const text = Object.entries(detail)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line), ''].join('\n');
}

export function iso(at: number): string {
  return new Date(at).toISOString();
}

function parseJson(text: string, what: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw new InputError(`${what} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InputError(`"${value}" is not a whole number above 0`);
  return n;
}
