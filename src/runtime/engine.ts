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
import { begin, nextWake, transition } from './core';
import type { AnyFlow, FlowBindings, FlowShape } from './define';
import { Executor, type DrainSummary, type LoadedMachine } from './executor';
import { HandlerRegistry, type HandlerInterceptor } from './registry';
import { SqliteStore, type InstanceRow, type StoreOptions, type StoredJournalEntry, type StoredOutboxEffect } from './sqlite-store';
import type { InstanceStatus, Json, JsonObject } from './types';

export interface EngineOptions extends StoreOptions {
  /** The SQLite file; created with its folder when missing. */
  db: string;
  clock?: Clock;
  /** Full-jitter draws in [0, 1); tests pass a seeded one. */
  random?: () => number;
  leaseMs?: number;
  batchSize?: number;
  pollMs?: number;
  /** Instance ids; tests pass a deterministic one. */
  newId?: () => string;
}

export interface DeployResult {
  machine?: Machine;
  diagnostics: Diagnostic[];
}

export interface StartOptions {
  input?: JsonObject;
  /** The start node, by id or label; needed when the flow has several. */
  start?: string;
  id?: string;
}

export interface DeployOptions extends BindOptions {
  bindingsPath?: string;
  /** Every handler run of this machine goes through it: tests answer for handlers with scripted outcomes. */
  intercept?: HandlerInterceptor;
}

export interface InstanceDetails extends InstanceRow {
  journal: StoredJournalEntry[];
  outbox: StoredOutboxEffect[];
}

/**
 * The durable runtime: deploys bound machines into a SQLite file, starts instances pinned to
 * them, delivers signals and retries, and runs due work.
 */
export class Engine {
  readonly clock: Clock;
  private readonly store: SqliteStore;
  private readonly executor: Executor;
  private readonly loaded = new Map<string, Promise<LoadedMachine>>();
  private readonly newId: () => string;
  private readonly packEnvironment: PackEnvironment;

  constructor(options: EngineOptions) {
    this.clock = options.clock ?? wallClock;
    this.store = new SqliteStore(options.db, options);
    this.packEnvironment = { database: () => this.store.database, clock: this.clock };
    this.newId = options.newId ?? (() => newInstanceId(this.clock.now()));
    this.executor = new Executor({
      store: this.store,
      clock: this.clock,
      machines: (version) => this.loadMachine(version),
      owner: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
      leaseMs: options.leaseMs ?? 30_000,
      batchSize: options.batchSize ?? 1000,
      pollMs: options.pollMs ?? 250,
      random: options.random ?? Math.random,
    });
  }

  /**
   * Binds a flow to its handlers, checks the binding and records the machine. `bindingsPath`
   * is remembered so that a worker in another process can load the same handlers.
   */
  deploy<F extends FlowShape, D>(flow: CompiledFlow, bindings: FlowBindings<F, D>, options: DeployOptions = {}): DeployResult {
    const source = options.bindingsPath ?? 'the bindings';
    // The flow's generated types checked keys and labels at compile time; at run time every
    // binding module is read alike, and `bind` checks it against the flow itself.
    const { spec, registry } = readBindings(bindings as unknown as FlowBindings<AnyFlow, unknown>, source, this.packEnvironment);
    const { machine, diagnostics } = bind(flow, spec, registry.catalog(), options);
    if (machine === undefined) return { diagnostics };
    if (options.intercept !== undefined) registry.intercept(options.intercept);
    this.store.saveMachine(machine, options.bindingsPath === undefined ? null : resolve(options.bindingsPath), this.clock.now());
    this.loaded.set(machine.version, Promise.resolve({ machine, registry }));
    return { machine, diagnostics };
  }

  /** Loads a binding module and deploys the flow with it. */
  async deployModule(flow: CompiledFlow, bindingsPath: string, options: BindOptions = {}): Promise<DeployResult> {
    const bindings = await loadBindingsModule(bindingsPath);
    return this.deploy(flow, bindings, { ...options, bindingsPath });
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

  /** Runs due work as it comes until `stop` fires, then finishes the steps in hand and returns. */
  work(stop: AbortSignal): Promise<DrainSummary> {
    return this.executor.drain({ until: 'forever', stop });
  }

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

  instances(filter: { status?: InstanceStatus; limit?: number } = {}): InstanceRow[] {
    return this.store.instances(filter);
  }

  counts(): Record<InstanceStatus, number> {
    return this.store.counts();
  }

  close(): void {
    this.store.close();
  }

  private requireInstance(instanceId: string) {
    const instance = this.store.instance(instanceId);
    if (instance === undefined) throw new InputError(`no instance ${instanceId} in this database`);
    return instance;
  }

  /** A machine deployed by another process: its handlers come from the binding module it recorded. */
  private loadMachine(version: string): Promise<LoadedMachine> {
    let loading = this.loaded.get(version);
    if (loading === undefined) {
      loading = (async () => {
        const stored = this.store.machine(version);
        if (stored === undefined) throw new Error(`machine ${version} is not in the database`);
        if (stored.bindings === null) return { machine: stored.machine, registry: new HandlerRegistry() };
        const bindings = await loadBindingsModule(stored.bindings);
        return { machine: stored.machine, registry: readBindings(bindings as FlowBindings<AnyFlow, unknown>, stored.bindings, this.packEnvironment).registry };
      })();
      this.loaded.set(version, loading);
    }
    return loading;
  }
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
