import type { Machine, MachineNode } from '../compiler/types';
import { wallClock, type Clock } from './clock';
import { ENGINE_ERRORS, nextWake, Stepper, type EffectSink } from './core';
import { RunContext, type RunContextInit } from './handler-context';
import type { LoadedMachine, MachineCatalog } from './machines';
import type { CommitItem, SqliteStore, StoredSignal } from './sqlite-store';
import type { ErrorInfo, HandlerOutcome, JournalEntry, JsonObject, OutboxEffect, RunRequest, RuntimeEvent, Snapshot, Token } from './types';

/**
 * How many handler runs of one instance may follow each other before their commit, when none
 * of them awaited anything: bounds the work a crash throws away.
 */
const CHAIN_LIMIT = 64;

/**
 * How long (real milliseconds, at most a tenth of the lease) the instances of one burst may go
 * on chaining steps before each commits what it has: bounds how long the event loop (and
 * lease renewal) waits for a burst of handlers that return at once.
 */
const CHAIN_BUDGET_MS = 100;

export interface ExecutorOptions {
  store: SqliteStore;
  clock: Clock;
  /** The versions this executor can run, with their handlers. */
  machines: MachineCatalog;
  /** Who holds the leases: unique per worker. */
  owner: string;
  /**
   * How long a claim lasts without renewal; a dead worker's instances are due again after it.
   * A heartbeat renews the leases of everything held every third of it.
   */
  leaseMs: number;
  /** How long (real time) a step may run when its binding sets no timeout. */
  stepTimeoutMs: number;
  /** How long (real time) a stop waits for the steps in hand before it lets them go. */
  drainMs: number;
  /** How many instances one worker drives at once (and commits together). */
  batchSize: number;
  /** How often an idle worker looks for new work written by other processes. */
  pollMs: number;
  /** The source of full-jitter draws, in [0, 1). */
  random: () => number;
  /** Told of every handler run once the core has applied its outcome (a worker logs it). */
  onStep?: (step: StepReport) => void;
}

/** One handler run, as a worker's log shows it. */
export interface StepReport {
  instance: string;
  node: string;
  label: string;
  attempt: number;
  /** What the core made of the outcome: completed, decided, sleeping, waiting, failed (to be retried), caught, dead-letter… */
  outcome: JournalEntry['outcome'];
  /** The decision's label, the error, or what the step waits for. */
  detail?: string;
  /** Real milliseconds the round's handlers took. */
  ms: number;
}

export interface DrainOptions {
  /** Drive only this instance. */
  only?: string;
  /**
   * `idle`: return when nothing is due now (a virtual clock first jumps to every later timer);
   * `forever`: keep waiting for due work until `stop` fires.
   */
  until: 'idle' | 'forever';
  /** With `idle` on a virtual clock: do not jump past this time. */
  horizon?: number;
  stop?: AbortSignal;
  /** With `forever`: list the worker in the database, with the versions it runs, while it drains. */
  register?: boolean;
  /** Called once the versions of due instances are loaded and the drain is about to claim work. */
  onStarted?: (versions: readonly string[]) => void;
}

export interface DrainSummary {
  /** Handler runs committed. */
  steps: number;
  /** Instances let go finished (completed or failed). */
  finished: number;
  /** Steps still running when a stop's drain time ran out: abandoned, their instances let go for another worker. */
  abandoned: number;
}

/** An instance being driven: signals that arrived for it, and its handler runs in flight. */
interface Held {
  inbox: StoredSignal[];
  running: Set<RunContext>;
}

/**
 * Runs due work: claims instances, runs their ready handlers, feeds the outcomes to the core
 * and commits each round — snapshot, journal rows, outbox effects, timers — in one
 * transaction. Rounds of many instances share a transaction (group commit). An instance with
 * more ready work stays claimed and goes round again: at once when its handlers returned
 * without awaiting (their steps and the next commit together), else after its commit, so that
 * a step never runs after awaited I/O of an earlier step that is not yet durable.
 */
export class Executor {
  private readonly committer: GroupCommitter;
  /** Instances driven now, by store seq. */
  private readonly held = new Map<number, Held>();
  /**
   * Set when a stop's drain time runs out: drives still awaiting their handlers then commit
   * nothing more (their leases are released), and end as soon as their handlers settle.
   */
  private halted = false;
  /** Why the current drain stops: a commit or a drive that failed. */
  private failure: unknown;
  private signalSeen = 0;
  /** Until when (in `realTime`) the current burst's instances may chain steps. */
  private chainUntil = 0;
  private steps = 0;
  private finished = 0;
  private stopping = false;
  private readonly now = () => this.options.clock.now();

  constructor(private readonly options: ExecutorOptions) {
    this.committer = new GroupCommitter(options.store, options.owner, {
      afterFlush: () => this.afterFlush(),
      letGo: (item) => {
        if (item.snapshot.status !== 'running') this.finished++;
      },
      failed: (error) => this.fail(error),
    });
  }

  async drain(drain: DrainOptions): Promise<DrainSummary> {
    const { store, clock, batchSize, leaseMs, owner, pollMs, machines } = this.options;
    const startSteps = this.steps;
    const startFinished = this.finished;
    const active = new Set<Promise<void>>();
    this.failure = undefined;
    this.stopping = false;
    this.halted = false;
    const onStop = () => {
      this.stopping = true;
      this.committer.wakeWaiters();
    };
    drain.stop?.addEventListener('abort', onStop, { once: true });
    const startedAt = Date.now();
    const heartbeat = () => {
      try {
        store.renewLeases(owner, clock.now() + leaseMs);
        if (drain.register === true) {
          store.registerWorker({ id: owner, pid: process.pid, startedAt, seenAt: Date.now(), leaseMs, versions: [...machines.versions] });
        }
      } catch (error) {
        // An unwritable database stops the drain, as a failed commit does.
        this.fail(error);
        this.committer.wakeWaiters();
      }
    };
    await machines.discover(Number.POSITIVE_INFINITY);
    heartbeat();
    const renewal = setInterval(heartbeat, Math.max(50, leaseMs / 3));
    let wakeTimer: NodeJS.Timeout | undefined;
    let nextDeployCheck = performance.now() + pollMs;
    drain.onStarted?.(machines.versions);
    this.signalSeen = store.latestSignalSeq();
    let abandoned = 0;
    try {
      while (true) {
        if (this.stopping || drain.stop?.aborted === true) {
          this.stopping = true;
          abandoned = await this.settle(active);
          break;
        }
        // A version deployed by another process since the last look: loaded before claiming (at most once a poll).
        if (performance.now() >= nextDeployCheck) {
          nextDeployCheck = performance.now() + pollMs;
          if (machines.deployedSince()) await machines.discover(clock.now());
        }
        // Instances let go count until their last round is committed.
        const room = batchSize - active.size - this.committer.lettingGo;
        if (room >= batchSize / 2) {
          const now = clock.now();
          // Never what it still drives, nor what it has let go of but not yet committed.
          const exclude = [...this.held.keys(), ...this.committer.pendingSeqs()];
          const claimed = store.claim(owner, now, now + leaseMs, room, { only: drain.only, versions: machines.versions, exclude });
          this.startBurst();
          for (const instance of claimed) {
            const done = () => {
              active.delete(driving);
              this.committer.wakeWaiters();
            };
            const driving: Promise<void> = this.drive(instance.seq, instance.epoch, instance.snapshot, instance.signalSeq).then(done, (error: unknown) => {
              this.fail(error);
              done();
            });
            active.add(driving);
          }
        }
        if (active.size > 0 || this.committer.busy) {
          // Steps in flight (a hung one, maybe) hold up nothing else: on the wall clock a timer
          // wakes this loop when the next instance comes due (or after a poll), to claim it.
          if (!clock.virtual && wakeTimer === undefined) {
            const now = clock.now();
            const next = store.nextWakeAt(machines.versions, drain.only);
            const at = next !== null && next > now ? Math.min(next, now + pollMs) : now + pollMs;
            wakeTimer = setTimeout(() => {
              wakeTimer = undefined;
              this.committer.wakeWaiters();
            }, at - now);
          }
          await this.committer.progress();
          continue;
        }
        const now = clock.now();
        let next = store.nextWakeAt(machines.versions, drain.only);
        if (next === null || next > now) {
          // Nothing to do here: instances of versions not loaded yet may be due.
          await machines.discover(now);
          next = store.nextWakeAt(machines.versions, drain.only);
        }
        if (drain.until === 'idle') {
          if (next === null || (next > now && (!clock.virtual || next > (drain.horizon ?? Number.POSITIVE_INFINITY)))) break;
          await clock.sleepUntil(next);
          continue;
        }
        await clock.sleepUntil(Math.min(next ?? Number.POSITIVE_INFINITY, now + pollMs), drain.stop);
      }
    } finally {
      clearInterval(renewal);
      clearTimeout(wakeTimer);
      drain.stop?.removeEventListener('abort', onStop);
      if (drain.register === true) store.removeWorker(owner);
    }
    if (this.failure !== undefined) throw this.failure;
    return { steps: this.steps - startSteps, finished: this.finished - startFinished, abandoned };
  }

  /**
   * A stop: waits up to the drain time for the steps in hand and their commits. Steps still
   * running then are abandoned: their signals abort, and their instances are let go at once,
   * due for any worker; whatever such a step returns later is not committed (its claim is gone).
   * Returns how many steps were abandoned.
   */
  private async settle(active: Set<Promise<void>>): Promise<number> {
    const { drainMs } = this.options;
    const deadline = Date.now() + drainMs;
    while (active.size > 0 || this.committer.busy) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await this.progressOrTime(Date.now() + left);
    }
    if (active.size === 0 && !this.committer.busy) return 0;
    let abandoned = 0;
    this.halted = true;
    for (const held of this.held.values()) {
      for (const context of held.running) {
        context.abort('the worker stopped before the step finished');
        abandoned++;
      }
    }
    while (this.committer.busy) await this.committer.progress();
    try {
      this.releaseAll();
    } catch (error) {
      // The database cannot be written (a full disk, say): the leases run out by themselves.
      this.fail(error);
    }
    return abandoned;
  }

  /** Lets go of every instance this executor holds, due at once for another worker: for a worker that must exit now. */
  releaseAll(): void {
    this.halted = true;
    this.options.store.releaseLeases(this.options.owner, this.options.clock.now());
  }

  /** Resolves after the next group commit or drive's end, or at the real time `at`. */
  private async progressOrTime(at: number): Promise<void> {
    const timer = new AbortController();
    try {
      await Promise.race([this.committer.progress(), wallClock.sleepUntil(at, timer.signal)]);
    } finally {
      timer.abort();
    }
  }

  /**
   * A failed commit (the database is unwritable, say) or drive stops the drain; leases left
   * behind expire and another worker resumes from the last commit.
   */
  private fail(error: unknown): void {
    this.failure ??= error;
    this.stopping = true;
  }

  /**
   * Drives one claimed instance round by round until it has nothing ready, then lets it go: its
   * last round is committed with the next group, and nothing here waits for that. Every commit
   * carries the claim's fencing token; one that finds the claim gone (the lease ran out and
   * another worker took the instance) ends the drive with nothing written.
   */
  private async drive(seq: number, epoch: number, claimedSnapshot: Snapshot, signalSeq: number): Promise<void> {
    const { store, clock, random, machines } = this.options;
    const loaded = machines.get(claimedSnapshot.machine);
    // Claims take only the versions loaded here, and none is ever unloaded.
    if (loaded === undefined) throw new Error(`instance ${claimedSnapshot.id} was claimed, but its version ${claimedSnapshot.machine} is not loaded`);
    // The snapshot just read from the store becomes the instance's working snapshot: each event
    // changes it in place, and each commit writes it.
    const effects = new RoundEffects();
    const stepper = new Stepper(loaded.machine, claimedSnapshot, effects);
    const snapshot = stepper.snapshot;
    // One event, refilled for each outcome: the core reads an event and keeps nothing of it.
    const handled: HandledEvent = { type: 'handled', at: 0, token: '', node: '', visit: 0, outcome: COMPLETED, random: 0 };

    const held: Held = { inbox: signalSeq > snapshot.signalSeq ? store.signalsOf(seq, snapshot.signalSeq) : [], running: new Set() };
    const inbox = held.inbox;
    this.held.set(seq, held);
    try {
      // The handler runs a round asks for: a claimed instance begins with a wake, which asks for
      // every ready token; later rounds take the runs the previous outcomes asked for, unless a
      // timer has come due or a signal has arrived meanwhile.
      let runs: RunRequest[] | undefined;
      /** Handler runs applied since the last commit. */
      let unsaved = 0;
      /** The clock as the last round ended: a chained round starts at once, without reading it again. */
      let now: number | undefined;
      // Once claimed, an instance's first round is in hand: it runs even when a stop comes while
      // the batch's machines load, and the instance is let go after it.
      let first = true;
      while (true) {
        if (inbox.length > 0) {
          for (const signal of inbox.splice(0)) {
            if (signal.seq <= snapshot.signalSeq) continue;
            stepper.apply({ type: 'signal', at: clock.now(), seq: signal.seq, name: signal.name, payload: signal.payload });
          }
          runs = undefined;
        }
        if (unsaved === 0 || now === undefined) now = clock.now();
        if (runs === undefined || timerDue(snapshot, now)) {
          // The wake asks for every ready token: it replaces whatever was asked before.
          effects.dropRuns();
          stepper.apply({ type: 'wake', at: now });
          runs = effects.takeRuns();
        }
        let awaited = false;
        if (runs.length > 0 && (first || !this.stopping)) {
          // Every context of the round is made, from the snapshot as the round found it, before
          // any outcome is applied. Sized up front: most rounds run one handler, and a growing
          // array would reserve 17 slots.
          const roundStart = this.options.onStep === undefined ? 0 : performance.now();
          const results = new Array<HandlerOutcome | Promise<HandlerOutcome>>(runs.length);
          for (let index = 0; index < runs.length; index++) {
            const result = this.runHandler(loaded, snapshot, runs[index]!, held);
            if (isPromiseLike(result)) awaited = true;
            results[index] = result;
          }
          let outcomes: HandlerOutcome[];
          if (!awaited) {
            outcomes = results as HandlerOutcome[];
          } else if (unsaved > 0) {
            // Steps chained before this one are made durable while it runs: `inspect` shows the
            // instance where it is, and a step that hangs holds up no finished work.
            unsaved = 0;
            const committed = this.committer.submit({ seq, epoch, snapshot, journal: effects.takeJournal(), outbox: effects.takeOutbox() });
            outcomes = await Promise.all(results);
            if (!(await committed)) return;
          } else {
            outcomes = await Promise.all(results);
          }
          if (this.halted) return;
          // The round's outcomes are recorded at the time its handlers have all returned.
          now = clock.now();
          for (let index = 0; index < runs.length; index++) {
            const run = runs[index]!;
            handled.at = now;
            handled.token = run.token;
            handled.node = run.node;
            handled.visit = run.visit;
            handled.outcome = outcomes[index]!;
            handled.random = random();
            const journaled = effects.journaled;
            stepper.apply(handled);
            if (this.options.onStep !== undefined) this.report(snapshot, loaded.machine, run, effects.entriesSince(journaled), performance.now() - roundStart);
          }
          this.steps += runs.length;
          unsaved += runs.length;
        }
        first = false;
        // Nothing asked but something ready (never expected): a wake next round finds it.
        runs = effects.runs.length > 0 ? effects.takeRuns() : undefined;
        const wakeAt = nextWake(snapshot, now);
        const keep = wakeAt !== null && wakeAt <= now && !this.stopping;
        // Handlers that returned at once did no awaited I/O: the steps they ask for next run now
        // and commit with them, in the same transaction, up to a bound. A crash before that
        // commit re-runs them all from the last commit, under the same idempotency keys.
        if (keep && !awaited && unsaved > 0 && unsaved < CHAIN_LIMIT && this.realTime(now) < this.chainUntil) continue;
        unsaved = 0;
        const item: CommitItem = { seq, epoch, snapshot, journal: effects.takeJournal(), outbox: effects.takeOutbox() };
        if (!keep) {
          item.release = { wakeAt, now };
          this.committer.letGo(item);
          return;
        }
        if (!(await this.committer.submit(item)) || this.halted) return;
      }
    } finally {
      this.held.delete(seq);
    }
  }

  private runHandler(loaded: LoadedMachine, snapshot: Snapshot, run: RunRequest, held: Held): Promise<HandlerOutcome> | HandlerOutcome {
    const { machine, registry } = loaded;
    const handler = registry.get(run.handler);
    if (handler === undefined) return failed({ name: ENGINE_ERRORS.handlerNotFound, message: `no handler named "${run.handler}" is registered` });
    const node = machine.nodes[run.node]!;
    const init: RunContextInit = {
      instanceId: snapshot.id,
      data: snapshot.data,
      node,
      lane: laneOf(machine, node.lane),
      loopIteration: 0,
      token: tokenOf(snapshot, run.token),
      run,
      now: this.now,
    };
    if (node.loop !== undefined) {
      init.loop = machine.loops[node.loop]!;
      init.loopIteration = snapshot.loops[node.loop] ?? 0;
    }
    const context = new RunContext(init);
    let result: unknown;
    try {
      result = handler(context);
    } catch (error) {
      return context.suspension !== undefined ? { kind: 'suspended', wait: context.suspension } : failed(errorInfo(error));
    }
    if (!isPromiseLike(result)) return settle(context, node, result);
    return new Promise<HandlerOutcome>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (outcome: HandlerOutcome) => {
        if (timer !== undefined) clearTimeout(timer);
        context.onSuspend = undefined;
        held.running.delete(context);
        resolve(outcome);
      };
      if (context.suspension !== undefined) return finish({ kind: 'suspended', wait: context.suspension });
      held.running.add(context);
      context.onSuspend = () => finish({ kind: 'suspended', wait: context.suspension! });
      // Handler time is real time, on a virtual clock too: a hung handler never lets virtual time pass.
      const timeoutMs = node.timeoutSeconds === undefined ? this.options.stepTimeoutMs : node.timeoutSeconds * 1000;
      timer = setTimeout(() => {
        const message = `${node.id} ran longer than its timeout of ${formatMs(timeoutMs)}`;
        context.abort(message);
        finish(failed({ name: ENGINE_ERRORS.timeout, message }));
      }, timeoutMs);
      result.then(
        (value) => finish(settle(context, node, value)),
        (error: unknown) => finish(context.suspension !== undefined ? { kind: 'suspended', wait: context.suspension } : failed(errorInfo(error))),
      );
    });
  }

  /** Tells `onStep` what a handler run came to: the first journal row its outcome wrote for its node. */
  private report(snapshot: Snapshot, machine: Machine, run: RunRequest, entries: readonly JournalEntry[], ms: number): void {
    const entry = entries.find((e) => e.node === run.node && e.token === run.token) ?? entries[0];
    if (entry === undefined) return;
    const report: StepReport = { instance: snapshot.id, node: run.node, label: machine.nodes[run.node]?.label ?? '', attempt: run.attempt, outcome: entry.outcome, ms };
    const detail = entry.detail;
    if (detail !== undefined) {
      const error = detail['error'] as { name?: string; message?: string } | undefined;
      if (error !== undefined) report.detail = `${error.name}: ${error.message}`;
      else if (typeof detail['label'] === 'string') report.detail = detail['label'];
      else if (typeof detail['until'] === 'string') report.detail = `until ${detail['until']}`;
      else if (typeof detail['signal'] === 'string') report.detail = `signal ${detail['signal']}`;
    }
    this.options.onStep!(report);
  }

  /** A burst of work begins (after a claim or a commit): its instances may chain steps for a while. */
  private startBurst(): void {
    this.chainUntil = this.realTime(this.options.clock.now()) + Math.min(CHAIN_BUDGET_MS, this.options.leaseMs / 10);
  }

  /**
   * Real milliseconds for the chain budget, from a reading of the engine's clock: a wall clock's
   * reading serves as it is (no second read per round); a virtual one does not move with real time.
   */
  private realTime(clockReading: number): number {
    return this.options.clock.virtual ? performance.now() : clockReading;
  }

  /** After each group commit, starts the next burst and hands newly arrived signals to the instances being driven. */
  private afterFlush(): void {
    this.startBurst();
    const latest = this.options.store.latestSignalSeq();
    if (latest <= this.signalSeen) return;
    for (const signal of this.options.store.signalsAfter(this.signalSeen)) this.held.get(signal.instance)?.inbox.push(signal);
    this.signalSeen = latest;
  }
}

function laneOf(machine: Machine, id: string): { id: string; label: string } {
  for (const lane of machine.lanes) if (lane.id === id) return lane;
  return { id, label: id };
}

function tokenOf(snapshot: Snapshot, id: string): Token {
  for (const token of snapshot.tokens) if (token.id === id) return token;
  throw new Error(`instance ${snapshot.id} has no token ${id}`);
}

/**
 * What a driven instance's events ask for: the journal rows and outbox effects that go with its
 * next commit, and the handler runs of its next round.
 */
class RoundEffects implements EffectSink {
  runs: RunRequest[] = [];
  /** The list handed out by the last `takeRuns`, cleared and reused by the one after. */
  private taken: RunRequest[] = [];
  private entries: JournalEntry[] = [];
  private effects: OutboxEffect[] = [];

  journal(entry: JournalEntry): void {
    this.entries.push(entry);
  }

  run(run: RunRequest): void {
    this.runs.push(run);
  }

  outbox(effect: OutboxEffect): void {
    this.effects.push(effect);
  }

  /** The runs asked for since the last call; the list is valid until the next call. */
  takeRuns(): RunRequest[] {
    const runs = this.runs;
    this.runs = this.taken;
    this.dropRuns();
    this.taken = runs;
    return runs;
  }

  /** Empties the list being filled, keeping its storage (setting `length` to 0 would drop it). */
  dropRuns(): void {
    while (this.runs.length > 0) this.runs.pop();
  }

  /** How many journal rows wait for the next commit: a mark for `entriesSince`. */
  get journaled(): number {
    return this.entries.length;
  }

  entriesSince(mark: number): readonly JournalEntry[] {
    return this.entries.slice(mark);
  }

  takeJournal(): JournalEntry[] {
    const entries = this.entries;
    this.entries = [];
    return entries;
  }

  takeOutbox(): OutboxEffect[] {
    const effects = this.effects;
    this.effects = [];
    return effects;
  }
}

/** Whether a sleeping, waiting or backing-off token's time has come. */
function timerDue(snapshot: Snapshot, now: number): boolean {
  for (const token of snapshot.tokens) if (token.dueAt !== undefined && token.dueAt <= now) return true;
  return false;
}

type HandledEvent = Extract<RuntimeEvent, { type: 'handled' }>;

/** A step that returned nothing: one shared outcome, as the core only reads it. */
const COMPLETED: HandlerOutcome = Object.freeze({ kind: 'completed' });

/**
 * What a handler's return value means for its node: a data patch for a step, a label for a
 * decision. A decision that returns anything but a string fails here, naming what it returned;
 * the core checks a string against the diamond's labels.
 */
function settle(context: RunContext, node: MachineNode, value: unknown): HandlerOutcome {
  if (context.suspension !== undefined) return { kind: 'suspended', wait: context.suspension };
  const outbox = context.outbox;
  if (node.kind === 'decision') {
    if (typeof value !== 'string') {
      const labels = (node.branches ?? []).map((b) => `"${b.label}"`).join(', ');
      return failed({ name: ENGINE_ERRORS.invalidLabel, message: `decision ${node.id} returned ${describeValue(value)}; it must return one of its labels ${labels}` });
    }
    const outcome: HandlerOutcome = { kind: 'completed', label: value };
    if (outbox !== undefined) outcome.outbox = outbox;
    return outcome;
  }
  if (value === undefined || value === null) return outbox === undefined ? COMPLETED : { kind: 'completed', outbox };
  if (typeof value !== 'object' || Array.isArray(value)) {
    return failed({ name: ENGINE_ERRORS.invalidResult, message: `${context.node.id} returned ${JSON.stringify(value)}; a step returns a data patch object or nothing` });
  }
  let patch: JsonObject;
  try {
    patch = JSON.parse(JSON.stringify(value)) as JsonObject;
  } catch (error) {
    return failed({ name: ENGINE_ERRORS.invalidResult, message: `${context.node.id} returned a patch that is not JSON: ${errorInfo(error).message}` });
  }
  return outbox === undefined ? { kind: 'completed', patch } : { kind: 'completed', patch, outbox };
}

/** A returned value as a message shows it: JSON where it has one, its type otherwise. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (undefined)';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint' || typeof value === 'symbol') return `a ${typeof value}`;
  try {
    const json = JSON.stringify(value);
    return json.length > 80 ? `${json.slice(0, 77)}...` : json;
  } catch {
    return `a ${typeof value} that is not JSON`;
  }
}

function formatMs(ms: number): string {
  return `${ms / 1000} s`;
}

function failed(error: ErrorInfo): HandlerOutcome {
  return { kind: 'failed', error };
}

function errorInfo(error: unknown, fallbackName = 'Error'): ErrorInfo {
  if (error instanceof Error) return { name: error.name || fallbackName, message: error.message };
  return { name: fallbackName, message: typeof error === 'string' ? error : JSON.stringify(error) ?? String(error) };
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

interface CommitterEvents {
  /** After each group commit. */
  afterFlush: () => void;
  /** An instance let go has had its last round committed. */
  letGo: (item: CommitItem) => void;
  /** A group commit failed: its rounds are not written. */
  failed: (error: unknown) => void;
}

/**
 * Collects the rounds that instances submit and commits them together, once the current burst
 * of work (everything ready within one turn of the event loop) has submitted. A round that
 * lets its instance go has nobody waiting for it: the instance is done with as soon as it is
 * handed over, and what it leaves in memory until the commit is the round itself.
 */
class GroupCommitter {
  private pending: CommitItem[] = [];
  /** For each pending round, by position: the drive waiting for it, or nothing for an instance let go. */
  private settlers: ({ resolve: (committed: boolean) => void; reject: (error: unknown) => void } | undefined)[] = [];
  private scheduled = false;
  private waiters: (() => void)[] = [];
  /** Instances let go whose last round is pending. */
  lettingGo = 0;

  constructor(
    private readonly store: SqliteStore,
    private readonly owner: string,
    private readonly events: CommitterEvents,
  ) {}

  get busy(): boolean {
    return this.pending.length > 0;
  }

  /** The instances whose rounds wait for the next group commit. */
  pendingSeqs(): number[] {
    return this.pending.map((item) => item.seq);
  }

  /** Commits `item` with the next group; resolves to whether it was written (false: the lease was lost). */
  submit(item: CommitItem): Promise<boolean> {
    return new Promise((resolve, reject) => this.add(item, { resolve, reject }));
  }

  /** Commits an instance's last round with the next group. */
  letGo(item: CommitItem): void {
    this.lettingGo++;
    this.add(item, undefined);
  }

  /** Resolves after the next flush, or when a driven instance is done. */
  progress(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  wakeWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private add(item: CommitItem, settler: GroupCommitter['settlers'][number]): void {
    this.pending.push(item);
    this.settlers.push(settler);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    const items = this.pending;
    const settlers = this.settlers;
    this.pending = [];
    this.settlers = [];
    this.scheduled = false;
    this.lettingGo = 0;
    let results: boolean[];
    try {
      results = this.store.commit(this.owner, items);
      this.events.afterFlush();
    } catch (error) {
      for (const settler of settlers) settler?.reject(error);
      this.events.failed(error);
      this.wakeWaiters();
      return;
    }
    for (let index = 0; index < items.length; index++) {
      const settler = settlers[index];
      if (settler !== undefined) settler.resolve(results[index]!);
      else if (results[index]!) this.events.letGo(items[index]!);
    }
    this.wakeWaiters();
  }
}
