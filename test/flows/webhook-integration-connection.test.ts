import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSystem, type Gate } from './webhook-integration.harness';

/** Every transaction function call on any connection, told where it came from. */
interface TransactionCall {
  /** The connection already had a transaction open: this call runs as a savepoint inside it. */
  nested: boolean;
  /** Called by the engine's store (the executor's commits, starts, signals). */
  engineStore: boolean;
  /** Called while the webhook pack's group commit flushes. */
  packGroupCommit: boolean;
  connection: Database.Database;
}

const originalTransaction = Database.prototype.transaction;
const originalStackLimit = Error.stackTraceLimit;

afterEach(() => {
  Database.prototype.transaction = originalTransaction;
  Error.stackTraceLimit = originalStackLimit;
});

/** Wraps every transaction function better-sqlite3 makes from now on, recording each call. */
function recordTransactions(): { calls: TransactionCall[]; connections: Set<Database.Database> } {
  const calls: TransactionCall[] = [];
  const connections = new Set<Database.Database>();
  Error.stackTraceLimit = 100;
  const instrumented = function (this: Database.Database, work: (...args: unknown[]) => unknown) {
    const connection = this;
    connections.add(connection);
    const transaction = originalTransaction.call(connection, work);
    const record = () => {
      const stack = new Error().stack ?? '';
      calls.push({ nested: connection.inTransaction, engineStore: /\bSqliteStore\./.test(stack), packGroupCommit: /\bGroupCommit\.flush\b/.test(stack), connection });
    };
    const wrapped = function (this: unknown, ...args: unknown[]) {
      record();
      return transaction.apply(this, args);
    };
    // Its BEGIN DEFERRED / IMMEDIATE / EXCLUSIVE forms are recorded alike.
    for (const mode of ['deferred', 'immediate', 'exclusive'] as const) {
      const variant = transaction[mode];
      Object.defineProperty(wrapped, mode, {
        value(this: unknown, ...args: unknown[]) {
          record();
          return variant.apply(this, args);
        },
      });
    }
    return wrapped;
  };
  Database.prototype.transaction = instrumented as unknown as typeof originalTransaction;
  return { calls, connections };
}

describe('the webhook pack on the engine\'s connection', () => {
  it('never holds a transaction across an event-loop turn, and never nests an executor commit and a pack commit in each other', async () => {
    const { calls, connections } = recordTransactions();
    // Twelve deliveries at once: the first eight requests get a 503, so group commits of the
    // sender (claims, attempt records) interleave with the executor's commits and timers.
    const system = await openSystem({ gates: Array<Gate>(8).fill(503) });
    const openBetweenTurns: string[] = [];
    let probing = true;
    const probe = () => {
      for (const connection of connections) {
        if (connection.open && connection.inTransaction) openBetweenTurns.push(connection === system.side ? 'side' : 'engine');
      }
      if (probing) setImmediate(probe);
    };
    setImmediate(probe);

    const ids = Array.from({ length: 12 }, (_, i) =>
      system.engine.start(system.machine, { input: { endpoint: 'acme', event: { id: `evt_${i}`, type: 'invoice.paid', amountCents: 100 * (i + 1) } } }),
    );
    for (const id of ids) await system.settle(id);
    probing = false;

    expect(openBetweenTurns).toEqual([]);
    const engineCalls = calls.filter((call) => call.connection !== system.side);
    expect(engineCalls.filter((call) => call.engineStore && !call.nested).length).toBeGreaterThan(0);
    expect(engineCalls.filter((call) => call.packGroupCommit && !call.nested).length).toBeGreaterThan(0);
    // A savepoint happens only inside the pack's own group commit, never inside or around an executor commit.
    const nested = calls.filter((call) => call.nested);
    expect(nested.length).toBeGreaterThan(0);
    expect(nested.filter((call) => call.engineStore || !call.packGroupCommit)).toEqual([]);

    // Everything is committed: another connection sees every instance finished and every attempt.
    expect(system.side.prepare('SELECT status, count(*) AS n FROM instances GROUP BY status').all()).toEqual([{ status: 'completed', n: 12 }]);
    expect(system.side.prepare('SELECT count(*) AS n FROM webhook_attempts').get()).toEqual({ n: 20 });
    expect(system.side.prepare(`SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'delivered'`).get()).toEqual({ n: 12 });
    expect(system.receiver.metrics()).toMatchObject({ accepted: 12, duplicate: 0, processed: 12 });
    for (const id of ids) expect(system.engine.instance(id)!.snapshot.visits['n18']).toBe(1);
  });
});
