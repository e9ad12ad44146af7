// A model-based test of the claim protocol on a real SQLite file: three simulated workers claim,
// run steps, heartbeat, commit, crash and lose their leases while the clock moves on, in random
// interleavings chosen by fast-check. Each worker does what the executor does — claim through
// the store, step the instance with the pure core, commit with the claim's fencing token — and a
// model of every instance row (owner, fencing token, due time) says what the store must answer.
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Machine } from '../../src/compiler/types';
import { begin, nextWake, transition } from '../../src/runtime/core';
import { SqliteStore, type CommitItem } from '../../src/runtime/sqlite-store';
import type { HandlerOutcome, JournalEntry, OutboxEffect, Snapshot } from '../../src/runtime/types';
import { machineOf, T0 } from './helpers';

const FLOW = `Ops { # Ops
  n1: circle label:"Start"
  n2: rectangle label:"Reserve"
  n3: rectangle label:"Wait a second"
  n4: rectangle label:"Charge"
  n5: rectangle label:"Email"
  n6: circle label:"Done"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
  n3.handle(right) -> n4.handle(left)
  n4.handle(right) -> n5.handle(left)
  n5.handle(right) -> n6.handle(left)
}
`;
const LEASE = 1000;
const INSTANCES = 4;
const SLEEP = 1500;

const folder = mkdtempSync(join(tmpdir(), 'laneflow-leases-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** What the store must hold for one instance row. */
interface RowModel {
  owner: string | null;
  epoch: number;
  wakeAt: number | null;
}

/** A round a worker has run and not yet committed: the handler's side effects are already done. */
interface Pending {
  snapshot: Snapshot;
  journal: JournalEntry[];
  outbox: OutboxEffect[];
}

interface Claim {
  epoch: number;
  snapshot: Snapshot;
  pending?: Pending;
}

class SimWorker {
  held = new Map<number, Claim>();
  generation = 0;
  constructor(readonly name: string) {}
  get owner(): string {
    return `${this.name}#${this.generation}`;
  }
}

class World {
  readonly store: SqliteStore;
  readonly machine: Machine;
  readonly rows = new Map<number, RowModel>();
  readonly workers = [new SimWorker('w0'), new SimWorker('w1'), new SimWorker('w2')];
  /** Every side effect a handler performed, by idempotency key: at least once each. */
  readonly sideEffects: string[] = [];
  now = T0;

  constructor(path: string) {
    this.store = new SqliteStore(path);
    this.machine = machineOf(FLOW, { path: 'ops.flow' });
    this.store.saveMachine(this.machine, null, this.now);
    const started = Array.from({ length: INSTANCES }, (_, i) => {
      const { snapshot, effects } = begin(this.machine, { id: `i${i}`, at: this.now, input: {}, start: 'n1' });
      return { snapshot, journal: effects.flatMap((e) => (e.type === 'journal' ? [e.entry] : [])), wakeAt: nextWake(snapshot, this.now) };
    });
    this.store.insertInstances(started);
    started.forEach((s, i) => this.rows.set(i + 1, { owner: null, epoch: 0, wakeAt: s.wakeAt }));
  }

  claim(worker: SimWorker, limit: number): void {
    // A worker names what it still holds, as the executor does.
    const exclude = [...worker.held.keys()];
    const leaseUntil = this.now + LEASE;
    const eligible = [...this.rows].filter(([seq, row]) => row.wakeAt !== null && row.wakeAt <= this.now && !exclude.includes(seq)).map(([seq]) => seq);
    const claimed = this.store.claim(worker.owner, this.now, leaseUntil, limit, { versions: [this.machine.version], exclude });
    expect(claimed.length).toBe(Math.min(limit, eligible.length));
    for (const { seq, epoch, snapshot } of claimed) {
      expect(eligible).toContain(seq);
      const row = this.rows.get(seq)!;
      // Safety: no other worker's lease on the row is still live.
      if (row.owner !== null) expect(row.wakeAt! <= this.now).toBe(true);
      expect(epoch).toBe(row.epoch + 1);
      Object.assign(row, { owner: worker.owner, epoch, wakeAt: leaseUntil });
      worker.held.set(seq, { epoch, snapshot });
    }
  }

  /** Runs the ready handlers of one held instance (side effects happen now), keeping the round for its commit. */
  run(worker: SimWorker, pick: number): void {
    const claim = pickOf(worker.held, pick);
    if (claim === undefined || claim.pending !== undefined) return;
    let { snapshot } = claim;
    const journal: JournalEntry[] = [];
    const outbox: OutboxEffect[] = [];
    const woken = transition(this.machine, snapshot, { type: 'wake', at: this.now });
    snapshot = woken.snapshot;
    journal.push(...woken.effects.flatMap((e) => (e.type === 'journal' ? [e.entry] : [])));
    for (const effect of woken.effects) {
      if (effect.type !== 'run') continue;
      const { run } = effect;
      const token = snapshot.tokens.find((t) => t.id === run.token)!;
      let outcome: HandlerOutcome;
      if (run.node === 'n3' && (token.waits ?? []).length === 0) {
        outcome = { kind: 'suspended', wait: { kind: 'sleep', until: this.now + SLEEP } };
      } else {
        this.sideEffects.push(run.idempotencyKey);
        outcome = { kind: 'completed', patch: { [run.node]: true }, outbox: [{ key: `${run.idempotencyKey}:effect`, kind: 'effect', payload: run.node }] };
      }
      const next = transition(this.machine, snapshot, { type: 'handled', at: this.now, token: run.token, node: run.node, visit: run.visit, outcome, random: 0.5 });
      snapshot = next.snapshot;
      for (const e of next.effects) {
        if (e.type === 'journal') journal.push(e.entry);
        if (e.type === 'outbox') outbox.push(e.effect);
      }
    }
    claim.pending = { snapshot, journal, outbox };
  }

  /** Commits a held instance's pending round, letting it go when it has nothing ready. */
  commit(worker: SimWorker, pick: number): void {
    const entry = pickEntry(worker.held, pick);
    if (entry === undefined || entry[1].pending === undefined) return;
    const [seq, claim] = entry;
    const { snapshot, journal, outbox } = claim.pending!;
    const wakeAt = nextWake(snapshot, this.now);
    const keep = wakeAt !== null && wakeAt <= this.now;
    const item: CommitItem = { seq, epoch: claim.epoch, snapshot, journal, outbox };
    if (!keep) item.release = { wakeAt, now: this.now };
    const row = this.rows.get(seq)!;
    const current = row.owner === worker.owner && row.epoch === claim.epoch;
    const [written] = this.store.commit(worker.owner, [item]);
    expect(written).toBe(current);
    if (!written) {
      worker.held.delete(seq);
      return;
    }
    if (keep) {
      worker.held.set(seq, { epoch: claim.epoch, snapshot });
    } else {
      worker.held.delete(seq);
      Object.assign(row, { owner: null, wakeAt });
    }
  }

  heartbeat(worker: SimWorker): void {
    this.store.renewLeases(worker.owner, this.now + LEASE);
    for (const row of this.rows.values()) if (row.owner === worker.owner) row.wakeAt = this.now + LEASE;
  }

  /** The worker's process dies: what it held in memory is gone, and it comes back under a new name. */
  crash(worker: SimWorker): void {
    worker.held.clear();
    worker.generation++;
  }

  /** Every step visit committed at most once, and every effect recorded once. */
  checkInvariants(): void {
    const rows = this.store.database
      .prepare(
        `SELECT instance, node, visit, COUNT(*) AS n FROM journal WHERE outcome IN ('completed', 'decided', 'ended')
         GROUP BY instance, node, visit, token HAVING n > 1`,
      )
      .all();
    expect(rows).toEqual([]);
    for (const [seq, model] of this.rows) {
      const stored = this.store.database.prepare('SELECT lease_owner, lease_epoch, wake_at FROM instances WHERE seq = ?').get(seq) as Record<string, unknown>;
      expect(stored).toEqual({ lease_owner: model.owner, lease_epoch: model.epoch, wake_at: model.wakeAt });
    }
  }

  /** Lets time pass and one healthy worker finish everything. */
  finish(): void {
    const worker = new SimWorker('finisher');
    for (let round = 0; round < 200; round++) {
      this.now += LEASE + SLEEP;
      this.claim(worker, INSTANCES);
      for (let i = 0; worker.held.size > 0 && i < 50; i++) {
        this.run(worker, 0);
        this.commit(worker, 0);
      }
      if (this.store.counts().completed === INSTANCES) return;
    }
  }
}

function pickEntry<T>(map: Map<number, T>, pick: number): [number, T] | undefined {
  const entries = [...map];
  return entries.length === 0 ? undefined : entries[pick % entries.length];
}

function pickOf<T>(map: Map<number, T>, pick: number): T | undefined {
  return pickEntry(map, pick)?.[1];
}

type Command = fc.Command<object, World>;
const worker = fc.integer({ min: 0, max: 2 });
const pick = fc.nat({ max: 7 });

function command(name: string, act: (world: World) => void): Command {
  return {
    check: () => true,
    run: (_, world) => {
      act(world);
      world.checkInvariants();
    },
    toString: () => name,
  };
}

const commands = [
  fc.tuple(worker, fc.integer({ min: 1, max: INSTANCES })).map(([w, limit]) => command(`claim(w${w}, ${limit})`, (world) => world.claim(world.workers[w]!, limit))),
  fc.tuple(worker, pick).map(([w, p]) => command(`run(w${w}, ${p})`, (world) => world.run(world.workers[w]!, p))),
  fc.tuple(worker, pick).map(([w, p]) => command(`commit(w${w}, ${p})`, (world) => world.commit(world.workers[w]!, p))),
  worker.map((w) => command(`heartbeat(w${w})`, (world) => world.heartbeat(world.workers[w]!))),
  worker.map((w) => command(`crash(w${w})`, (world) => world.crash(world.workers[w]!))),
  fc.integer({ min: 1, max: 2500 }).map((ms) => command(`advance(${ms})`, (world) => (world.now += ms))),
];

describe('claims, heartbeats and fencing on SQLite (model-based)', () => {
  it('commits every step visit at most once and ends every instance, whatever the interleaving of claims, commits, crashes and expired leases', () => {
    let run = 0;
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 120 }), (cmds) => {
        const path = join(folder, `world-${run++}.db`);
        const world = new World(path);
        try {
          fc.modelRun(() => ({ model: {}, real: world }), cmds);
          world.finish();
          world.checkInvariants();
          expect(world.store.counts()).toEqual({ running: 0, completed: INSTANCES, failed: 0 });
          // Every side-effect step has exactly one outbox row; the handlers ran each at least once.
          const outbox = world.store.database.prepare('SELECT key FROM outbox ORDER BY key').pluck().all() as string[];
          const expected = Array.from({ length: INSTANCES }, (_, i) => ['n2', 'n3', 'n4', 'n5'].map((n) => `i${i}:${n}:1:effect`)).flat().sort();
          expect(outbox).toEqual(expected);
          expect(new Set(world.sideEffects)).toEqual(new Set(expected.map((key) => key.replace(/:effect$/, ''))));
        } finally {
          world.store.close();
          for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
        }
      }),
      { numRuns: 150 },
    );
  });

  it('never hands a worker an instance it still holds, though its lease ran out, and refuses the stale commit once another worker took it', () => {
    const path = join(folder, 'own-reclaim.db');
    const world = new World(path);
    try {
      const w0 = world.workers[0]!;
      world.claim(w0, 1);
      world.run(w0, 0);
      const [seq, held] = [...w0.held][0]!;
      world.now += LEASE + 1;
      const again = world.store.claim(w0.owner, world.now, world.now + LEASE, INSTANCES, { versions: [world.machine.version], exclude: [seq] });
      expect(again.map((c) => c.seq)).not.toContain(seq);
      expect(again).toHaveLength(INSTANCES - 1);
      // Another worker may take it, since the lease ran out; the first worker's commit is then refused.
      const taken = world.store.claim('w1#0', world.now, world.now + LEASE, INSTANCES, { versions: [world.machine.version], exclude: [] });
      expect(taken.map((c) => [c.seq, c.epoch])).toEqual([[seq, held.epoch + 1]]);
      const [written] = world.store.commit(w0.owner, [{ seq, epoch: held.epoch, snapshot: held.pending!.snapshot, journal: held.pending!.journal, outbox: held.pending!.outbox }]);
      expect(written).toBe(false);
    } finally {
      world.store.close();
    }
  });
});
