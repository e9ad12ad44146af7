import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { checkSource } from '../../../src/index';
import { VirtualClock } from '../../../src/runtime/clock';
import { defineBindings } from '../../../src/runtime/define';
import { Engine } from '../../../src/runtime/engine';
import { createWebhookBridge, createWebhookSender, generateSecret, type BridgeRoute, type WebhookReceiver } from '../../../src/runtime/packs/webhook';
import type { Json } from '../../../src/runtime/types';
import { tempDatabase } from './helpers';

const PAYMENTS = `
Payments { # Payments
  n1: circle label:"Event received"
  n2: rectangle label:"Record payment"
  n3: circle label:"Recorded"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
}
`;

const DUNNING = `
Dunning { # Dunning
  n1: circle label:"Charge failed"
  n2: rectangle label:"Await card update"
  n3: rectangle label:"Retry charge"
  n4: circle label:"Recovered"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
  n3.handle(right) -> n4.handle(left)
}
`;

function flowOf(path: string, text: string) {
  const { flow, diagnostics } = checkSource(path, text);
  if (flow === undefined) throw new Error(diagnostics.map((d) => d.message).join('; '));
  return flow;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * The receiving system: an engine on a real SQLite file with a payments flow and a dunning flow,
 * and a bridge on 127.0.0.1 (its inbox in the same file) routing `invoice.paid` to a new payments
 * instance and `payment_method.updated` to the dunning instance the event names.
 */
async function receivingSystem(clock: VirtualClock) {
  const files = tempDatabase();
  cleanups.push(() => files.cleanup());
  const engine = new Engine({ db: `${files.path}.engine`, clock, random: () => 0.5 });
  cleanups.push(() => engine.close());
  const inbox = new Database(`${files.path}.engine`);
  cleanups.push(() => inbox.close());
  const payments = engine.deploy(flowOf('payments.flow', PAYMENTS), defineBindings({ nodes: { 'Record payment': (ctx) => ({ paid: (ctx.data['event'] as { payload: { data: Json } }).payload.data }) } }));
  const dunning = engine.deploy(
    flowOf('dunning.flow', DUNNING),
    defineBindings({
      nodes: {
        'Await card update': async (ctx) => {
          const update = await ctx.waitFor('card.updated');
          return { card: update.received ? update.payload : null };
        },
        'Retry charge': () => ({ charged: true }),
      },
    }),
  );
  const secret = generateSecret();
  const routed: string[] = [];
  const route = (event: { id: string; type?: string; payload: unknown }): BridgeRoute | undefined => {
    routed.push(event.id);
    const data = (event.payload as { data: { instance?: string; last4?: string } }).data;
    if (event.type === 'invoice.paid') return { start: { machine: payments.machine!.version } };
    if (event.type === 'payment_method.updated' && data.instance !== undefined) return { signal: { instance: data.instance, name: 'card.updated', payload: { last4: data.last4 ?? null } } };
    return undefined;
  };
  const receiver: WebhookReceiver = createWebhookBridge({ db: inbox, engine, clock, secretsFor: () => [secret], route });
  const base = await receiver.listen();
  cleanups.push(() => receiver.close());
  return { engine, inbox, receiver, routed, secret, url: `${base}/hooks`, payments: payments.machine!.version, dunning: dunning.machine!.version };
}

/** A sending system with its own database, posting to `url` with `secret`. */
function sendingSystem(clock: VirtualClock, url: string, secret: string) {
  const files = tempDatabase();
  cleanups.push(() => files.cleanup());
  const sender = createWebhookSender({ db: files.db, clock });
  cleanups.push(() => sender.close());
  sender.registerEndpoint({ id: 'receiver', url, secret });
  return sender;
}

describe('the webhook receiver bridge', () => {
  it('starts one instance per event, named after it, however often the event arrives or is handed over', async () => {
    const clock = new VirtualClock(Date.UTC(2025, 0, 1));
    const system = await receivingSystem(clock);
    const first = sendingSystem(clock, system.url, system.secret);
    const delivery = await first.send({ key: 'evt_100', endpoint: 'receiver', type: 'invoice.paid', payload: { invoice: 'in_1', amountCents: 4200 } });
    expect(delivery.status).toBe('delivered');
    await system.receiver.idle();
    await system.engine.runUntilIdle();
    const instance = system.engine.instance('webhook:evt_100')!;
    expect(instance.status).toBe('completed');
    expect(instance.snapshot.data['paid']).toEqual({ invoice: 'in_1', amountCents: 4200 });
    expect(instance.snapshot.data['event']).toMatchObject({ id: 'evt_100', type: 'invoice.paid', path: '/hooks' });

    // Another sender (a retry after a lost answer looks the same) posts the same webhook-id.
    const again = sendingSystem(clock, system.url, system.secret);
    expect((await again.send({ key: 'evt_100', endpoint: 'receiver', type: 'invoice.paid', payload: { invoice: 'in_1', amountCents: 4200 } })).status).toBe('delivered');
    await system.receiver.idle();
    expect(system.receiver.metrics()).toMatchObject({ accepted: 1, duplicate: 1, processed: 1 });
    expect(system.routed).toEqual(['evt_100']);

    // The process stopped after starting the instance but before marking the event processed:
    // handed over again, the event finds its instance and starts no second one.
    system.inbox.prepare(`UPDATE webhook_received SET status = 'received' WHERE event_id = 'evt_100'`).run();
    expect(await system.receiver.processPending()).toBe(1);
    expect(system.routed).toEqual(['evt_100', 'evt_100']);
    expect(system.engine.instances().map((i) => i.id)).toEqual(['webhook:evt_100']);
    expect(system.inbox.prepare(`SELECT status FROM webhook_received WHERE event_id = 'evt_100'`).get()).toEqual({ status: 'processed' });

    // An id that is a prefix of the first event's instance id still gets its own instance.
    await first.send({ key: 'evt_10', endpoint: 'receiver', type: 'invoice.paid', payload: { invoice: 'in_2', amountCents: 100 } });
    await system.receiver.idle();
    expect(system.engine.instances().map((i) => i.id).sort()).toEqual(['webhook:evt_10', 'webhook:evt_100']);
  });

  it('signals the waiting instance an event names, which resumes with the payload the route gives', async () => {
    const clock = new VirtualClock(Date.UTC(2025, 0, 1));
    const system = await receivingSystem(clock);
    const waiting = system.engine.start(system.dunning, { id: 'dun_1' });
    await system.engine.runUntilIdle();
    expect(system.engine.instance(waiting)!.snapshot.tokens.map((t) => [t.node, t.state, t.signal])).toEqual([['n2', 'waiting', 'card.updated']]);

    const sender = sendingSystem(clock, system.url, system.secret);
    await sender.send({ key: 'evt_card_1', endpoint: 'receiver', type: 'payment_method.updated', payload: { instance: 'dun_1', last4: '4242' } });
    await system.receiver.idle();
    await system.engine.runUntilIdle();
    const instance = system.engine.instance(waiting)!;
    expect(instance.status).toBe('completed');
    expect(instance.snapshot.data).toEqual({ card: { last4: '4242' }, charged: true });
    expect(system.engine.instances()).toHaveLength(1);
  });

  it('leaves an event its route declines acknowledged and processed, and records a failed hand-off for processPending', async () => {
    const clock = new VirtualClock(Date.UTC(2025, 0, 1));
    const system = await receivingSystem(clock);
    const sender = sendingSystem(clock, system.url, system.secret);
    await sender.send({ key: 'evt_other', endpoint: 'receiver', type: 'customer.created', payload: {} });
    await sender.send({ key: 'evt_card_2', endpoint: 'receiver', type: 'payment_method.updated', payload: { instance: 'no_such_instance' } });
    await system.receiver.idle();
    expect(system.engine.instances()).toEqual([]);
    const rows = system.inbox.prepare('SELECT event_id, status, error FROM webhook_received ORDER BY event_id').all();
    expect(rows).toEqual([
      { event_id: 'evt_card_2', status: 'failed', error: 'no instance no_such_instance in this database' },
      { event_id: 'evt_other', status: 'processed', error: null },
    ]);
  });
});
