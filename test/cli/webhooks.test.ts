import { describe, expect, it } from 'vitest';
import { hasStackTrace, laneflow } from '../helpers/cli';
import { openSystem, T0 } from '../flows/webhook-integration.harness';

interface AttemptJson {
  attempt: number;
  startedAt: string;
  statusCode?: number;
  latencyMs?: number;
  error?: string;
  classification: string;
}

describe('laneflow deliveries', () => {
  it('lists the deliveries the webhook flow made, and shows one with every attempt', async () => {
    // A real run: webhook-integration.flow on the engine, posting over HTTP to a receiver that
    // answers 503 twice, then a second instance whose endpoint refuses it for good.
    const system = await openSystem({ gates: [503, 503] });
    const delivered = await system.deliver();
    const deliveryId = `${delivered.id}:webhook`;
    const gone = await openSystem({ gates: [410] });
    const refused = await gone.deliver({ id: 'evt_2', type: 'invoice.refunded', amountCents: 100 });

    const list = laneflow(['deliveries', '--db', system.file]);
    expect(list.status).toBe(0);
    const [header, row, ...rest] = list.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^delivery\s+endpoint\s+type\s+status\s+attempts\s+last answer\s+next attempt \(UTC\)\s+updated \(UTC\)$/);
    expect(row!.split(/\s{2,}/)).toEqual([deliveryId, 'acme', 'invoice.paid', 'delivered', '3', '200', '-', new Date(T0 + 5_000 + 300_000).toISOString()]);
    expect(rest).toEqual([]);

    const one = laneflow(['deliveries', deliveryId, '--db', system.file]);
    expect(one.status).toBe(0);
    expect(one.stdout).toContain(`delivery  ${deliveryId}\nendpoint  acme\ntype      invoice.paid\nstatus    delivered\nattempts  3\n`);
    const attempts = one.stdout.split('\n').filter((line) => /^\d+\s/.test(line));
    expect(attempts.map((line) => line.split(/\s{2,}/).filter((cell, i) => i !== 3))).toEqual([
      ['1', new Date(T0).toISOString(), '503', 'retryable'],
      ['2', new Date(T0 + 5_000).toISOString(), '503', 'retryable'],
      ['3', new Date(T0 + 305_000).toISOString(), '200', 'delivered'],
    ]);
    for (const line of attempts) expect(line).toMatch(/\s\d+\.\d ms\s/);

    const json = laneflow(['deliveries', deliveryId, '--db', system.file, '--json']);
    const parsed = JSON.parse(json.stdout) as { status: string; body: { id: string; data: unknown }; attempts: AttemptJson[] };
    expect(parsed.status).toBe('delivered');
    expect(parsed.body).toMatchObject({ id: deliveryId, type: 'invoice.paid', data: { id: 'evt_1', amountCents: 2900 } });
    expect(parsed.attempts.map((a) => a.statusCode)).toEqual([503, 503, 200]);
    expect(parsed.attempts.every((a) => typeof a.latencyMs === 'number' && a.latencyMs > 0)).toBe(true);
    expect(parsed.attempts.map((a) => a.latencyMs)).toEqual(system.sender.attempts(deliveryId).map((a) => a.latencyMs));

    const failed = laneflow(['deliveries', '--db', gone.file, '--status', 'permanent_failure', '--json']);
    const failures = (JSON.parse(failed.stdout) as { deliveries: { id: string; lastStatusCode: number; attempts: number }[] }).deliveries;
    expect(failures).toEqual([expect.objectContaining({ id: `${refused.id}:webhook`, lastStatusCode: 410, attempts: 1 })]);
    const none = laneflow(['deliveries', '--db', system.file, '--status', 'failed']);
    expect(none.stdout).toBe(`no webhook deliveries in ${system.file}\n`);
  });

  it('refuses a missing database, an unknown delivery and an unknown status with one sentence and exit 2', async () => {
    const missing = laneflow(['deliveries', '--db', '/nonexistent/laneflow.db']);
    expect([missing.status, missing.stderr]).toEqual([2, 'laneflow: there is no database at /nonexistent/laneflow.db (`laneflow run` creates it)\n']);
    const system = await openSystem();
    const unknown = laneflow(['deliveries', 'nope:webhook', '--db', system.file]);
    expect([unknown.status, unknown.stderr]).toEqual([2, `laneflow: no webhook delivery nope:webhook in ${system.file}\n`]);
    const status = laneflow(['deliveries', '--status', 'lost', '--db', system.file]);
    expect([status.status, status.stderr]).toEqual([2, 'laneflow: --status must be one of pending, retrying, delivered, failed, permanent_failure, not "lost"\n']);
    for (const run of [missing, unknown, status]) expect(hasStackTrace(run.stderr)).toBe(false);
  });
});
