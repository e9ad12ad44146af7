import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { canTransition, IdempotencyConflictError, InvalidTransitionError, SUBSCRIPTION_TRANSITIONS } from '../../../src/runtime/packs/billing/index';
import { ensureBillingSchema } from '../../../src/runtime/packs/billing/schema';
import { createCustomer, createSubscription, getSubscription, listTransitions, transitionSubscription } from '../../../src/runtime/packs/billing/subscriptions';
import type { SubscriptionState } from '../../../src/runtime/packs/billing/types';
import { START, tempDatabase } from './helpers';

const STATES: SubscriptionState[] = ['draft', 'active', 'past_due', 'unpaid', 'canceled'];
const ALLOWED = new Set([
  'draft>active',
  'active>past_due',
  'past_due>active',
  'past_due>canceled',
  'past_due>unpaid',
  'unpaid>active',
  'unpaid>canceled',
  'active>canceled',
]);

describe('subscription state machine', () => {
  it('has exactly the seed matrix plus the unpaid edges and account closure', () => {
    for (const from of STATES) {
      for (const to of STATES) expect(canTransition(from, to), `${from} -> ${to}`).toBe(ALLOWED.has(`${from}>${to}`));
    }
    expect(SUBSCRIPTION_TRANSITIONS).toHaveLength(ALLOWED.size);
  });
});

describe('stored transitions', () => {
  const opened: Array<{ close(): void }> = [];
  afterEach(() => opened.splice(0).forEach((database) => database.close()));

  function draftSubscription() {
    const database = tempDatabase();
    opened.push(database);
    ensureBillingSchema(database.db);
    const customer = createCustomer(database.db, { email: 'a@example.test', name: 'A' }, 'customer', START);
    const subscription = createSubscription(
      database.db,
      { customerId: customer.id, planId: 'pro', price: 1_000, currency: 'usd', interval: { unit: 'month', count: 1 } },
      'subscription',
      START,
    );
    return { ...database, subscriptionId: subscription.id };
  }

  it('walks draft → active → past_due → unpaid → active → past_due → canceled and records each step', () => {
    const { db, subscriptionId } = draftSubscription();
    const path: SubscriptionState[] = ['active', 'past_due', 'unpaid', 'active', 'past_due', 'canceled'];
    path.forEach((to, index) => transitionSubscription(db, { subscriptionId, to, reason: `step ${index}` }, `t${index}`, START + index));
    expect(getSubscription(db, subscriptionId).state).toBe('canceled');
    expect(listTransitions(db, subscriptionId).map((record) => `${record.from}>${record.to}`)).toEqual([
      'draft>active',
      'active>past_due',
      'past_due>unpaid',
      'unpaid>active',
      'active>past_due',
      'past_due>canceled',
    ]);
  });

  it('throws a typed error naming both states for an edge the machine lacks', () => {
    const { db, subscriptionId } = draftSubscription();
    const attempt = () => transitionSubscription(db, { subscriptionId, to: 'past_due', reason: 'x' }, 'bad', START);
    expect(attempt).toThrow(InvalidTransitionError);
    expect(attempt).toThrow(/from draft to past_due/);
    try {
      attempt();
    } catch (error) {
      expect(error).toMatchObject({ from: 'draft', to: 'past_due', subscriptionId, name: 'InvalidTransitionError' });
    }
    expect(getSubscription(db, subscriptionId).state).toBe('draft');
    expect(listTransitions(db, subscriptionId)).toEqual([]);
  });

  it('is a no-op returning the first result when a key is repeated, whatever the state is now', () => {
    const { db, subscriptionId } = draftSubscription();
    const first = transitionSubscription(db, { subscriptionId, to: 'active', reason: 'paid' }, 'activate', START);
    transitionSubscription(db, { subscriptionId, to: 'past_due', reason: 'declined' }, 'renewal', START + 1);
    const again = transitionSubscription(db, { subscriptionId, to: 'active', reason: 'paid' }, 'activate', START + 2);
    expect(first.replayed).toBe(false);
    expect(again).toEqual({ ...first, replayed: true });
    expect(getSubscription(db, subscriptionId).state).toBe('past_due');
    expect(listTransitions(db, subscriptionId)).toHaveLength(2);
  });

  it('refuses a repeated key that asks for another target', () => {
    const { db, subscriptionId } = draftSubscription();
    transitionSubscription(db, { subscriptionId, to: 'active', reason: 'paid' }, 'k', START);
    expect(() => transitionSubscription(db, { subscriptionId, to: 'past_due', reason: 'x' }, 'k', START)).toThrow(IdempotencyConflictError);
  });

  it('lets exactly one of several processes racing from past_due win', async () => {
    const { db, path, subscriptionId } = draftSubscription();
    transitionSubscription(db, { subscriptionId, to: 'active', reason: 'paid' }, 'a', START);
    transitionSubscription(db, { subscriptionId, to: 'past_due', reason: 'declined' }, 'b', START);
    const script = fileURLToPath(new URL('./fixtures/race-transition.ts', import.meta.url));
    // Nothing leaves canceled, so whichever contender cancels first, the others must fail.
    const targets: SubscriptionState[] = ['canceled', 'canceled', 'canceled', 'canceled'];
    const startAt = String(Date.now() + 2_500);
    const results = await Promise.all(
      targets.map(
        (to, index) =>
          new Promise<string>((resolve, reject) => {
            const child = spawn(process.execPath, ['--import', 'tsx', script, path, subscriptionId, to, `race-${index}`, startAt], { stdio: ['ignore', 'pipe', 'inherit'] });
            let output = '';
            child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
            child.once('error', reject);
            child.once('exit', () => resolve(output.trim()));
          }),
      ),
    );
    const winners = results.filter((line) => line.startsWith('ok'));
    expect(winners).toHaveLength(1);
    expect(results.filter((line) => line.startsWith('InvalidTransitionError'))).toHaveLength(targets.length - 1);
    const history = listTransitions(db, subscriptionId);
    expect(history).toHaveLength(3);
    expect(history[2]!.from).toBe('past_due');
    expect(getSubscription(db, subscriptionId).state).toBe(history[2]!.to);
  });
});
