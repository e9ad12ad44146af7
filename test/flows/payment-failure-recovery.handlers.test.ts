// A billing handler called on its own, the way the executor calls it: for what no path of the
// flow reaches on one clock, but workers whose clocks differ can (a retry asked for early).
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/runtime/clock';
import type { HandlerContext, StepDefinition } from '../../src/runtime/define';
import { billingPack } from '../../src/runtime/packs/billing/handlers';
import type { JsonObject } from '../../src/runtime/types';
import { HOUR, START } from '../packs/billing/helpers';
import { Database, freshDb, gatewayCharges } from './payment-failure-recovery.helpers';

const opened: { close(): void }[] = [];
afterEach(() => opened.splice(0).forEach((resource) => resource.close()));

class HandClock implements Clock {
  readonly virtual = true;
  constructor(public at: number) {}
  now(): number {
    return this.at;
  }
  async sleepUntil(): Promise<void> {}
}

/**
 * A context for one run of a handler. `slept` replays that many earlier sleeps, as the executor
 * does when the handler runs again after its timer; a new sleep is recorded in `sleeps` and
 * never returns, as a suspended handler's does not.
 */
function context(clock: HandClock, data: JsonObject, idempotencyKey: string, slept = 0) {
  const sleeps: Date[] = [];
  let replays = slept;
  let suspended: () => void = () => {};
  const suspension = new Promise<void>((resolve) => (suspended = resolve));
  const ctx: HandlerContext = {
    instanceId: 'by-hand',
    data,
    node: { id: 'n9', label: 'Retry charge', kind: 'step' },
    lane: { id: 'Recovery', label: 'Recovery Engine' },
    attempt: 1,
    visit: 1,
    idempotencyKey,
    signal: new AbortController().signal,
    now: () => new Date(clock.now()),
    sleep: (until) => {
      if (replays > 0) {
        replays--;
        return Promise.resolve();
      }
      sleeps.push(until as Date);
      suspended();
      return new Promise(() => {});
    },
    waitFor: () => new Promise(() => {}),
    emit: () => {},
  };
  return { ctx, sleeps, suspension };
}

describe('billing.retryPayment on its own', () => {
  it('asked before the retry is due, charges nothing and sleeps until it is; run again then, it charges once', async () => {
    const path = freshDb('handler-not-due');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    opened.push(db);
    const clock = new HandClock(START);
    const { handlers } = billingPack({ database: () => db, clock });
    const run = (name: string, ctx: HandlerContext) => (handlers[name] as StepDefinition).run(ctx);

    const loaded = (await run('billing.loadSubscription', context(clock, { card: 'pm_sandbox_declineFirst2_insufficient_funds' }, 'hand:n2:1').ctx)) as JsonObject;
    const data = { subscriptionId: loaded['subscriptionId']! };
    clock.at = Date.UTC(2025, 1, 15, 9);
    await run('billing.renewSubscription', context(clock, data, 'hand:n4:1').ctx);
    const firstRetry = (await run('billing.retryPayment', context(clock, data, 'hand:n9:1').ctx)) as { lastPayment: JsonObject };
    expect(firstRetry.lastPayment).toMatchObject({ outcome: 'declined', nextRetryAt: new Date(clock.at + 24 * HOUR).toISOString() });
    const charges = () => gatewayCharges(path, loaded['customerId'] as string).map((charge) => `${charge.key} ${charge.declineCode ?? charge.status}`);
    expect(charges()).toHaveLength(3);

    // A worker whose clock is an hour behind asks for the second retry.
    const due = clock.at + 24 * HOUR;
    clock.at += HOUR;
    const early = context(clock, data, 'hand:n9:2');
    void run('billing.retryPayment', early.ctx);
    await early.suspension;
    expect(early.sleeps).toEqual([new Date(due)]);
    expect(charges()).toHaveLength(3);

    clock.at = due;
    const again = (await run('billing.retryPayment', context(clock, data, 'hand:n9:2', 1).ctx)) as { lastPayment: JsonObject };
    expect(again.lastPayment).toMatchObject({ outcome: 'paid', key: 'hand:n9:2:when-due' });
    expect(charges().slice(3)).toEqual(['hand:n9:2:when-due:charge succeeded']);
  });
});
