// A database written before fencing tokens (schema 1) opens with its instances intact and the
// new columns in place.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { begin, nextWake } from '../../src/runtime/core';
import { SqliteStore } from '../../src/runtime/sqlite-store';
import { machineOf, T0 } from './helpers';

const folder = mkdtempSync(join(tmpdir(), 'laneflow-migration-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const FLOW = `Ops { # Ops
  n1: circle label:"Start"
  n2: rectangle label:"Work"
  n3: circle label:"Done"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
}
`;

/** A schema-1 file: today's made by the store, with what version 2 added taken out again. */
function schemaOne(path: string): string {
  const store = new SqliteStore(path);
  const machine = machineOf(FLOW);
  store.saveMachine(machine, null, T0);
  const { snapshot } = begin(machine, { id: 'old-1', at: T0, input: { kept: true }, start: 'n1' });
  store.insertInstances([{ snapshot, journal: [], wakeAt: nextWake(snapshot, T0) }]);
  store.close();
  const db = new Database(path);
  db.exec('DROP INDEX IF EXISTS instances_owner; ALTER TABLE instances DROP COLUMN lease_epoch; ALTER TABLE instances DROP COLUMN claimed_at; DROP TABLE workers');
  db.pragma('user_version = 1');
  db.close();
  return machine.version;
}

function columns(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT name FROM pragma_table_info(?)').all('instances') as { name: string }[]).map((c) => c.name);
  } finally {
    db.close();
  }
}

describe('the store schema', () => {
  it('migrates a schema-1 database: instances kept, fencing token and claim time added, claims work', () => {
    const path = join(folder, 'old.db');
    const version = schemaOne(path);
    expect(columns(path)).not.toContain('lease_epoch');
    const store = new SqliteStore(path);
    try {
      expect(store.database.pragma('user_version', { simple: true })).toBe(2);
      expect(columns(path)).toEqual(expect.arrayContaining(['lease_epoch', 'claimed_at']));
      const [claimed] = store.claim('w', T0, T0 + 1000, 10, { versions: [version], exclude: [] });
      expect(claimed).toMatchObject({ epoch: 1, snapshot: { id: 'old-1', data: { kept: true } } });
      expect(store.workers()).toEqual([]);
    } finally {
      store.close();
    }
  });
});
