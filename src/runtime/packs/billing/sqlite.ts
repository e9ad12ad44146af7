import type { Database } from 'better-sqlite3';

export type { Database };

/**
 * Runs `work` in a `BEGIN IMMEDIATE` transaction: the write lock is taken before the first read,
 * so a read-check-write (compare-and-set) cannot interleave with another connection's. Inside
 * an outer transaction it becomes a savepoint of that one.
 */
export function immediately<T>(db: Database, work: () => T): T {
  return db.transaction(work).immediate();
}
