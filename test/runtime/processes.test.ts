// Real worker processes (`node bin/laneflow.js worker`) on real SQLite files: killed with
// SIGKILL mid-run, two at once on one database, stopped and restarted around a timer.
import { mkdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSource } from '../../src/index';
import { Engine } from '../../src/runtime/engine';
import { repoRoot } from '../helpers/cases';
import { laneflow } from '../helpers/cli';
import { completedCount, freshFiles, killWorkers, query, seeded, spawnWorker, waitFor, type WorkerProcess } from '../helpers/worker';

const folder = `${repoRoot}test/artifacts/processes/`;
const fixtures = `${repoRoot}test/runtime/fixtures/`;

// The workers run the built CLI, which `npm test` builds first.
beforeAll(() => {
  mkdirSync(folder, { recursive: true });
});

afterAll(() => {
  killWorkers();
});

function fresh(name: string): { db: string; gateway: string } {
  return freshFiles(folder, name);
}

/** Deploys the fixture flow with a binding module and starts `count` instances, every third one express. */
async function startInstances(db: string, count: number, bindings = 'crash.bindings.mjs'): Promise<string[]> {
  const engine = new Engine({ db });
  try {
    const { flow } = checkSource('crash.flow', readFileSync(`${fixtures}crash.flow`, 'utf8'));
    const { machine } = await engine.deployModule(flow!, `${fixtures}${bindings}`);
    return engine.startMany(machine!.version, Array.from({ length: count }, (_, i) => ({ input: { express: i % 3 === 0 } })));
  } finally {
    engine.close();
  }
}


function worker(db: string, gateway: string, args: string[] = [], env: Record<string, string> = {}): WorkerProcess {
  return spawnWorker(db, args, { LANEFLOW_TEST_GATEWAY: gateway, ...env });
}


/** The idempotency keys the fixture's side-effect steps must produce for each instance. */
function expectedKeys(ids: string[]): string[] {
  return ids.flatMap((id, i) => ['n2', 'n3', i % 3 === 0 ? 'n5' : 'n6', 'n7', 'n8'].filter((n) => i % 3 === 0 || n !== 'n8').map((n) => `${id}:${n}:1`)).sort();
}

describe('worker processes', () => {
  // crash.bindings.mjs awaits in every side-effect step, so each step commits before the next
  // runs; chain.bindings.mjs returns at once, so a worker runs an instance's steps on and
  // commits them together, and a kill throws a whole chain away.
  it.each([
    { bindings: 'crash.bindings.mjs', stepMs: '12', steps: 'awaiting' },
    { bindings: 'chain.bindings.mjs', stepMs: '2', steps: 'returning at once' },
  ])('loses nothing and does nothing twice when workers are SIGKILLed at random points while 200 instances run, steps $steps', async ({ bindings, stepMs }) => {
    const { db, gateway } = fresh(bindings.replace('.bindings.mjs', ''));
    const ids = await startInstances(db, 200, bindings);
    const random = seeded(20_251_123);
    const env = { LANEFLOW_TEST_STEP_MS: stepMs, LANEFLOW_TEST_SLEEP_MS: '250' };
    let killedMidRun = 0;
    for (let kill = 0; kill < 6; kill++) {
      const child = worker(db, gateway, ['--batch', '25', '--lease', '600'], env);
      await child.ready;
      await new Promise((resolve) => setTimeout(resolve, 50 + random() * 400));
      child.kill('SIGKILL');
      await child.exited;
      const completed = completedCount(db);
      if (completed > 0 && completed < ids.length) killedMidRun++;
    }
    expect(killedMidRun).toBeGreaterThan(0);
    const last = worker(db, gateway, ['--batch', '25', '--lease', '600'], env);
    await waitFor(() => completedCount(db) === ids.length, 25_000, 'every instance to complete');
    await last.ready;
    last.kill('SIGTERM');
    expect(await last.exited).toBe(0);

    // Nothing lost: every instance completed with every step applied exactly once.
    const instances = query<{ id: string; status: string; snapshot: string }>(db, 'SELECT id, status, snapshot FROM instances');
    expect(instances.filter((i) => i.status !== 'completed')).toEqual([]);
    for (const instance of instances) {
      const data = JSON.parse(instance.snapshot).data as Record<string, unknown>;
      const counters = Object.entries(data).filter(([key]) => key !== 'express');
      expect(counters.every(([, count]) => count === 1), `${instance.id}: ${JSON.stringify(data)}`).toBe(true);
    }
    // Nothing committed twice: one outcome row per node visit, one outbox row per key.
    const duplicates = query(
      db,
      `SELECT instance, node, visit, COUNT(*) AS n FROM journal WHERE outcome IN ('completed', 'decided', 'ended')
       GROUP BY instance, node, visit, token HAVING n > 1`,
    );
    expect(duplicates).toEqual([]);
    const outbox = query<{ key: string }>(db, 'SELECT key FROM outbox ORDER BY key').map((r) => r.key.replace(/:effect$/, ''));
    expect(outbox).toEqual(expectedKeys(ids));
    // The gateway saw every expected key, and kept each once; calls beyond that are the
    // at-least-once re-runs of steps a kill interrupted before their commit.
    const effects = query<{ key: string }>(gateway, 'SELECT key FROM effects ORDER BY key').map((r) => r.key);
    expect(effects).toEqual(expectedKeys(ids));
    const calls = query<{ n: number }>(gateway, 'SELECT COUNT(*) AS n FROM calls')[0]!.n;
    expect(calls).toBeGreaterThanOrEqual(effects.length);
  });

  it('runs plan-upgrade.flow through a kill -9 midway: every upgrade completes, each charge and email recorded once, and inspect shows it', async () => {
    const { db, gateway } = fresh('plan-upgrade');
    const total = 1500;
    const engine = new Engine({ db });
    let ids: string[];
    try {
      const { flow } = checkSource('flows/plan-upgrade.flow', readFileSync(`${repoRoot}flows/plan-upgrade.flow`, 'utf8'));
      const { machine } = await engine.deployModule(flow!, `${repoRoot}flows/plan-upgrade.bindings.ts`);
      const declined = { number: '4000000000000002', expMonth: 1, expYear: 2031 };
      const good = { number: '4242424242424242', expMonth: 1, expYear: 2031 };
      ids = engine.startMany(
        machine!.version,
        Array.from({ length: total }, (_, i) => ({ input: { customer: `cus_${i}`, creditCents: i % 700, cards: i % 4 === 0 ? [declined, good] : [good] } })),
      );
    } finally {
      engine.close();
    }
    const first = worker(db, gateway, ['--batch', '40', '--lease', '1000']);
    await waitFor(() => completedCount(db) >= 50, 20_000, 'the first upgrades to complete');
    first.kill('SIGKILL');
    await first.exited;
    expect(completedCount(db)).toBeLessThan(total);
    const second = worker(db, gateway, ['--batch', '40', '--lease', '1000']);
    await waitFor(() => completedCount(db) === total, 25_000, 'every upgrade to complete');
    await second.ready;
    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);

    const outbox = query<{ key: string; kind: string }>(db, 'SELECT key, kind FROM outbox ORDER BY key');
    const expected = ids
      .flatMap((id, i) => (i % 4 === 0 ? [`${id}:n14:1:gateway.charge`, `${id}:n14:2:gateway.charge`] : [`${id}:n14:1:gateway.charge`]).concat(`${id}:n21:1:email`))
      .sort();
    expect(outbox.map((e) => e.key)).toEqual(expected);
    const duplicates = query(db, "SELECT instance, node, visit FROM journal WHERE outcome IN ('completed', 'decided') GROUP BY instance, node, visit HAVING COUNT(*) > 1");
    expect(duplicates).toEqual([]);

    const id = ids[4]!;
    const shown = laneflow(['inspect', id, '--db', db]);
    expect(shown.status).toBe(0);
    expect(shown.stdout).toMatch(/status\s+completed/);
    expect(shown.stdout).toMatch(/n16 Charge successful\?\s+Billing\s+.*\s1\s+decided\s+label=No/);
    expect(shown.stdout).toMatch(/n16 Charge successful\?\s+Billing\s+.*\s1\s+decided\s+label=Yes/);
    expect(shown.stdout).toContain(`${id}:n14:2:gateway.charge`);
  });

  it('never runs the same step in two workers at once', async () => {
    const { db, gateway } = fresh('two-workers');
    const ids = await startInstances(db, 100);
    const env = { LANEFLOW_TEST_STEP_MS: '8', LANEFLOW_TEST_SLEEP_MS: '100' };
    const workers = [worker(db, gateway, ['--batch', '10'], env), worker(db, gateway, ['--batch', '10'], env)];
    await waitFor(() => completedCount(db) === ids.length, 25_000, 'every instance to complete');
    await Promise.all(workers.map((w) => w.ready));
    for (const child of workers) child.kill('SIGTERM');
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);
    const calls = query<{ key: string; pid: number }>(gateway, 'SELECT key, pid FROM calls ORDER BY key');
    // No lease expired, so every side effect ran exactly once, in one worker or the other.
    expect(calls.map((c) => c.key)).toEqual(expectedKeys(ids));
    expect(new Set(calls.map((c) => c.pid)).size).toBe(2);
  });

  it('finishes the step in hand on SIGTERM, and a new worker fires the durable timer after the restart', async () => {
    const { db, gateway } = fresh('timer');
    const [, id] = await startInstances(db, 2);
    const env = { LANEFLOW_TEST_STEP_MS: '400', LANEFLOW_TEST_SLEEP_MS: '1500' };
    const first = worker(db, gateway, [], env);
    // n2 is in hand once the instance is claimed; stop the worker then.
    await waitFor(() => query<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM instances WHERE lease_owner IS NOT NULL')[0]!.n > 0, 10_000, 'a claim');
    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.log()).toMatch(/stopped after \d+ steps?;/);
    const afterStop = query<{ node: string; outcome: string }>(db, "SELECT j.node, j.outcome FROM journal j JOIN instances i ON i.seq = j.instance WHERE i.id = ? AND j.outcome != 'started'", id);
    expect(afterStop[0]).toEqual({ node: 'n2', outcome: 'completed' });
    expect(query(db, 'SELECT id FROM instances WHERE lease_owner IS NOT NULL')).toEqual([]);

    // Run until the instance sleeps on its timer, stop, and let a fresh worker wake it.
    const second = worker(db, gateway, [], env);
    await waitFor(() => query(db, "SELECT 1 FROM journal j JOIN instances i ON i.seq = j.instance WHERE i.id = ? AND j.outcome = 'sleeping'", id).length > 0, 10_000, 'the sleep');
    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    const { wake_at: wakeAt, status } = query<{ wake_at: number; status: string }>(db, 'SELECT wake_at, status FROM instances WHERE id = ?', id)[0]!;
    expect(status).toBe('running');
    const third = worker(db, gateway, [], env);
    await waitFor(() => query(db, "SELECT 1 FROM instances WHERE id = ? AND status = 'completed'", id).length > 0, 15_000, 'completion after the timer');
    await third.ready;
    third.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    const woke = query<{ at: number }>(db, "SELECT j.at FROM journal j JOIN instances i ON i.seq = j.instance WHERE i.id = ? AND j.outcome = 'woke'", id);
    expect(woke).toHaveLength(1);
    expect(woke[0]!.at).toBeGreaterThanOrEqual(wakeAt);
  });
});
