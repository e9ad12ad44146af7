import type Database from 'better-sqlite3';

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

interface Pending {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Runs the writes asked for during one turn of the event loop in a single SQLite transaction.
 * A commit costs a WAL write whatever it holds, so with dozens of deliveries in flight this is
 * what lets signing + journaling keep up with the network. Each piece of work is a nested
 * `db.transaction` (a savepoint), so one that throws rolls back alone and rejects alone.
 * Callers learn the outcome only after the commit: nothing is acted on (a request sent, a 200
 * answered) before it is durable.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  /** Built once: a better-sqlite3 transaction function is costly to create per call. */
  private readonly commitAll: (batch: Pending[]) => Outcome[];

  constructor(db: Database.Database) {
    const savepoint = db.transaction((work: () => unknown) => work());
    this.commitAll = db.transaction((batch: Pending[]) =>
      batch.map((pending): Outcome => {
        try {
          return { ok: true, value: savepoint(pending.work) };
        } catch (error) {
          return { ok: false, error };
        }
      }),
    );
  }

  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    let outcomes: Outcome[];
    try {
      outcomes = this.commitAll(batch);
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, index) => {
      const outcome = outcomes[index]!;
      if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
  }
}
