import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupCommit } from '../../../src/runtime/packs/webhook/group-commit';
import { tempDatabase } from './helpers';

let database: ReturnType<typeof tempDatabase>;

beforeEach(() => {
  database = tempDatabase();
  database.db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
});

afterEach(() => database.cleanup());

const rows = () => (database.db.prepare('SELECT k FROM t ORDER BY k').all() as { k: string }[]).map((r) => r.k);

describe('group commit', () => {
  it('commits the work of one tick together and resolves each with its own result', async () => {
    const commits = new GroupCommit(database.db);
    const insert = database.db.prepare('INSERT INTO t (k) VALUES (?)');
    const inTransaction: boolean[] = [];
    const results = await Promise.all(
      ['a', 'b', 'c'].map((k) =>
        commits.run(() => {
          inTransaction.push(database.db.inTransaction);
          return insert.run(k).changes;
        }),
      ),
    );
    expect(results).toEqual([1, 1, 1]);
    expect(inTransaction).toEqual([true, true, true]);
    expect(rows()).toEqual(['a', 'b', 'c']);
  });

  it('rolls back and rejects only the work that threw', async () => {
    const commits = new GroupCommit(database.db);
    const insert = database.db.prepare('INSERT INTO t (k) VALUES (?)');
    const outcomes = await Promise.allSettled([
      commits.run(() => insert.run('x')),
      commits.run(() => {
        insert.run('half-done');
        throw new Error('boom');
      }),
      commits.run(() => insert.run('x')),
      commits.run(() => insert.run('y')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'boom' });
    expect((outcomes[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    expect(rows()).toEqual(['x', 'y']);
  });

  it('resolves only once the work is committed and visible to other connections', async () => {
    const commits = new GroupCommit(database.db);
    const insert = database.db.prepare('INSERT INTO t (k) VALUES (?)');
    const other = new Database(database.path, { readonly: true });
    try {
      const seen = await commits.run(() => insert.run('durable')).then(() => other.prepare('SELECT k FROM t').pluck().all());
      expect(seen).toEqual(['durable']);
    } finally {
      other.close();
    }
  });
});
