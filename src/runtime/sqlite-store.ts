import type BetterSqlite3 from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { Machine } from '../compiler/types';
import type { InstanceStatus, Json, JournalEntry, JsonObject, OutboxEffect, Snapshot } from './types';

/**
 * Everything durable lives in one SQLite file in WAL mode. An instance row holds its snapshot
 * (data and tokens) and `wake_at`, the time a worker should next look at it; that column is the
 * timer queue. A claimed row's `wake_at` is moved to the end of the claim's lease, so an
 * instance whose worker died becomes due again when the lease runs out. Every claim adds one to
 * the row's `lease_epoch`, its fencing token: a commit names the epoch it claimed, so a worker
 * whose lease ran out and was taken over learns it at its commit, which writes nothing. The
 * journal and the outbox are append-only; `workers` lists the live workers and the machine
 * versions whose code each has loaded.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS machines (
  version TEXT PRIMARY KEY,
  flow_version TEXT NOT NULL,
  path TEXT NOT NULL,
  bindings TEXT,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS instances (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  machine TEXT NOT NULL,
  status TEXT NOT NULL,
  wake_at INTEGER,
  lease_owner TEXT,
  lease_epoch INTEGER NOT NULL DEFAULT 0,
  claimed_at INTEGER,
  signal_seq INTEGER NOT NULL DEFAULT 0,
  snapshot TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_wake ON instances (wake_at) WHERE wake_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS instances_owner ON instances (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE TABLE IF NOT EXISTS journal (
  seq INTEGER PRIMARY KEY,
  instance INTEGER NOT NULL,
  at INTEGER NOT NULL,
  token TEXT NOT NULL,
  node TEXT NOT NULL,
  visit INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  handler TEXT,
  detail TEXT
);
CREATE INDEX IF NOT EXISTS journal_instance ON journal (instance, seq);
CREATE TABLE IF NOT EXISTS outbox (
  key TEXT PRIMARY KEY,
  instance INTEGER NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS signals (
  seq INTEGER PRIMARY KEY,
  instance INTEGER NOT NULL,
  name TEXT NOT NULL,
  payload TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS signals_instance ON signals (instance, seq);
CREATE TABLE IF NOT EXISTS workers (
  id TEXT PRIMARY KEY,
  pid INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  seen_at INTEGER NOT NULL,
  lease_ms INTEGER NOT NULL,
  versions TEXT NOT NULL
);
`;

/** Version 1 had no fencing token, claim time or workers table: the columns come with defaults. */
const MIGRATIONS: Record<number, string> = {
  2: 'ALTER TABLE instances ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0; ALTER TABLE instances ADD COLUMN claimed_at INTEGER;',
};

const SCHEMA_VERSION = 2;

export interface StoreOptions {
  /**
   * `normal` (the default) survives a crash of the process at any point; `full` also survives
   * a power cut, at the cost of an fsync per commit.
   */
  sync?: 'normal' | 'full';
}

export interface StoredMachine {
  machine: Machine;
  /** Absolute path of the binding module that provides its handlers. */
  bindings: string | null;
}

export interface ClaimedInstance {
  seq: number;
  /** The claim's fencing token: its commits are written only while the row still has it. */
  epoch: number;
  snapshot: Snapshot;
  /** The last signal sent to the instance; newer than `snapshot.signalSeq` means unread signals. */
  signalSeq: number;
}

export interface StoredSignal {
  seq: number;
  instance: number;
  name: string;
  payload: Json;
  at: number;
}

/** One instance's round, for a group commit. */
export interface CommitItem {
  seq: number;
  /** The fencing token of the claim the round was run under. */
  epoch: number;
  snapshot: Snapshot;
  journal: JournalEntry[];
  outbox: OutboxEffect[];
  /** Present when the worker lets the instance go: when it is next due (null: never by itself). */
  release?: { wakeAt: number | null; now: number };
}

export interface InstanceRow {
  id: string;
  machine: string;
  flowPath: string;
  flowVersion: string;
  status: InstanceStatus;
  wakeAt: number | null;
  leaseOwner: string | null;
  /** When the current lease holder claimed it (null when no worker holds it). */
  claimedAt: number | null;
  createdAt: number;
  updatedAt: number;
  snapshot: Snapshot;
}

export interface StoredJournalEntry extends JournalEntry {
  seq: number;
}

export interface StoredOutboxEffect extends OutboxEffect {
  instance: string;
  at: number;
}

/** Which instances a claim may take. */
export interface ClaimFilter {
  /** Only this instance (by id). */
  only?: string;
  /** Only instances of these machine versions: the ones whose code the worker has loaded. */
  versions: readonly string[];
  /** Never these instances (by seq): the ones the worker is still driving. */
  exclude: readonly number[];
}

/** A worker as it registers itself, for `laneflow versions`. */
export interface WorkerRow {
  id: string;
  pid: number;
  startedAt: number;
  seenAt: number;
  leaseMs: number;
  versions: string[];
}

/** Running instances per machine version, with the workers that have its code. */
export interface VersionRow {
  version: string;
  flowPath: string;
  bindings: string | null;
  deployedAt: number;
  running: number;
  /** Running instances due now or overdue: waiting for a worker. */
  due: number;
  failed: number;
}

type Row = Record<string, unknown>;

/**
 * The native addon is required on first use, not imported, so that everything that only
 * re-exports the engine (the CLI's `check`, for one) starts without loading it.
 */
function openDatabase(path: string): BetterSqlite3.Database {
  const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
  return new Database(path);
}

export class SqliteStore {
  /** The connection, shared with the built-in packs, whose tables live in the same file. */
  readonly database: BetterSqlite3.Database;
  private readonly db: BetterSqlite3.Database;
  private readonly statements;

  constructor(path: string, options: StoreOptions = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = openDatabase(path);
    this.database = this.db;
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.sync === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('busy_timeout = 10000');
    // 16 MB of page cache: the runtime benchmark runs as fast as with 32 MB (also on 40,000
    // instances), and a worker holding 100,000 sleeping instances keeps about 25 MB less resident.
    this.db.pragma('cache_size = -16000');
    // Checkpoint the WAL into the database file every 8,000 pages (32 MB) rather than SQLite's
    // 1,000: fewer, larger checkpoints (each one syncs the file); commits are as durable.
    this.db.pragma('wal_autocheckpoint = 8000');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw new Error(`${path} was written by a newer laneflow (schema ${version})`);
    if (version < SCHEMA_VERSION) {
      // Under the write lock, read again: two processes opening an old file migrate it once.
      this.db.transaction(() => {
        const current = this.db.pragma('user_version', { simple: true }) as number;
        if (current === SCHEMA_VERSION) return;
        const existing = this.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'instances'").get() !== undefined;
        if (existing) for (let next = Math.max(current, 1) + 1; next <= SCHEMA_VERSION; next++) this.db.exec(MIGRATIONS[next]!);
        this.db.exec(SCHEMA);
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }).immediate();
    }
    const db = this.db;
    this.statements = {
      // Redeploying a machine keeps its first row but follows its binding module to where it is now.
      insertMachine: db.prepare(
        `INSERT INTO machines (version, flow_version, path, bindings, body, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (version) DO UPDATE SET bindings = COALESCE(excluded.bindings, bindings)`,
      ),
      machine: db.prepare('SELECT body, bindings FROM machines WHERE version = ?'),
      insertInstance: db.prepare(
        'INSERT INTO instances (id, machine, status, wake_at, snapshot, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      // The versions and exclusions come as JSON arrays: one statement, whatever their number.
      claim: db.prepare(
        `UPDATE instances SET lease_owner = ?, lease_epoch = lease_epoch + 1, claimed_at = ?, wake_at = ?
         WHERE seq IN (
           SELECT seq FROM instances
           WHERE wake_at <= ? AND machine IN (SELECT value FROM json_each(?)) AND seq NOT IN (SELECT value FROM json_each(?))
           ORDER BY wake_at LIMIT ?)
         RETURNING seq, snapshot, signal_seq, lease_epoch`,
      ).raw(),
      claimOne: db.prepare(
        `UPDATE instances SET lease_owner = ?, lease_epoch = lease_epoch + 1, claimed_at = ?, wake_at = ?
         WHERE seq IN (
           SELECT seq FROM instances
           WHERE wake_at <= ? AND id = ? AND machine IN (SELECT value FROM json_each(?)) AND seq NOT IN (SELECT value FROM json_each(?)))
         RETURNING seq, snapshot, signal_seq, lease_epoch`,
      ).raw(),
      commitHeld: db.prepare('UPDATE instances SET snapshot = ?, updated_at = ? WHERE seq = ? AND lease_epoch = ? AND lease_owner = ?'),
      commitReleased: db.prepare(
        `UPDATE instances SET snapshot = ?, status = ?, updated_at = ?, lease_owner = NULL, claimed_at = NULL,
           wake_at = CASE WHEN signal_seq > ? THEN ? ELSE ? END
         WHERE seq = ? AND lease_epoch = ? AND lease_owner = ?`,
      ),
      renewLeases: db.prepare('UPDATE instances SET wake_at = ? WHERE lease_owner = ?'),
      releaseLeases: db.prepare('UPDATE instances SET lease_owner = NULL, claimed_at = NULL, wake_at = ? WHERE lease_owner = ?'),
      upsertWorker: db.prepare(
        `INSERT INTO workers (id, pid, started_at, seen_at, lease_ms, versions) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, versions = excluded.versions`,
      ),
      deleteWorker: db.prepare('DELETE FROM workers WHERE id = ?'),
      dueVersions: db.prepare(
        'SELECT DISTINCT machine FROM instances WHERE wake_at <= ? AND machine NOT IN (SELECT value FROM json_each(?))',
      ).pluck(),
      machineCount: db.prepare('SELECT COUNT(*) FROM machines').pluck(),
      machinesAfter: db.prepare('SELECT version FROM machines ORDER BY rowid LIMIT -1 OFFSET ?').pluck(),
      insertJournal: db.prepare(
        'INSERT INTO journal (instance, at, token, node, visit, attempt, outcome, handler, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      insertOutbox: db.prepare('INSERT OR IGNORE INTO outbox (key, instance, kind, payload, at) VALUES (?, ?, ?, ?, ?)'),
      nextWake: db.prepare('SELECT MIN(wake_at) AS at FROM instances WHERE wake_at IS NOT NULL AND machine IN (SELECT value FROM json_each(?))'),
      nextWakeOf: db.prepare('SELECT wake_at AS at FROM instances WHERE id = ? AND machine IN (SELECT value FROM json_each(?))'),
      latestSignal: db.prepare('SELECT MAX(seq) AS seq FROM signals'),
      signalsAfter: db.prepare('SELECT seq, instance, name, payload, at FROM signals WHERE seq > ? ORDER BY seq'),
      signalsOf: db.prepare('SELECT seq, instance, name, payload, at FROM signals WHERE instance = ? AND seq > ? ORDER BY seq'),
      insertSignal: db.prepare('INSERT INTO signals (instance, name, payload, at) VALUES (?, ?, ?, ?)'),
      noteSignal: db.prepare(
        `UPDATE instances SET signal_seq = ?,
           wake_at = CASE WHEN lease_owner IS NULL THEN MIN(COALESCE(wake_at, ?), ?) ELSE wake_at END
         WHERE seq = ?`,
      ),
      instanceById: db.prepare(
        `SELECT i.seq, i.id, i.machine, i.status, i.wake_at, i.lease_owner, i.claimed_at, i.created_at, i.updated_at, i.snapshot, m.path, m.flow_version
         FROM instances i JOIN machines m ON m.version = i.machine WHERE i.id = ?`,
      ),
      idsByPrefix: db.prepare("SELECT id FROM instances WHERE id LIKE ? ESCAPE '\\' LIMIT 2"),
      journalOf: db.prepare('SELECT seq, at, token, node, visit, attempt, outcome, handler, detail FROM journal WHERE instance = ? ORDER BY seq'),
      outboxOf: db.prepare('SELECT o.key, o.kind, o.payload, o.at, i.id AS instance FROM outbox o JOIN instances i ON i.seq = o.instance WHERE o.instance = ? ORDER BY o.at, o.key'),
      replaceSnapshot: db.prepare('UPDATE instances SET snapshot = ?, machine = ?, status = ?, updated_at = ?, wake_at = ? WHERE seq = ? AND lease_owner IS NULL'),
    };
  }

  saveMachine(machine: Machine, bindings: string | null, now: number): void {
    this.statements.insertMachine.run(machine.version, machine.flowVersion, machine.path, bindings, JSON.stringify(machine), now);
  }

  machine(version: string): StoredMachine | undefined {
    const row = this.statements.machine.get(version) as { body: string; bindings: string | null } | undefined;
    return row === undefined ? undefined : { machine: JSON.parse(row.body) as Machine, bindings: row.bindings };
  }

  /** Adds new instances with their first journal rows, each due at its `wakeAt`, in one transaction. */
  insertInstances(instances: readonly { snapshot: Snapshot; journal: readonly JournalEntry[]; wakeAt: number | null }[]): void {
    this.db.transaction(() => {
      for (const { snapshot, journal, wakeAt } of instances) {
        const { lastInsertRowid } = this.statements.insertInstance.run(
          snapshot.id,
          snapshot.machine,
          snapshot.status,
          wakeAt,
          JSON.stringify(snapshot),
          snapshot.startedAt,
          snapshot.updatedAt,
        );
        for (const entry of journal) this.insertJournal(Number(lastInsertRowid), entry);
      }
    })();
  }

  /**
   * Claims up to `limit` due instances that `filter` allows for `owner` until `leaseUntil`:
   * their `wake_at` moves to the lease's end, so no other worker takes them meanwhile, and their
   * fencing token grows by one. The worker names in `filter.exclude` what it still holds, which
   * it must never be handed again, even when its lease on them has run out.
   */
  claim(owner: string, now: number, leaseUntil: number, limit: number, filter: ClaimFilter): ClaimedInstance[] {
    const versions = JSON.stringify(filter.versions);
    const exclude = JSON.stringify(filter.exclude);
    // Rows as arrays (`raw`): a claim returns up to a batch of them, and objects would only be unpacked.
    const rows = (
      filter.only === undefined
        ? this.statements.claim.all(owner, now, leaseUntil, now, versions, exclude, limit)
        : this.statements.claimOne.all(owner, now, leaseUntil, now, filter.only, versions, exclude)
    ) as [seq: number, snapshot: string, signalSeq: number, epoch: number][];
    return rows.map(([seq, snapshot, signalSeq, epoch]) => ({ seq, epoch, snapshot: JSON.parse(snapshot) as Snapshot, signalSeq }));
  }

  /** The heartbeat: every instance `owner` holds stays its own until `leaseUntil`. */
  renewLeases(owner: string, leaseUntil: number): void {
    this.statements.renewLeases.run(leaseUntil, owner);
  }

  /**
   * Lets go of every instance `owner` still holds, due again at `now` for any worker: a worker
   * that stops with steps unfinished hands them on at once instead of after its lease. Their
   * fencing tokens stay as they are, and a commit also needs the owner, so a late result of
   * such a step writes nothing.
   */
  releaseLeases(owner: string, now: number): void {
    this.statements.releaseLeases.run(now, owner);
  }

  /** Records (or refreshes) a live worker and the versions whose code it has. */
  registerWorker(worker: WorkerRow): void {
    this.statements.upsertWorker.run(worker.id, worker.pid, worker.startedAt, worker.seenAt, worker.leaseMs, JSON.stringify(worker.versions));
  }

  removeWorker(id: string): void {
    this.statements.deleteWorker.run(id);
  }

  workers(): WorkerRow[] {
    return (this.db.prepare('SELECT id, pid, started_at, seen_at, lease_ms, versions FROM workers ORDER BY started_at').all() as Row[]).map((row) => ({
      id: row['id'] as string,
      pid: row['pid'] as number,
      startedAt: row['started_at'] as number,
      seenAt: row['seen_at'] as number,
      leaseMs: row['lease_ms'] as number,
      versions: JSON.parse(row['versions'] as string) as string[],
    }));
  }

  /** The machine versions of instances due at `now`, other than `known` ones. */
  dueVersions(now: number, known: readonly string[]): string[] {
    return this.statements.dueVersions.all(now, JSON.stringify(known)) as string[];
  }

  /** How many machines are deployed: it grows when a new version is. */
  machineCount(): number {
    return this.statements.machineCount.get() as number;
  }

  /** The newest version deployed from this flow version, binding module and code, if any. */
  deployedFrom(flowVersion: string, bindings: string, code: string): string | undefined {
    return this.db
      .prepare("SELECT version FROM machines WHERE flow_version = ? AND bindings = ? AND json_extract(body, '$.code') = ? ORDER BY created_at DESC LIMIT 1")
      .pluck()
      .get(flowVersion, bindings, code) as string | undefined;
  }

  /** The versions deployed after the first `count`, in the order they were. */
  machinesAfter(count: number): string[] {
    return this.statements.machinesAfter.all(count) as string[];
  }

  /** Every deployed version with instances, and how many of them run, are due, or failed. */
  versions(now: number): VersionRow[] {
    const rows = this.db
      .prepare(
        `SELECT m.version, m.path, m.bindings, m.created_at,
           SUM(i.status = 'running') AS running, SUM(i.status = 'running' AND i.wake_at <= ? AND i.lease_owner IS NULL) AS due, SUM(i.status = 'failed') AS failed
         FROM machines m JOIN instances i ON i.machine = m.version
         GROUP BY m.version ORDER BY m.created_at`,
      )
      .all(now) as Row[];
    return rows.map((row) => ({
      version: row['version'] as string,
      flowPath: row['path'] as string,
      bindings: row['bindings'] as string | null,
      deployedAt: row['created_at'] as number,
      running: row['running'] as number,
      due: row['due'] as number,
      failed: row['failed'] as number,
    }));
  }

  /** Versions deployed in this database, newest first, whose id starts with `prefix`. */
  machineVersions(prefix: string): string[] {
    const escaped = prefix.replace(/[\\%_]/g, (c) => `\\${c}`);
    return this.db.prepare("SELECT version FROM machines WHERE version LIKE ? ESCAPE '\\' ORDER BY created_at DESC").pluck().all(`${escaped}%`) as string[];
  }

  /** Running or failed instances of a version, by id. */
  instancesOf(version: string): string[] {
    return this.db.prepare("SELECT id FROM instances WHERE machine = ? AND status != 'completed' ORDER BY seq").pluck().all(version) as string[];
  }

  /**
   * Commits many instances' rounds in one transaction. A round whose claim is no longer the
   * instance's current one (its lease ran out and another claim took it, or it was released) is
   * skipped whole: its result is `false` and none of its rows are written.
   */
  commit(owner: string, items: readonly CommitItem[]): boolean[] {
    const { commitHeld, commitReleased, insertOutbox } = this.statements;
    return this.db.transaction(() =>
      items.map((item) => {
        const { snapshot } = item;
        const json = JSON.stringify(snapshot);
        const changes =
          item.release === undefined
            ? commitHeld.run(json, snapshot.updatedAt, item.seq, item.epoch, owner).changes
            : commitReleased.run(json, snapshot.status, snapshot.updatedAt, snapshot.signalSeq, item.release.now, item.release.wakeAt, item.seq, item.epoch, owner).changes;
        if (changes === 0) return false;
        for (const entry of item.journal) this.insertJournal(item.seq, entry);
        for (const effect of item.outbox) insertOutbox.run(effect.key, item.seq, effect.kind, JSON.stringify(effect.payload), snapshot.updatedAt);
        return true;
      }),
    )();
  }

  private insertJournal(instance: number, entry: JournalEntry): void {
    this.statements.insertJournal.run(
      instance,
      entry.at,
      entry.token,
      entry.node,
      entry.visit,
      entry.attempt,
      entry.outcome,
      entry.handler ?? null,
      entry.detail === undefined ? null : JSON.stringify(entry.detail),
    );
  }

  /** The earliest `wake_at` of any instance of `versions` (or of one), or null when none will ever be due. */
  nextWakeAt(versions: readonly string[], only?: string): number | null {
    const json = JSON.stringify(versions);
    const row = (only === undefined ? this.statements.nextWake.get(json) : this.statements.nextWakeOf.get(only, json)) as { at: number | null } | undefined;
    return row?.at ?? null;
  }

  latestSignalSeq(): number {
    return ((this.statements.latestSignal.get() as { seq: number | null }).seq ?? 0);
  }

  signalsAfter(seq: number): StoredSignal[] {
    return (this.statements.signalsAfter.all(seq) as Row[]).map(signalOf);
  }

  signalsOf(instance: number, after: number): StoredSignal[] {
    return (this.statements.signalsOf.all(instance, after) as Row[]).map(signalOf);
  }

  /** Records a signal for an instance and makes it due, unless a worker holds it (that worker reads new signals itself). */
  addSignal(instance: number, name: string, payload: Json, now: number): number {
    return this.db.transaction(() => {
      const seq = Number(this.statements.insertSignal.run(instance, name, JSON.stringify(payload), now).lastInsertRowid);
      this.statements.noteSignal.run(seq, now, now, instance);
      return seq;
    })();
  }

  /** The instance with this id, or with this unique id prefix. */
  instance(idOrPrefix: string): (InstanceRow & { seq: number }) | undefined {
    let row = this.statements.instanceById.get(idOrPrefix) as Row | undefined;
    if (row === undefined) {
      const escaped = idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`);
      const ids = this.statements.idsByPrefix.all(`${escaped}%`) as { id: string }[];
      if (ids.length === 1) row = this.statements.instanceById.get(ids[0]!.id) as Row;
    }
    return row === undefined ? undefined : { seq: row['seq'] as number, ...instanceRowOf(row) };
  }

  instances(filter: { status?: InstanceStatus; limit?: number } = {}): InstanceRow[] {
    const where = filter.status === undefined ? '' : 'WHERE i.status = ?';
    const rows = this.db
      .prepare(
        `SELECT i.id, i.machine, i.status, i.wake_at, i.lease_owner, i.claimed_at, i.created_at, i.updated_at, i.snapshot, m.path, m.flow_version
         FROM instances i JOIN machines m ON m.version = i.machine ${where} ORDER BY i.seq DESC LIMIT ?`,
      )
      .all(...(filter.status === undefined ? [] : [filter.status]), filter.limit ?? 50) as Row[];
    return rows.map(instanceRowOf);
  }

  counts(): Record<InstanceStatus, number> {
    const rows = this.db.prepare('SELECT status, COUNT(*) AS n FROM instances GROUP BY status').all() as { status: InstanceStatus; n: number }[];
    const counts = { running: 0, completed: 0, failed: 0 };
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }

  journal(instance: number): StoredJournalEntry[] {
    return (this.statements.journalOf.all(instance) as Row[]).map((row) => {
      const entry: StoredJournalEntry = {
        seq: row['seq'] as number,
        at: row['at'] as number,
        token: row['token'] as string,
        node: row['node'] as string,
        visit: row['visit'] as number,
        attempt: row['attempt'] as number,
        outcome: row['outcome'] as JournalEntry['outcome'],
      };
      if (row['handler'] !== null) entry.handler = row['handler'] as string;
      if (row['detail'] !== null) entry.detail = JSON.parse(row['detail'] as string) as JsonObject;
      return entry;
    });
  }

  outbox(instance: number): StoredOutboxEffect[] {
    return (this.statements.outboxOf.all(instance) as Row[]).map((row) => ({
      key: row['key'] as string,
      kind: row['kind'] as string,
      payload: JSON.parse(row['payload'] as string) as Json,
      instance: row['instance'] as string,
      at: row['at'] as number,
    }));
  }

  /**
   * Rewrites an instance no worker holds, in one transaction with `update` reading the current
   * snapshot (for operator commands such as retry). An update that hands back the snapshot it
   * was given (a refusal) writes nothing. Returns undefined when a worker holds it.
   */
  updateUnclaimed<T>(seq: number, update: (current: Snapshot) => { snapshot: Snapshot; journal: JournalEntry[]; wakeAt: number | null; result: T }): T | undefined {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT snapshot, lease_owner FROM instances WHERE seq = ?').get(seq) as { snapshot: string; lease_owner: string | null };
      if (row.lease_owner !== null) return undefined;
      const current = JSON.parse(row.snapshot) as Snapshot;
      const next = update(current);
      const { snapshot } = next;
      if (snapshot === current) return next.result;
      this.statements.replaceSnapshot.run(JSON.stringify(snapshot), snapshot.machine, snapshot.status, snapshot.updatedAt, next.wakeAt, seq);
      for (const entry of next.journal) this.insertJournal(seq, entry);
      return next.result;
    }).immediate();
  }

  close(): void {
    this.db.close();
  }
}

function signalOf(row: Row): StoredSignal {
  return {
    seq: row['seq'] as number,
    instance: row['instance'] as number,
    name: row['name'] as string,
    payload: JSON.parse(row['payload'] as string) as Json,
    at: row['at'] as number,
  };
}

function instanceRowOf(row: Row): InstanceRow {
  return {
    id: row['id'] as string,
    machine: row['machine'] as string,
    flowPath: row['path'] as string,
    flowVersion: row['flow_version'] as string,
    status: row['status'] as InstanceStatus,
    wakeAt: row['wake_at'] as number | null,
    leaseOwner: row['lease_owner'] as string | null,
    claimedAt: row['claimed_at'] as number | null,
    createdAt: row['created_at'] as number,
    updatedAt: row['updated_at'] as number,
    snapshot: JSON.parse(row['snapshot'] as string) as Snapshot,
  };
}
