// The billing handlers and the executor share one SQLite connection: the services commit their
// writes in their own transactions while the handler runs, the executor commits the step in a
// group commit afterwards. These tests show that neither takes the other's writes with it, and
// that handlers and commits on several connections to one file do not block each other.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { VirtualClock } from '../../src/runtime/clock';
import type { HandlerContext, StepDefinition } from '../../src/runtime/define';
import { Engine } from '../../src/runtime/engine';
import { billingPack } from '../../src/runtime/packs/billing/handlers';
import { SqliteStore, type CommitItem } from '../../src/runtime/sqlite-store';
import type { JsonObject } from '../../src/runtime/types';
import bindings from '../../flows/payment-failure-recovery.bindings';
import { type SmtpSink, START, startSmtpSink } from '../packs/billing/helpers';
import { billingEnv, Database, dueSubscriptions, freshDb, gatewayCharges, recoveryFlow, SECONDS_SCHEDULE, setEnv } from './payment-failure-recovery.helpers';

let sink: SmtpSink;
let restoreEnv: () => void;
beforeAll(async () => {
  sink = await startSmtpSink();
  restoreEnv = setEnv(billingEnv(sink.port));
});
afterAll(async () => {
  restoreEnv();
  await sink.stop();
});
const opened: { close(): void }[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  opened.splice(0).forEach((resource) => resource.close());
});

function engineOn(path: string, clock = new VirtualClock(START)): { engine: Engine; version: string } {
  const engine = new Engine({ db: path, clock });
  opened.push(engine);
  const { machine } = engine.deploy(recoveryFlow(), bindings);
  return { engine, version: machine!.version };
}

/** The context a handler gets from the executor, for calling a pack's handler by hand. */
function handlerContext(data: JsonObject, idempotencyKey: string): HandlerContext {
  return {
    instanceId: 'by-hand',
    data,
    node: { id: 'n2', label: 'Load subscription', kind: 'step' },
    lane: { id: 'Billing', label: 'Billing System' },
    attempt: 1,
    visit: 1,
    idempotencyKey,
    signal: new AbortController().signal,
    now: () => new Date(START),
    sleep: () => new Promise(() => {}),
    waitFor: () => new Promise(() => {}),
    emit: () => {},
  };
}

describe('billing handlers and the executor on one connection', () => {
  it('refuse to run inside an open transaction, writing nothing, and run outside one', async () => {
    const path = freshDb('tx-refuse');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    opened.push(db);
    const pack = billingPack({ database: () => db, clock: { virtual: true, now: () => START, sleepUntil: async () => {} } });
    const load = pack.handlers['billing.loadSubscription'] as StepDefinition;
    const customers = () => db.prepare("SELECT COUNT(*) AS n FROM billing_customers WHERE email = 'tx@example.test'").get() as { n: number };

    // Opens the billing tables.
    await load.run(handlerContext({ email: 'first@example.test', card: 'pm_card_visa' }, 'tx:first'));
    let inside: Promise<unknown> | undefined;
    db.transaction(() => {
      inside = Promise.resolve(load.run(handlerContext({ email: 'tx@example.test', card: 'pm_card_visa' }, 'tx:inside')));
    })();
    await expect(inside).rejects.toThrow(/ran inside an open SQLite transaction/);
    expect(customers().n).toBe(0);

    await expect(load.run(handlerContext({ email: 'tx@example.test', card: 'pm_card_visa' }, 'tx:outside'))).resolves.toMatchObject({ state: 'active' });
    expect(customers().n).toBe(1);
  });

  it('keep a charge when the group commit of its step rolls back: the step runs again and replays it, charging once', async () => {
    const path = freshDb('tx-rollback');
    const clock = new VirtualClock(START);
    const first = engineOn(path, clock);
    const id = first.engine.start(first.version, { input: { card: 'pm_card_chargeDeclinedStolenCard', email: 'rita@example.test', name: 'Rita' } });

    // The commit that would record the renewal step fails inside its transaction, after writing its rows.
    const commit = SqliteStore.prototype.commit;
    let injected = 0;
    vi.spyOn(SqliteStore.prototype, 'commit').mockImplementation(function (this: SqliteStore, owner: string, items: readonly CommitItem[]) {
      const renewal = items.some((item) => item.journal.some((entry) => entry.node === 'n4' && entry.outcome === 'completed'));
      if (!renewal || injected > 0) return commit.call(this, owner, items);
      injected++;
      return this.database.transaction(() => {
        commit.call(this, owner, items);
        throw new Error('injected: the disk is full');
      })();
    });
    await expect(first.engine.runUntilIdle()).rejects.toThrow('injected: the disk is full');
    first.engine.close();
    vi.restoreAllMocks();

    const customerId = (new Database(path, { readonly: true }).prepare("SELECT id FROM billing_customers WHERE email = 'rita@example.test'").get() as { id: string }).id;
    // The step's journal row went with the rolled-back batch; the charge the handler made did not.
    const journalRows = (node: string) => {
      const db = new Database(path, { readonly: true });
      try {
        return (db.prepare("SELECT COUNT(*) AS n FROM journal WHERE node = ? AND outcome = 'completed'").get(node) as { n: number }).n;
      } finally {
        db.close();
      }
    };
    expect(journalRows('n4')).toBe(0);
    expect(gatewayCharges(path, customerId).map((charge) => charge.key)).toEqual([`${id}:n2:1:activate:charge`, `${id}:n4:1:charge`]);

    // Another engine takes the instance over when the dead one's lease runs out.
    clock.advance(31_000);
    const second = engineOn(path, clock);
    await second.engine.runUntilIdle();
    const instance = second.engine.instance(id)!;
    expect(instance.status).toBe('completed');
    expect(journalRows('n4')).toBe(1);
    expect(gatewayCharges(path, customerId).map((charge) => `${charge.key} ${charge.declineCode ?? charge.status}`)).toEqual([
      `${id}:n2:1:activate:charge succeeded`,
      `${id}:n4:1:charge stolen_card`,
    ]);
    expect(instance.outbox.filter((effect) => effect.kind === 'billing.charge')).toHaveLength(2);
    expect(sink.received.filter((message) => message.to.includes('rita@example.test'))).toHaveLength(1);
  });

  it('run 24 recoveries at once: handlers await the gateway and SMTP while other instances commit, and every story ends as alone', async () => {
    const path = freshDb('tx-batch');
    const { engine, version } = engineOn(path);
    const cards = ['pm_sandbox_declineFirst2_insufficient_funds', 'pm_card_chargeDeclinedStolenCard', 'pm_card_chargeDeclinedExpiredCard'];
    const ids = engine.startMany(
      version,
      Array.from({ length: 24 }, (_, i) => ({ input: { card: cards[i % 3]!, email: `batch${i}@example.test`, name: `Batch ${i}` } })),
    );
    const commit = SqliteStore.prototype.commit;
    const batchSizes: number[] = [];
    vi.spyOn(SqliteStore.prototype, 'commit').mockImplementation(function (this: SqliteStore, owner: string, items: readonly CommitItem[]) {
      batchSizes.push(items.length);
      return commit.call(this, owner, items);
    });
    await engine.runUntilIdle();
    expect(Math.max(...batchSizes)).toBeGreaterThan(1);

    const expected = [
      { state: 'active', charges: ['succeeded', 'insufficient_funds', 'insufficient_funds', 'succeeded'], emails: 3 },
      { state: 'unpaid', charges: ['succeeded', 'stolen_card'], emails: 1 },
      { state: 'unpaid', charges: ['succeeded', 'expired_card', 'expired_card', 'expired_card', 'expired_card'], emails: 4 },
    ];
    for (const [i, id] of ids.entries()) {
      const instance = engine.instance(id)!;
      expect(instance.status, `${id}: ${JSON.stringify(instance.snapshot.error)}`).toBe('completed');
      const story = expected[i % 3]!;
      expect(instance.snapshot.data['state']).toBe(story.state);
      expect(gatewayCharges(path, instance.snapshot.data['customerId'] as string).map((charge) => charge.declineCode ?? charge.status)).toEqual(story.charges);
      expect(instance.outbox.filter((effect) => effect.kind === 'billing.email').map((effect) => (effect.payload as { status: string }).status)).toEqual(
        Array.from({ length: story.emails }, () => 'sent'),
      );
    }
    const deadline = Date.now() + 5_000;
    while (sink.received.filter((message) => message.to[0]!.startsWith('batch')).length < 64 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 10));
    expect(sink.received.filter((message) => message.to[0]!.startsWith('batch'))).toHaveLength(8 * (3 + 1 + 4));
  });

  it('run on two engines with their own connections to one file, on the wall clock, without blocking each other or doing anything twice', async () => {
    const restoreSchedule = setEnv({ LANEFLOW_BILLING_DUNNING_SCHEDULE: SECONDS_SCHEDULE });
    try {
      const path = freshDb('tx-two-engines');
      const cards = ['pm_sandbox_declineFirst2_insufficient_funds', 'pm_card_chargeDeclinedStolenCard', 'pm_card_chargeDeclinedInsufficientFunds'];
      const due = await dueSubscriptions(path, Array.from({ length: 12 }, (_, i) => ({ name: `two${i}`, card: cards[i % 3]! })));
      const engines = [new Engine({ db: path, batchSize: 4, pollMs: 20 }), new Engine({ db: path, batchSize: 4, pollMs: 20 })];
      opened.push(...engines);
      const { machine } = engines[0]!.deploy(recoveryFlow(), bindings);
      engines[1]!.deploy(recoveryFlow(), bindings);
      const ids = engines[0]!.startMany(machine!.version, due.map((subscription) => ({ input: { subscriptionId: subscription.subscriptionId } })));
      const stop = new AbortController();
      const working = engines.map((engine) => engine.work(stop.signal));
      const deadline = Date.now() + 20_000;
      while (engines[0]!.counts().completed < ids.length && Date.now() < deadline) await new Promise((done) => setTimeout(done, 50));
      stop.abort();
      const summaries = await Promise.all(working);
      expect(engines[0]!.counts()).toEqual({ running: 0, completed: 12, failed: 0 });
      expect(summaries.every((summary) => summary.steps > 0)).toBe(true);

      const stories: Record<string, string[]> = {
        pm_sandbox_declineFirst2_insufficient_funds: ['n4:1', 'n9:1', 'n9:2'],
        pm_card_chargeDeclinedStolenCard: ['n4:1'],
        pm_card_chargeDeclinedInsufficientFunds: ['n4:1', 'n9:1', 'n9:2', 'n9:3', 'n9:4'],
      };
      for (const [i, subscription] of due.entries()) {
        const charges = gatewayCharges(path, subscription.customerId).filter((charge) => !charge.key.startsWith('setup:'));
        expect(charges.map((charge) => charge.key)).toEqual(stories[subscription.card]!.map((visit) => `${ids[i]}:${visit}:charge`));
        // One email per charge of the story (the last one is the receipt or the final notice), each sent once.
        const emails = engines[0]!.instance(ids[i]!)!.outbox.filter((effect) => effect.kind === 'billing.email');
        expect(emails.map((effect) => (effect.payload as { status: string }).status)).toEqual(charges.map(() => 'sent'));
        expect(sink.received.filter((message) => message.to.includes(`${subscription.name}@example.test`))).toHaveLength(charges.length);
      }
    } finally {
      restoreSchedule();
    }
  });
});
