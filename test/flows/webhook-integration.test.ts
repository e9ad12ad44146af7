import { describe, expect, it } from 'vitest';
import type { InstanceDetails } from '../../src/runtime/engine';
import { generateSecret } from '../../src/runtime/packs/webhook';
import { openSystem, T0, type Gate } from './webhook-integration.harness';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** The nodes the instance's token visited, in order, with each decision's label. */
function path(instance: InstanceDetails): string[] {
  return instance.journal
    .filter((e) => e.outcome === 'completed' || e.outcome === 'decided' || e.outcome === 'caught' || e.outcome === 'dead-letter')
    .map((e) => (e.outcome === 'decided' ? `${e.node}:${e.detail!['label'] as string}` : e.outcome === 'completed' ? e.node : `${e.node}:${e.outcome}`));
}

const SUCCESS_PATH = ['n2', 'n3', 'n4', 'n8', 'n9:Yes', 'n10', 'n11', 'n13', 'n18', 'n19', 'n20', 'n21'];
const RETRY_ROUND = ['n4:caught', 'n5:No', 'n15', 'n16', 'n17'];

describe('webhook-integration.flow over real HTTP', () => {
  it('delivers on the first try: signed POST, 200, hand-off from the receiver, event processed', async () => {
    const system = await openSystem();
    const instance = await system.deliver();
    expect(instance.status).toBe('completed');
    expect(path(instance)).toEqual(SUCCESS_PATH);

    const deliveryId = `${instance.id}:webhook`;
    const [attempt] = system.sender.attempts(deliveryId);
    expect(system.sender.delivery(deliveryId)).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 200, eventType: 'invoice.paid' });
    expect(attempt).toMatchObject({ attempt: 1, startedAt: T0, statusCode: 200, classification: 'delivered' });
    expect(attempt!.latencyMs).toBeGreaterThan(0);
    expect(system.requests).toEqual([{ webhookId: deliveryId, gate: 'receiver' }]);

    const data = instance.snapshot.data;
    expect(data['receiver']).toEqual({ signature: 'valid', statusCode: 200 });
    expect(data['acknowledged']).toMatchObject({ id: deliveryId, status: 'delivered', attempts: 1, statusCode: 200, at: new Date(T0).toISOString() });
    // The event processor worked on the event as the receiver verified and parsed it.
    expect(data['received']).toMatchObject({ id: deliveryId, type: 'invoice.paid', path: '/hooks', payload: { id: deliveryId, type: 'invoice.paid', data: { id: 'evt_1', amountCents: 2900 } } });
    expect(data).toMatchObject({ route: 'billing', ledger: { paidCents: 2900, refundedCents: 0 }, processed: ['evt_1'] });
    expect(system.receiver.metrics()).toMatchObject({ accepted: 1, duplicate: 0, processed: 1 });
  });

  it('retries a 503 twice round the diagram\'s loop, waiting 5 s then 5 min on the virtual clock, and records every attempt', async () => {
    const system = await openSystem({ gates: [503, 503] });
    const instance = await system.deliver();
    expect(instance.status).toBe('completed');
    expect(path(instance)).toEqual(['n2', 'n3', ...RETRY_ROUND, ...RETRY_ROUND, ...SUCCESS_PATH.slice(2)]);

    const attempts = system.sender.attempts(`${instance.id}:webhook`);
    expect(attempts.map((a) => [a.attempt, a.statusCode, a.classification, a.startedAt - T0])).toEqual([
      [1, 503, 'retryable', 0],
      [2, 503, 'retryable', 5 * SECOND],
      [3, 200, 'delivered', 5 * SECOND + 5 * MINUTE],
    ]);
    for (const attempt of attempts) expect(attempt.latencyMs).toBeGreaterThan(0);
    const sleeps = instance.journal.filter((e) => e.outcome === 'sleeping' && e.node === 'n16');
    expect(sleeps.map((e) => [e.at - T0, Date.parse(e.detail!['until'] as string) - T0])).toEqual([
      [0, 5 * SECOND],
      [5 * SECOND, 5 * SECOND + 5 * MINUTE],
    ]);
    expect(system.clock.now() - T0).toBe(5 * SECOND + 5 * MINUTE);
    expect(instance.snapshot.data['processed']).toEqual(['evt_1']);
    expect(system.receiver.metrics()).toMatchObject({ accepted: 1, processed: 1 });
  });

  it('dead-letters a delivery the endpoint refuses for good (410) after one attempt, through the diagram\'s 400 path', async () => {
    const system = await openSystem({ gates: [410] });
    const instance = await system.deliver();
    expect(instance.status).toBe('failed');
    expect(path(instance)).toEqual(['n2', 'n3', 'n4:caught', 'n14', 'n5:No', 'n15:dead-letter']);
    expect(instance.snapshot.error).toEqual({
      name: 'WebhookDeadLetter',
      message: `delivery ${instance.id}:webhook is a dead letter: the endpoint answered 410, which retrying cannot fix`,
    });
    expect(instance.snapshot.data['refusal']).toMatchObject({ status: 'permanent_failure', attempts: 1, statusCode: 410 });
    expect(system.sender.delivery(`${instance.id}:webhook`)).toMatchObject({ status: 'permanent_failure', attempts: 1, lastStatusCode: 410 });
    expect(system.requests).toHaveLength(1);
    expect(system.receiver.metrics().accepted).toBe(0);
  });

  it('dead-letters the delivery when its schedule runs out: six attempts over 7 h 35 min 5 s, then the loop is exhausted', async () => {
    const system = await openSystem({ gates: Array<Gate>(10).fill(503) });
    const instance = await system.deliver();
    expect(instance.status).toBe('failed');
    expect(instance.snapshot.error!.name).toBe('laneflow.LoopExhausted');
    const deliveryId = `${instance.id}:webhook`;
    expect(system.sender.delivery(deliveryId)).toMatchObject({ status: 'failed', attempts: 6, lastStatusCode: 503 });
    expect(system.sender.delivery(deliveryId)!.nextAttemptAt).toBeUndefined();
    const offsets = [0, 5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR].map((_, i, waits) => waits.slice(0, i + 1).reduce((a, b) => a + b, 0));
    expect(system.sender.attempts(deliveryId).map((a) => [a.statusCode, a.startedAt - T0])).toEqual(offsets.map((offset) => [503, offset]));
    expect(system.clock.now() - T0).toBe(7 * HOUR + 35 * MINUTE + 5 * SECOND);
    expect(system.requests).toHaveLength(6);
    expect(instance.journal.filter((e) => e.node === 'n15' && e.outcome === 'completed')).toHaveLength(5);
  });

  it('takes the No/401 path when the receiver refuses the signature, and delivers once the endpoint\'s secret is rotated to the receiver\'s', async () => {
    const receiverSecret = generateSecret();
    const system = await openSystem({ receiverSecret });
    const waiting = await system.deliver(undefined, T0 + SECOND);
    expect(waiting.status).toBe('running');
    expect(path(waiting)).toEqual(['n2', 'n3', 'n4', 'n8', 'n9:No', 'n12', 'n5:No', 'n15']);
    expect(waiting.snapshot.data['receiver']).toEqual({ signature: 'invalid', statusCode: 401 });
    expect(waiting.snapshot.data['refusal']).toMatchObject({ statusCode: 401, status: 'permanent_failure' });
    expect(system.receiver.metrics().bad_signature).toBe(1);

    system.sender.rotateSecret('acme', { key: 'rotate-to-receiver', secret: receiverSecret });
    const instance = await system.settle(waiting.id);
    expect(instance.status).toBe('completed');
    expect(path(instance).slice(8)).toEqual(['n16', 'n17', ...SUCCESS_PATH.slice(2)]);
    expect(system.sender.attempts(`${instance.id}:webhook`).map((a) => a.statusCode)).toEqual([401, 200]);
    expect(system.receiver.metrics()).toMatchObject({ bad_signature: 1, accepted: 1, processed: 1 });
  });

  it('gives up after the loop\'s five retries when the receiver keeps refusing the signature', async () => {
    const system = await openSystem({ receiverSecret: generateSecret() });
    const instance = await system.deliver();
    expect(instance.status).toBe('failed');
    expect(instance.snapshot.error!.name).toBe('laneflow.LoopExhausted');
    expect(instance.journal.filter((e) => e.node === 'n9' && e.outcome === 'decided').map((e) => e.detail!['label'])).toEqual(Array(6).fill('No'));
    expect(system.sender.attempts(`${instance.id}:webhook`).map((a) => a.statusCode)).toEqual(Array(6).fill(401));
    expect(system.receiver.metrics()).toMatchObject({ bad_signature: 6, accepted: 0 });
  });

  it('redelivers an acknowledged event whose answer was lost, and the receiver processes it once', async () => {
    const system = await openSystem({ gates: ['cut-after-receiver'] });
    const instance = await system.deliver();
    expect(instance.status).toBe('completed');
    const deliveryId = `${instance.id}:webhook`;
    const attempts = system.sender.attempts(deliveryId);
    expect(attempts.map((a) => [a.statusCode, a.classification])).toEqual([
      [undefined, 'retryable'],
      [200, 'delivered'],
    ]);
    expect(attempts[0]!.error).toMatch(/socket hang up|ECONNRESET/);
    // Both requests carried the same webhook-id; the receiver acknowledged the second as a duplicate.
    expect(system.requests.map((r) => r.webhookId)).toEqual([deliveryId, deliveryId]);
    expect(system.receiver.metrics()).toMatchObject({ accepted: 1, duplicate: 1, processed: 1 });
    expect(system.side.prepare(`SELECT count(*) AS n FROM signals WHERE name = 'webhook.received'`).get()).toEqual({ n: 1 });
    expect(instance.snapshot.visits['n18']).toBe(1);
    expect(instance.snapshot.data['processed']).toEqual(['evt_1']);
  });
});
