// Each step exactly once, with real `laneflow worker` processes on real SQLite files: a short
// lease on an idle and on a busy machine, three workers killed ten times, a handler that never
// answers, a stop with such a handler in hand, and a binding module changed while instances sleep.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cases';
import { laneflow } from '../helpers/cli';
import { completedCount, freshFiles, killWorkers, query, seeded, spawnWorker, startInstances, waitFor, writeMarkerProject, type WorkerProcess } from '../helpers/worker';

const folder = `${repoRoot}test/artifacts/exactly-once/`;
const fixtures = `${repoRoot}test/runtime/fixtures/`;
const FOURTEEN = { flow: `${fixtures}fourteen.flow`, bindings: `${fixtures}fourteen.bindings.mjs` };
const HUNG = { flow: `${fixtures}hung.flow`, bindings: `${fixtures}hung.bindings.mjs` };
const hogs: ChildProcess[] = [];

beforeAll(() => mkdirSync(folder, { recursive: true }));
afterAll(() => {
  killWorkers();
  for (const hog of hogs) hog.kill('SIGKILL');
});

function worker(files: { db: string; gateway: string }, args: string[] = [], env: Record<string, string> = {}): WorkerProcess {
  return spawnWorker(files.db, args, { LANEFLOW_TEST_GATEWAY: files.gateway, ...env });
}

/** A process that keeps one core busy until killed. */
function cpuHog(): ChildProcess {
  const hog = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  hogs.push(hog);
  return hog;
}

const STEPS = Array.from({ length: 14 }, (_, i) => `n${i + 2}`);

/** Every instance completed, each step's outcome journaled once and its effect recorded once. */
function expectEachStepOnce(files: { db: string; gateway: string }, ids: string[]): void {
  expect(query(files.db, "SELECT id FROM instances WHERE status != 'completed'")).toEqual([]);
  const duplicates = query(
    files.db,
    `SELECT instance, node, visit, COUNT(*) AS n FROM journal WHERE outcome IN ('completed', 'decided', 'ended')
     GROUP BY instance, node, visit, token HAVING n > 1`,
  );
  expect(duplicates).toEqual([]);
  const expected = ids.flatMap((id) => STEPS.map((node) => `${id}:${node}:1`)).sort();
  expect(query<{ key: string }>(files.db, 'SELECT key FROM outbox ORDER BY key').map((r) => r.key.replace(/:effect$/, ''))).toEqual(expected);
  expect(query<{ key: string }>(files.gateway, 'SELECT key FROM effects ORDER BY key').map((r) => r.key)).toEqual(expected);
  for (const { data } of query<{ data: string }>(files.db, "SELECT json_extract(snapshot, '$.data') AS data FROM instances")) {
    expect(Object.values(JSON.parse(data) as Record<string, number>).every((count) => count === 1)).toBe(true);
  }
}

describe('each step exactly once with worker processes', () => {
  it.each([
    { beside: 'nothing', hog: false },
    { beside: 'a CPU hog', hog: true },
  ])('runs 50 instances of a 14-step flow under one worker with --lease 1000 and $beside beside it: every step once, in the journal and at the gateway', async ({ hog }) => {
    const files = freshFiles(folder, hog ? 'fourteen-hog' : 'fourteen');
    const ids = await startInstances(files.db, FOURTEEN.flow, FOURTEEN.bindings, Array.from({ length: 50 }, () => ({})));
    const busy = hog ? cpuHog() : undefined;
    // The binding module takes 1.5 s to load, blocking the thread past the lease.
    const child = worker(files, ['--lease', '1000'], { LANEFLOW_TEST_LOAD_BLOCK_MS: '1500' });
    try {
      await waitFor(() => completedCount(files.db) === ids.length, 45_000, 'every instance to complete');
    } finally {
      busy?.kill('SIGKILL');
    }
    child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    expectEachStepOnce(files, ids);
    // Nothing was killed, so no step ran twice: one call per key at the gateway.
    expect(query<{ n: number }>(files.gateway, 'SELECT COUNT(*) AS n FROM calls')[0]!.n).toBe(ids.length * STEPS.length);
  });

  it('runs them through 10 SIGKILLs among 3 workers with --lease 1000: no step committed twice, and no step run twice by one process', async () => {
    const files = freshFiles(folder, 'fourteen-kills');
    const ids = await startInstances(files.db, FOURTEEN.flow, FOURTEEN.bindings, Array.from({ length: 50 }, () => ({})));
    // One instance at a time per worker, 100 ms awaits and a half-second timer each: the run outlasts the ten kills.
    const env = { LANEFLOW_TEST_STEP_MS: '100', LANEFLOW_TEST_SLEEP_MS: '500' };
    const args = ['--lease', '1000', '--batch', '1'];
    const random = seeded(20_261_203);
    const workers = [0, 1, 2].map(() => worker(files, args, env));
    await Promise.all(workers.map((w) => w.ready));
    let killedMidRun = 0;
    for (let kill = 0; kill < 10; kill++) {
      await new Promise((resolve) => setTimeout(resolve, 100 + random() * 300));
      const index = Math.floor(random() * workers.length);
      workers[index]!.kill('SIGKILL');
      await workers[index]!.exited;
      const completed = completedCount(files.db);
      if (completed < ids.length) killedMidRun++;
      workers[index] = worker(files, args, env);
      await workers[index]!.ready;
    }
    // Most kills land mid-run (the count is checked, so a run that finished early cannot pass unnoticed).
    expect(killedMidRun).toBeGreaterThanOrEqual(5);
    await waitFor(() => completedCount(files.db) === ids.length, 45_000, 'every instance to complete');
    for (const child of workers) child.kill('SIGTERM');
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0]);
    expectEachStepOnce(files, ids);
    // A step may run again after a kill (its effect was done, its commit was not), in another
    // process and under the same idempotency key; never twice in one process.
    const twiceInOneProcess = query(files.gateway, 'SELECT key, pid, COUNT(*) AS n FROM calls GROUP BY key, pid HAVING n > 1');
    expect(twiceInOneProcess).toEqual([]);
  });

  it('lets a hung step hold up nothing else, fails it with laneflow.Timeout after its timeout, and stops within the drain time', async () => {
    const files = freshFiles(folder, 'hung');
    const env = { LANEFLOW_TEST_SLEEP_MS: '1000' };
    const [hungId = '', ...others] = await startInstances(files.db, HUNG.flow, HUNG.bindings, [{ hang: true }, {}, {}, {}, {}]);
    const first = worker(files, ['--step-timeout', '1h', '--drain', '1s'], env);
    await first.ready;
    const started = Date.now();
    await waitFor(() => completedCount(files.db) === others.length, 10_000, 'the other instances to complete');
    // Their one-second timers fired while the hung step was in hand.
    expect(Date.now() - started).toBeLessThan(8000);
    expect(query<{ lease_owner: string | null }>(files.db, 'SELECT lease_owner FROM instances WHERE id = ?', hungId)[0]!.lease_owner).not.toBeNull();
    const shown = laneflow(['inspect', hungId, '--db', files.db]);
    expect(shown.stdout).toMatch(/running\s+n2 Call partner on worker \S+ since \S+Z/);

    const stopping = Date.now();
    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(5000);
    expect(first.log()).toContain('1 step still running after 1s let go to another worker');
    expect(query(files.db, 'SELECT id FROM instances WHERE lease_owner IS NOT NULL')).toEqual([]);

    // The next worker times the step out.
    const second = worker(files, ['--step-timeout', '500ms'], env);
    await waitFor(() => query(files.db, "SELECT 1 FROM instances WHERE id = ? AND status = 'failed'", hungId).length > 0, 10_000, 'the timeout');
    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    const failed = JSON.parse(laneflow(['inspect', hungId, '--db', files.db, '--json']).stdout) as { error: { name: string; message: string } };
    expect(failed.error).toEqual({ name: 'laneflow.Timeout', message: 'n2 ran longer than its timeout of 0.5 s' });
  });

  it('exits at once on a second SIGTERM, letting go of the step in hand', async () => {
    const files = freshFiles(folder, 'twice');
    const [id = ''] = await startInstances(files.db, HUNG.flow, HUNG.bindings, [{ hang: true }]);
    const child = worker(files, ['--step-timeout', '1h', '--drain', '1h']);
    await child.ready;
    await waitFor(() => query(files.db, 'SELECT 1 FROM instances WHERE lease_owner IS NOT NULL').length > 0, 10_000, 'the claim');
    child.kill('SIGTERM');
    await waitFor(() => child.log().includes('finishing the steps in hand'), 5000, 'the first signal to be taken');
    const second = Date.now();
    child.kill('SIGTERM');
    expect(await child.exited).toBe(1);
    expect(Date.now() - second).toBeLessThan(3000);
    expect(query<{ lease_owner: string | null }>(files.db, 'SELECT lease_owner FROM instances WHERE id = ?', id)).toEqual([{ lease_owner: null }]);
  });

  it('leaves instances alone when their binding module changed while they slept, until laneflow upgrade moves them', async () => {
    const code = writeMarkerProject(`${folder}changed/`, 500);
    const files = freshFiles(folder, 'changed');
    const env = { LANEFLOW_TEST_GATEWAY: files.gateway };
    for (let i = 0; i < 3; i++) expect(laneflow(['run', code.flow, '--db', files.db, '--detach'], { env }).status).toBe(0);
    // Run them up to their timers, then change the code they import.
    const first = worker(files);
    await waitFor(() => query(files.db, "SELECT 1 FROM journal WHERE outcome = 'sleeping'").length === 3, 10_000, 'the sleeps');
    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    code.changeCode();
    const oldVersion = query<{ machine: string }>(files.db, 'SELECT DISTINCT machine FROM instances')[0]!.machine;

    const second = worker(files);
    await second.ready;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(completedCount(files.db)).toBe(0);
    expect(query(files.db, "SELECT 1 FROM journal WHERE outcome = 'woke'")).toEqual([]);
    expect(second.log()).toContain(`instances of version ${oldVersion} wait for a worker with their code: its code changed since it was deployed`);
    const versions = laneflow(['versions', '--db', files.db]);
    expect(versions.status).toBe(0);
    expect(versions.stdout).toContain(`3 instances of version ${oldVersion} (${code.flow}) wait: no live worker has its code`);
    expect(laneflow(['inspect', '--db', files.db]).stdout).toContain(`3 instances of version ${oldVersion}`);

    const upgraded = laneflow(['upgrade', '--from', oldVersion.slice(0, 8), '--db', files.db]);
    expect(upgraded.status).toBe(0);
    expect(upgraded.stdout).toMatch(/3 of 3 instances moved to [0-9a-f]{16}/);
    // The running worker finds the new version and runs them on the new code.
    await waitFor(() => completedCount(files.db) === 3, 10_000, 'the upgraded instances to complete');
    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    const codes = query<{ code: string }>(files.db, "SELECT json_extract(snapshot, '$.data.code') AS code FROM instances");
    expect(codes.map((c) => c.code)).toEqual(['new code', 'new code', 'new code']);
  });
});
