import type { Machine } from '../compiler/types';
import { loadBindingsModule, readBindings } from './bindings';
import type { PackEnvironment } from './builtins';
import { moduleCodeHash } from './code-version';
import type { AnyFlow, FlowBindings } from './define';
import type { HandlerRegistry } from './registry';
import type { SqliteStore } from './sqlite-store';

/** A machine and the handlers its nodes are bound to. */
export interface LoadedMachine {
  machine: Machine;
  registry: HandlerRegistry;
}

/**
 * The machine versions one engine can run: those deployed in this process, and those deployed
 * by another whose binding module, loaded here, is still the code they were deployed with. An
 * instance of any other version is left alone — it waits for a worker that has its code, or for
 * `laneflow upgrade` — so changed code never runs an instance started on the old.
 */
export class MachineCatalog {
  private readonly loaded = new Map<string, LoadedMachine>();
  /** Versions looked at and found not runnable here, with why. */
  private readonly refused = new Map<string, string>();
  private list: string[] = [];
  /** How many machines were deployed at the last look (undefined before the first). */
  private machinesSeen: number | undefined;

  constructor(
    private readonly store: SqliteStore,
    private readonly environment: PackEnvironment,
    /** Told once of each version this engine cannot run. */
    private readonly onRefused: (version: string, reason: string) => void = () => {},
  ) {}

  /** A version deployed in this process, with its handlers. */
  add(loaded: LoadedMachine): void {
    this.loaded.set(loaded.machine.version, loaded);
    this.refused.delete(loaded.machine.version);
    this.list = [...this.loaded.keys()];
  }

  get(version: string): LoadedMachine | undefined {
    return this.loaded.get(version);
  }

  /** The versions whose code is loaded here: the only ones this engine claims. */
  get versions(): readonly string[] {
    return this.list;
  }

  /** Versions looked at and not runnable here, with why. */
  get refusals(): ReadonlyMap<string, string> {
    return this.refused;
  }

  /**
   * Loads every version not looked at yet that has instances due by `upTo` (every one with a
   * timer, when it is infinite), and every version deployed since the last look. Old versions
   * with no instance due are left unloaded.
   */
  async discover(upTo: number): Promise<void> {
    const deployed = this.store.machineCount();
    const known = [...this.loaded.keys(), ...this.refused.keys()];
    const fresh = new Set(this.store.dueVersions(upTo, known));
    if (this.machinesSeen !== undefined && deployed > this.machinesSeen) {
      for (const version of this.store.machinesAfter(this.machinesSeen)) if (!this.loaded.has(version) && !this.refused.has(version)) fresh.add(version);
    }
    this.machinesSeen = deployed;
    for (const version of fresh) await this.load(version);
  }

  /** Whether a version was deployed since the last `discover` (one count of the machines table). */
  deployedSince(): boolean {
    return this.store.machineCount() !== this.machinesSeen;
  }

  private async load(version: string): Promise<void> {
    const stored = this.store.machine(version);
    let reason: string;
    if (stored === undefined) {
      reason = 'it is not in the database';
    } else if (stored.bindings === null) {
      reason = 'its handlers were bound in the process that deployed it (no binding module), which is not this one';
    } else {
      try {
        const code = await moduleCodeHash(stored.bindings);
        if (stored.machine.code === undefined || code === stored.machine.code) {
          const bindings = (await loadBindingsModule(stored.bindings)) as FlowBindings<AnyFlow, unknown>;
          const { registry } = readBindings(bindings, stored.bindings, this.environment, code);
          this.add({ machine: stored.machine, registry });
          return;
        }
        reason = `its code changed since it was deployed: ${stored.bindings} (or a module it imports) is now code ${code}, not ${stored.machine.code}`;
      } catch (error) {
        reason = error instanceof Error ? error.message : String(error);
      }
    }
    this.refused.set(version, reason);
    this.onRefused(version, reason);
  }
}
