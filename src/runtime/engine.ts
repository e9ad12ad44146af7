import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { bind, type BindOptions } from '../compiler/bind';
import type { CompiledFlow, Machine } from '../compiler/types';
import type { Diagnostic } from '../lib/diagnostics';
import { InputError } from '../lib/files';
import { loadBindingsModule, readBindings } from './bindings';
import type { PackEnvironment } from './builtins';
import { wallClock, type Clock } from './clock';
import { moduleCodeHash } from './code-version';
import { begin, nextWake, transition } from './core';
import type { AnyFlow, Duration, FlowBindings, FlowShape } from './define';
import { DEFAULT_DRAIN_TIMEOUT, DEFAULT_STEP_TIMEOUT, requireDurationMs } from './duration';
import { Executor, type DrainSummary, type StepReport } from './executor';
import { MachineCatalog } from './machines';
import type { HandlerInterceptor } from './registry';
import { SqliteStore, type InstanceRow, type StoreOptions, type StoredJournalEntry, type StoredOutboxEffect, type VersionRow, type WorkerRow } from './sqlite-store';
import type { InstanceStatus, Json, JsonObject } from './types';
import { upgradeSnapshot } from './upgrade';

/** How an engine opens its database, which clock it reads and how its workers run. */
export interface EngineOptions extends StoreOptions {
  /** The SQLite file; created with its folder when missing. */
  db: string;
  clock?: Clock;
  /** Full-jitter draws in [0, 1); tests pass a seeded one. */
  random?: () => number;
  /** How long a worker's claim lasts without its heartbeat (default 30 s). */
  leaseMs?: number;
  batchSize?: number;
  pollMs?: number;
  /** How long a step may run when its binding sets no timeout (default 60 s, real time). */
  stepTimeout?: Duration;
  /** How long a stop waits for the steps in hand before letting them go (default 10 s). */
  drainTimeout?: Duration;
  /** Instance ids; tests pass a deterministic one. */
  newId?: () => string;
  /** Told once of each version whose instances this engine cannot run, and why (default: a process warning). */
  onVersionRefused?: (version: string, reason: string) => void;
  /** Told of every handler run and what came of it (`laneflow worker` logs these). */
  onStep?: (step: StepReport) => void;
}


/** The bound machine, when the binding has no errors, and the binding's diagnostics. */
export interface DeployResult {
  machine?: Machine;
  diagnostics: Diagnostic[];
}

/** How an instance starts. */
export interface StartOptions {
  /** The instance's data as it starts (`{}` when absent): handlers read it as `ctx.data`. */
  input?: JsonObject;
  /** The start node, by id or label; needed when the flow has several. */
  start?: string;
  id?: string;
}

export interface DeployOptions extends BindOptions {
  bindingsPath?: string;
  /** The hash of the handlers' code (`deployModule` passes the module's); by default, that of the handler functions' source. */
  code?: string;
  /** Every handler run of this machine goes through it: tests answer for handlers with scripted outcomes. */
  intercept?: HandlerInterceptor;
}

/** A stored instance with its journal and outbox. Its data is `snapshot.data`. */
export interface InstanceDetails extends InstanceRow {
  journal: StoredJournalEntry[];
  outbox: StoredOutboxEffect[];
}

/** A deployed version with instances: how many run, wait and failed, and which live workers have its code. */
export interface VersionInfo extends VersionRow {
  /** Live workers that run it (seen within two of their leases). */
  workers: string[];
  /** Why this engine cannot run it, when it cannot. */
  refused?: string;
}

/** What `upgrade` did with each instance. */
export interface UpgradeResult {
  id: string;
  from: string;
  /** Set when the instance was moved. */
  moved?: true;
  /** Why it was not. */
  refused?: string;
}

/**
 * The durable runtime: deploys bound machines into a SQLite file, starts instances pinned to
 * them, delivers signals and retries, and runs due work.
 */
export class Engine {
  readonly clock: Clock;
  private readonly store: SqliteStore;
  private readonly executor: Executor;
  private readonly machines: MachineCatalog;
  private readonly newId: () => string;
  private readonly packEnvironment: PackEnvironment;

  constructor(options: EngineOptions) {
    this.clock = options.clock ?? wallClock;
    this.store = new SqliteStore(options.db, options);
    this.packEnvironment = { database: () => this.store.database, clock: this.clock };
    this.newId = options.newId ?? (() => newInstanceId(this.clock.now()));
    const refused = options.onVersionRefused ?? ((version, reason) => process.emitWarning(`laneflow: instances of version ${version} wait for a worker with their code: ${reason}`));
    this.machines = new MachineCatalog(this.store, this.packEnvironment, refused);
    this.executor = new Executor({
      store: this.store,
      clock: this.clock,
      machines: this.machines,
      owner: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
      leaseMs: options.leaseMs ?? 30_000,
      stepTimeoutMs: milliseconds(options.stepTimeout ?? DEFAULT_STEP_TIMEOUT, 'stepTimeout'),
      drainMs: milliseconds(options.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT, 'drainTimeout'),
      batchSize: options.batchSize ?? 1000,
      pollMs: options.pollMs ?? 250,
      random: options.random ?? Math.random,
      ...(options.onStep !== undefined && { onStep: options.onStep }),
    });
  }

  /**
   * Binds a flow to its handlers, checks the binding and records the machine. `bindingsPath`
   * is remembered so that a worker in another process can load the same handlers. The machine's
   * version covers the flow and the handlers' code (`options.code`).
   */
  deploy<F extends FlowShape, D>(flow: CompiledFlow, bindings: FlowBindings<F, D>, options: DeployOptions = {}): DeployResult {
    const source = options.bindingsPath ?? 'the bindings';
    // The flow's generated types checked keys and labels at compile time; at run time every
    // binding module is read alike, and `bind` checks it against the flow itself.
    const anyBindings = bindings as unknown as FlowBindings<AnyFlow, unknown>;
    const { spec, registry } = readBindings(anyBindings, source, this.packEnvironment, options.code);
    const { machine, diagnostics } = bind(flow, spec, registry.catalog(), options);
    if (machine === undefined) return { diagnostics };
    if (options.intercept !== undefined) registry.intercept(options.intercept);
    this.store.saveMachine(machine, options.bindingsPath === undefined ? null : resolve(options.bindingsPath), this.clock.now());
    this.machines.add({ machine, registry });
    return { machine, diagnostics };
  }

  /** Loads a binding module and deploys the flow with it, the module's code hashed into the version. */
  async deployModule(flow: CompiledFlow, bindingsPath: string, options: BindOptions = {}): Promise<DeployResult> {
    const bindings = await loadBindingsModule(bindingsPath);
    const code = await moduleCodeHash(bindingsPath);
    return this.deploy(flow, bindings, { ...options, bindingsPath, code });
  }

  /**
   * The version deployed earlier from this flow and this binding module's current code, found
   * without loading the module (only its files are hashed): what `laneflow run --detach` starts
   * an instance of, so that starting many costs no module load each. Undefined when there is none.
   */
  async deployedVersion(flow: CompiledFlow, bindingsPath: string): Promise<string | undefined> {
    return this.store.deployedFrom(flow.version, resolve(bindingsPath), await moduleCodeHash(bindingsPath));
  }

  /** Starts an instance of a deployed machine; it runs when a worker (or `runUntilIdle`) gets to it. */
  start(machineVersion: string, options: StartOptions = {}): string {
    return this.startMany(machineVersion, [options])[0]!;
  }

  /** Starts many instances in one transaction. */
  startMany(machineVersion: string, instances: readonly StartOptions[]): string[] {
    const stored = this.store.machine(machineVersion);
    if (stored === undefined) throw new InputError(`no machine with version ${machineVersion} is deployed in this database`);
    const { machine } = stored;
    const at = this.clock.now();
    const started = instances.map((options) => {
      const start = startNode(machine, options.start);
      const { snapshot, effects } = begin(machine, { id: options.id ?? this.newId(), at, input: options.input ?? {}, start });
      const journal = effects.flatMap((e) => (e.type === 'journal' ? [e.entry] : []));
      return { snapshot, journal, wakeAt: nextWake(snapshot, at) };
    });
    this.store.insertInstances(started);
    return started.map((s) => s.snapshot.id);
  }

  /** Sends a signal: a handler waiting for it resumes; one that waits for it later gets it at once. */
  signal(instanceId: string, name: string, payload: Json = null): void {
    const instance = this.requireInstance(instanceId);
    if (instance.status !== 'running') throw new InputError(`instance ${instance.id} is ${instance.status}; only running instances take signals`);
    this.store.addSignal(instance.seq, name, payload, this.clock.now());
  }

  /** Retries a failed instance (a dead letter) from its failed step, with fresh attempts. */
  retry(instanceId: string): void {
    const instance = this.requireInstance(instanceId);
    const stored = this.store.machine(instance.machine)!;
    const at = this.clock.now();
    const outcome = this.store.updateUnclaimed(instance.seq, (current) => {
      if (current.status !== 'failed') return { snapshot: current, journal: [], wakeAt: nextWake(current, at), result: current.status };
      const { snapshot, effects } = transition(stored.machine, current, { type: 'retry', at });
      const journal = effects.flatMap((e) => (e.type === 'journal' ? [e.entry] : []));
      return { snapshot, journal, wakeAt: nextWake(snapshot, at), result: 'retried' as const };
    });
    if (outcome === undefined) throw new InputError(`instance ${instance.id} is being run by a worker; only failed instances can be retried`);
    if (outcome !== 'retried') throw new InputError(`instance ${instance.id} is ${outcome}; only failed instances can be retried`);
  }

  /**
   * Runs due work until none is left now. On a virtual clock it keeps jumping to the next
   * timer until no instance will ever be due again by itself, or the next is past `horizon`.
   * `stop` ends it early, after the steps in hand.
   */
  runUntilIdle(options: { only?: string; horizon?: number; stop?: AbortSignal } = {}): Promise<DrainSummary> {
    return this.executor.drain({ until: 'idle', ...options });
  }

  /**
   * Runs due work as it comes until `stop` fires, listed in the database as a worker with the
   * versions it runs; then waits up to the drain timeout for the steps in hand, lets go of the
   * rest for another worker, and returns.
   */
  work(stop: AbortSignal, options: { onStarted?: (versions: readonly string[]) => void } = {}): Promise<DrainSummary> {
    return this.executor.drain({ until: 'forever', stop, register: true, ...options });
  }

  /** Lets go of every instance this engine's worker holds, at once: for a worker that must exit now (a second SIGTERM). */
  releaseLeases(): void {
    this.executor.releaseAll();
  }

  /**
   * Every version with instances: how many run, are due with no worker taking them, or failed;
   * which live workers run it; and, when this engine cannot, why. Versions with a timer are
   * loaded first, to tell; with `loadCode: false` nothing is loaded (and no `refused` is known).
   */
  async versions(options: { loadCode?: boolean } = {}): Promise<VersionInfo[]> {
    const now = this.clock.now();
    if (options.loadCode !== false) await this.machines.discover(Number.POSITIVE_INFINITY);
    const wall = Date.now();
    const live = this.store.workers().filter((worker) => worker.seenAt + 2 * worker.leaseMs >= wall);
    return this.store.versions(now).map((row) => {
      const info: VersionInfo = { ...row, workers: live.filter((worker) => worker.versions.includes(row.version)).map((worker) => worker.id) };
      const refused = this.machines.refusals.get(row.version);
      if (refused !== undefined) info.refused = refused;
      return info;
    });
  }

  /** The workers listed in the database, live or not (a killed one stays until its row is old). */
  workers(): WorkerRow[] {
    return this.store.workers();
  }

  /**
   * Moves instances to another deployed version (Temporal's worker versioning does this by
   * hand, too): each is refused, and left as it is, when a worker holds it, when it is completed,
   * or when the new version lacks a node one of its tokens is at or a loop it is inside.
   */
  upgrade(instanceIds: readonly string[], toVersion: string): UpgradeResult[] {
    const target = this.store.machine(toVersion);
    if (target === undefined) throw new InputError(`no machine with version ${toVersion} is deployed in this database`);
    return instanceIds.map((instanceId) => {
      const instance = this.requireInstance(instanceId);
      const result: UpgradeResult = { id: instance.id, from: instance.machine };
      if (instance.machine === toVersion) return { ...result, refused: `it is already on version ${toVersion}` };
      if (instance.status === 'completed') return { ...result, refused: 'it has completed' };
      const from = this.store.machine(instance.machine)!.machine;
      const at = this.clock.now();
      const outcome = this.store.updateUnclaimed<{ refused: string } | { moved: true }>(instance.seq, (current) => {
        const upgraded = upgradeSnapshot(from, target.machine, current, at);
        if ('refused' in upgraded) return { snapshot: current, journal: [], wakeAt: instance.wakeAt, result: { refused: upgraded.refused } };
        return { snapshot: upgraded.snapshot, journal: upgraded.journal, wakeAt: nextWake(upgraded.snapshot, at), result: { moved: true as const } };
      });
      if (outcome === undefined) return { ...result, refused: `a worker is running it (${this.store.instance(instance.id)?.leaseOwner ?? 'unknown'}); try again when it has let go` };
      return { ...result, ...outcome };
    });
  }

  /** Running and failed instances of a version. */
  instancesOf(version: string): string[] {
    return this.store.instancesOf(version);
  }

  /** Deployed versions starting with `prefix`, newest first. */
  machineVersions(prefix: string): string[] {
    return this.store.machineVersions(prefix);
  }

  /** An instance by id (or a unique prefix of one) with its journal and outbox, or undefined. Its data is `snapshot.data`. */
  instance(instanceId: string): InstanceDetails | undefined {
    const row = this.store.instance(instanceId);
    if (row === undefined) return undefined;
    const { seq, ...instance } = row;
    return { ...instance, journal: this.store.journal(seq), outbox: this.store.outbox(seq) };
  }

  /** A deployed machine by version. */
  machine(version: string): Machine | undefined {
    return this.store.machine(version)?.machine;
  }

  /** The binding module a version was deployed with (an absolute path), or null when it was bound in memory. */
  bindingsOf(version: string): string | null {
    return this.store.machine(version)?.bindings ?? null;
  }

  /** Instances, newest first: of one `status` when given, at most `limit` (50 by default). */
  instances(filter: { status?: InstanceStatus; limit?: number } = {}): InstanceRow[] {
    return this.store.instances(filter);
  }

  /** How many instances the database holds of each status. */
  counts(): Record<InstanceStatus, number> {
    return this.store.counts();
  }

  /** Closes the database. */
  close(): void {
    this.store.close();
  }

  private requireInstance(instanceId: string) {
    const instance = this.store.instance(instanceId);
    if (instance === undefined) throw new InputError(`no instance ${instanceId} in this database`);
    return instance;
  }

}

function milliseconds(duration: Duration, what: string): number {
  const ms = requireDurationMs(duration, what);
  if (ms <= 0) throw new InputError(`${what} is ${JSON.stringify(duration)}, not a duration such as 30s, 5m or 1500`);
  return ms;
}

/** The start node named by id or label, or the only one. */
function startNode(machine: Machine, requested: string | undefined): string {
  const starts = machine.starts;
  if (requested === undefined) {
    if (starts.length === 1) return starts[0]!;
    const named = starts.map((id) => `${id} "${machine.nodes[id]!.label}"`).join(', ');
    throw new InputError(`${machine.path} has ${starts.length} start nodes (${named}); name one with --start`);
  }
  const found = starts.find((id) => id === requested || machine.nodes[id]!.label.trim() === requested.trim());
  if (found === undefined) throw new InputError(`"${requested}" is not a start node of ${machine.path}; its starts are ${starts.join(', ')}`);
  return found;
}

/** Sortable by creation time and unique across processes: 9 base-36 digits of time, then 8 random ones. */
function newInstanceId(at: number): string {
  const random = BigInt(`0x${randomBytes(6).toString('hex')}`).toString(36).padStart(10, '0').slice(-8);
  return `${at.toString(36).padStart(9, '0')}${random}`;
}
