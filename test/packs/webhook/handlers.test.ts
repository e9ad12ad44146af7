import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { checkSource } from '../../../src/index';
import { VirtualClock } from '../../../src/runtime/clock';
import { defineBindings } from '../../../src/runtime/define';
import { Engine } from '../../../src/runtime/engine';
import { createWebhookSender, deliveryKeyFor, instanceOfDelivery } from '../../../src/runtime/packs/webhook';
import { startEndpoint, tempDatabase } from './helpers';

const T0 = Date.UTC(2025, 0, 1);

const OUTGOING = `
Out { # Outgoing
  n1: circle label:"Start"
  n2: rectangle label:"Prepare"
  n3: rectangle label:"Send"
  n4: rectangle label:"Await hand-off"
  n5: circle label:"End"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
  n3.handle(right) -> n4.handle(left)
  n4.handle(right) -> n5.handle(left)
}
`;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function openEngine() {
  const files = tempDatabase();
  cleanups.push(() => files.cleanup());
  const clock = new VirtualClock(T0);
  let ids = 0;
  const engine = new Engine({ db: `${files.path}.engine`, clock, newId: () => `out${++ids}` });
  cleanups.push(() => engine.close());
  const { flow } = checkSource('outgoing.flow', OUTGOING);
  const bindings = defineBindings({
    nodes: {
      Prepare: { handler: 'webhook.prepare', retry: false },
      Send: { handler: 'webhook.send', retry: false },
      'Await hand-off': { handler: 'webhook.awaitHandoff', retry: false },
    },
  });
  const { machine, diagnostics } = engine.deploy(flow!, bindings);
  expect(diagnostics).toEqual([]);
  const endpoint = await startEndpoint((_, response) => response.end('ok'));
  cleanups.push(() => endpoint.close());
  const side = new Database(`${files.path}.engine`);
  cleanups.push(() => side.close());
  const sender = createWebhookSender({ db: side, clock });
  cleanups.push(() => sender.close());
  sender.registerEndpoint({ id: 'acme', url: endpoint.url });
  return { engine, clock, machine: machine!.version, endpoint, sender };
}

describe('webhook.* steps', () => {
  it('waits durably until the delivery is due, then posts once, under one delivery id per instance', async () => {
    const { engine, machine, endpoint, sender } = await openEngine();
    const webhook = { endpoint: 'acme', type: 'invoice.paid', payload: { invoice: 'in_1' }, schedule: ['10s', '1m'], handoffTimeout: '1m' };
    const first = engine.start(machine, { input: { webhook } });
    const second = engine.start(machine, { input: { webhook: { ...webhook, key: 'evt_77' } } });
    await engine.runUntilIdle();

    expect(deliveryKeyFor(first)).toBe('out1:webhook');
    expect(instanceOfDelivery('out1:webhook')).toBe('out1');
    expect(instanceOfDelivery('evt_77')).toBeUndefined();
    expect(endpoint.requests.map((r) => r.headers['webhook-id']).sort()).toEqual(['evt_77', 'out1:webhook']);
    for (const id of ['out1:webhook', 'evt_77']) {
      expect(sender.attempts(id).map((a) => [a.statusCode, a.startedAt - T0])).toEqual([[200, 10_000]]);
    }
    const instance = engine.instance(first)!;
    expect(instance.journal.filter((e) => e.node === 'n3' && e.outcome === 'sleeping').map((e) => e.detail!['until'])).toEqual([new Date(T0 + 10_000).toISOString()]);
    expect(instance.snapshot.data['delivery']).toMatchObject({ id: 'out1:webhook', status: 'delivered', attempts: 1, statusCode: 200 });
    // Nobody hands the event back within the minute allowed.
    expect(instance.status).toBe('failed');
    expect(instance.snapshot.error).toEqual({ name: 'WebhookNotHandedOver', message: 'n4: the receiver did not hand the event over within 1m' });
    expect(engine.instance(second)!.snapshot.data['webhook']).toMatchObject({ delivery: 'evt_77' });
  });

  it('names what a prepare step is missing, and refuses a schedule that is no list of durations', async () => {
    const { engine, machine } = await openEngine();
    const missing = engine.start(machine, { input: { webhook: { endpoint: 'acme' } } });
    const badSchedule = engine.start(machine, { input: { webhook: { endpoint: 'acme', type: 't', payload: null, schedule: ['soon'] } } });
    const unknown = engine.start(machine, { input: { webhook: { endpoint: 'nowhere', type: 't', payload: 1 } } });
    await engine.runUntilIdle();
    expect(engine.instance(missing)!.snapshot.error).toEqual({
      name: 'WebhookInvalidData',
      message: "n2: the instance's data lacks webhook.type (the event type), webhook.payload (the event data)",
    });
    expect(engine.instance(badSchedule)!.snapshot.error).toEqual({
      name: 'WebhookInvalidData',
      message: 'n2: webhook.schedule ["soon"] is not a list of durations such as ["0s", "5s", "5m"]',
    });
    expect(engine.instance(unknown)!.snapshot.error).toEqual({ name: 'WebhookUnknownEndpoint', message: 'No webhook endpoint "nowhere" is registered.' });
  });
});
