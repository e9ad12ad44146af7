// Each step exactly once (issue 12), at a larger scale than test/runtime/exactly-once.processes.test.ts
// and with the same fixtures, real `laneflow worker` processes and real SQLite files: a short
// lease under a binding module that blocks its loading past it, on an idle and on a busy
// machine; three workers SIGKILLed ten times; a hung handler among 200 instances with one-second
// timers, and a stop with it in hand; a binding module changed while 100 instances sleep.
// Every step is a call at a "gateway" (a SQLite file logging each call and keeping each
// idempotency key once, test/runtime/fixtures/process-steps.mjs), so a step run twice shows there
// even when its second commit was refused.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../test/helpers/cases';
import { laneflow } from '../test/helpers/cli';
import { completedCount, freshFiles, killWorkers, query, seeded, spawnWorker, startInstances, writeMarkerProject, type WorkerProcess } from '../test/helpers/worker';
import type { ReliabilityRow, ReliabilitySection } from './table';

const FIXTURES = `${repoRoot}test/runtime/fixtures/`;
const FOURTEEN = { flow: `${FIXTURES}fourteen.flow`, bindings: `${FIXTURES}fourteen.bindings.mjs` };
const HUNG = { flow: `${FIXTURES}hung.flow`, bindings: `${FIXTURES}hung.bindings.mjs` };
const FOURTEEN_STEPS = Array.from({ length: 14 }, (_, i) => `n${i + 2}`);
const HUNG_STEPS = ['n2', 'n3'];

const LEASE = ['--lease', '1000'];
/** How long any one wait of this check may take before it counts as lost work. */
const DEADLINE_MS = 45_000;

const ONE_WORKER_INSTANCES = 50;
const LOAD_BLOCK_MS = '1500';

const KILL_INSTANCES = 150;
const KILLS = 10;
const KILL_SEED = 20_261_203;
/** The next kill lands this long (seeded within the range) after the last restarted worker is up. */
const KILL_AFTER_MS: [number, number] = [300, 900];

const TIMER_INSTANCES = 200;
const STEP_TIMEOUT_S = 4;
const DRAIN_S = 2;
/** A timer may fire this late at the 99th percentile with a hung step in hand. */
const LATENESS_P99_MS = 1000;
/** A stop with a hung step exits at most this long after its drain time. */
const LET_GO_MS = 1500;

const SLEEPING_INSTANCES = 100;
const SLEEP_MS = 3000;

type Files = { db: string; gateway: string };

export default async function exactlyOnce(): Promise<ReliabilitySection> {
  const folder = mkdtempSync(join(tmpdir(), 'laneflow-exactly-once-'));
  const rows: ReliabilityRow[] = [];
  const cases: [string, () => Promise<ReliabilityRow[]>][] = [
    ['one worker, nothing beside', () => oneWorker(folder, 0)],
    ['one worker, two CPU hogs beside', () => oneWorker(folder, 2)],
    ['three workers, ten SIGKILLs', () => killed(folder)],
    ['a hung step', () => hung(folder)],
    ['a changed binding module', () => changedCode(folder)],
  ];
  try {
    for (const [name, run] of cases) {
      try {
        rows.push(...(await run()));
      } catch (error) {
        rows.push({ check: name, cases: 0, faults: 0, lost: 0, duplicates: 0, ok: false, note: error instanceof Error ? error.message : String(error) });
      } finally {
        killWorkers();
      }
    }
    return { title: 'exactly once', rows };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** 1. 50 instances of the 14-step flow under one worker with a 1 s lease, its module loading for 1.5 s. */
async function oneWorker(folder: string, hogCount: number): Promise<ReliabilityRow[]> {
  const files = freshFiles(`${folder}/`, `fourteen-${hogCount}`);
  const ids = await startInstances(files.db, FOURTEEN.flow, FOURTEEN.bindings, Array.from({ length: ONE_WORKER_INSTANCES }, () => ({})));
  const hogs: ChildProcess[] = Array.from({ length: hogCount }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  const started = Date.now();
  let finished: boolean;
  let exitCode: number | null;
  try {
    const child = worker(files, LEASE, { LANEFLOW_TEST_LOAD_BLOCK_MS: LOAD_BLOCK_MS });
    finished = await until(() => completedCount(files.db) === ids.length, DEADLINE_MS);
    const wall = (Date.now() - started) / 1000;
    for (const hog of hogs) hog.kill('SIGKILL');
    child.kill('SIGTERM');
    exitCode = await child.exited;
    const once = eachStepOnce(files, ids, FOURTEEN_STEPS);
    // Each claim adds one to the fencing token: more than two claims an instance (before and after its timer) means a lease ran out under it.
    const claims = query<{ n: number }>(files.db, 'SELECT SUM(lease_epoch) AS n FROM instances')[0]!.n;
    // Nothing was killed: a second call under a key is a step run twice, whatever was committed.
    const duplicates = once.duplicates + once.gateway.reruns;
    return [
      {
        check: `${ids.length} × 14 steps, 1 worker, --lease 1000, module loading 1.5 s, ${hogCount === 0 ? 'nothing' : `${hogCount} CPU hogs`} beside`,
        cases: ids.length * FOURTEEN_STEPS.length,
        faults: hogCount,
        lost: once.lost,
        duplicates,
        ok: finished && exitCode === 0 && once.lost === 0 && duplicates === 0,
        note:
          `${once.committed} steps committed, ${once.gateway.calls} gateway calls for ${once.gateway.keys} keys; ` +
          `${once.journalTwice} committed twice in the journal, ${once.gateway.reruns} run twice at the gateway; ` +
          `${claims} claims; all done ${wall.toFixed(1)} s after the worker started; worker exit ${exitCode}${once.problems}`,
      },
    ];
  } finally {
    for (const hog of hogs) hog.kill('SIGKILL');
  }
}

/** 2. The same flow with three workers, ten of them SIGKILLed at seeded times and restarted. */
async function killed(folder: string): Promise<ReliabilityRow[]> {
  const files = freshFiles(`${folder}/`, 'fourteen-kills');
  const ids = await startInstances(files.db, FOURTEEN.flow, FOURTEEN.bindings, Array.from({ length: KILL_INSTANCES }, () => ({})));
  // Two instances at a time per worker, 100 ms awaits and a half-second timer each: the run outlasts the kills.
  const env = { LANEFLOW_TEST_STEP_MS: '100', LANEFLOW_TEST_SLEEP_MS: '500' };
  const args = [...LEASE, '--batch', '2'];
  const random = seeded(KILL_SEED);
  const started = Date.now();
  const workers = [0, 1, 2].map(() => worker(files, args, env));
  const up = await Promise.all(workers.map(isUp));
  let kills = 0;
  let midRun = 0;
  let inHand = 0;
  while (kills < KILLS && up.every(Boolean)) {
    await new Promise((resolve) => setTimeout(resolve, KILL_AFTER_MS[0] + random() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0])));
    const index = Math.floor(random() * workers.length);
    const victim = workers[index]!;
    const held = query<{ n: number }>(files.db, 'SELECT COUNT(*) AS n FROM instances WHERE lease_owner LIKE ?', `%:${pidOf(victim)}:%`)[0]!.n;
    victim.kill('SIGKILL');
    await victim.exited;
    kills++;
    if (completedCount(files.db) < ids.length) midRun++;
    if (held > 0) inHand++;
    workers[index] = worker(files, args, env);
    up[index] = await isUp(workers[index]!);
  }
  const finished = await until(() => completedCount(files.db) === ids.length, DEADLINE_MS);
  const wall = (Date.now() - started) / 1000;
  for (const child of workers) child.kill('SIGTERM');
  const exits = await Promise.all(workers.map((w) => w.exited));
  const once = eachStepOnce(files, ids, FOURTEEN_STEPS);
  const duplicates = once.duplicates + once.gateway.twiceInOneProcess;
  return [
    {
      check: `${ids.length} × 14 steps, 3 workers, --lease 1000, ${kills} seeded SIGKILLs with restarts`,
      cases: ids.length * FOURTEEN_STEPS.length,
      faults: kills,
      lost: once.lost,
      duplicates,
      // The kills must have hit the run (a run finished before them would prove nothing).
      ok: finished && kills === KILLS && midRun === KILLS && inHand >= KILLS / 2 && exits.every((code) => code === 0) && once.lost === 0 && duplicates === 0,
      note:
        `${once.committed} steps committed, ${once.journalTwice} twice in the journal, ${once.outboxExtra} extra outbox rows; ` +
        `${once.gateway.calls} gateway calls for ${once.gateway.keys} keys: ${once.gateway.reruns} re-runs in another process after a kill, ${once.gateway.twiceInOneProcess} twice in one process; ` +
        `${midRun} kills mid-run, ${inHand} with steps in hand; all done in ${wall.toFixed(1)} s${once.problems}`,
    },
  ];
}

/** 3. A handler that never answers among 200 instances with 1 s timers, then a stop with one in hand. */
async function hung(folder: string): Promise<ReliabilityRow[]> {
  const files = freshFiles(`${folder}/`, 'hung');
  const env = { LANEFLOW_TEST_SLEEP_MS: '1000' };
  const inputs = [{ hang: true }, ...Array.from({ length: TIMER_INSTANCES - 1 }, () => ({}))];
  const [hungId = '', ...others] = await startInstances(files.db, HUNG.flow, HUNG.bindings, inputs);
  const first = worker(files, ['--step-timeout', `${STEP_TIMEOUT_S}s`], env);
  await isUp(first);
  const othersDone = await until(() => completedCount(files.db) === others.length, DEADLINE_MS);
  const claimedAt = query<{ claimed_at: number | null }>(files.db, 'SELECT claimed_at FROM instances WHERE id = ?', hungId)[0]!.claimed_at;
  const timedOut = await until(() => query(files.db, "SELECT 1 FROM instances WHERE id = ? AND status = 'failed'", hungId).length > 0, DEADLINE_MS);
  first.kill('SIGTERM');
  const firstExit = await first.exited;

  // Each timer's lateness: when its instance woke against when the timer was due.
  const wakes = query<{ until: string; at: number }>(
    files.db,
    `SELECT json_extract(s.detail, '$.until') AS until, w.at AS at FROM journal s
     JOIN journal w ON w.instance = s.instance AND w.node = s.node AND w.visit = s.visit AND w.outcome = 'woke'
     WHERE s.outcome = 'sleeping'`,
  );
  const lateness = wakes.map((row) => row.at - Date.parse(row.until)).sort((a, b) => a - b);
  const p50 = percentile(lateness, 0.5);
  const p99 = percentile(lateness, 0.99);
  const othersFinishedAt = query<{ at: number }>(files.db, "SELECT MAX(at) AS at FROM journal WHERE outcome = 'ended'")[0]!.at;
  const failure = query<{ name: string | null; at: number }>(
    files.db,
    `SELECT json_extract(i.snapshot, '$.error.name') AS name, (SELECT MAX(at) FROM journal j WHERE j.instance = i.seq AND j.outcome IN ('failed', 'dead-letter')) AS at
     FROM instances i WHERE i.id = ?`,
    hungId,
  )[0]!;
  const ranFor = claimedAt === null ? NaN : (failure.at - claimedAt) / 1000;
  const once = eachStepOnce(files, others, HUNG_STEPS);
  const timeoutOk = timedOut && failure.name === 'laneflow.Timeout' && ranFor >= STEP_TIMEOUT_S - 0.05 && ranFor <= STEP_TIMEOUT_S + 2;

  // A stop with a hung step in hand: the worker waits the drain time, lets the step go, exits 0.
  const [stuckId = ''] = await startInstances(files.db, HUNG.flow, HUNG.bindings, [{ hang: true }]);
  const second = worker(files, ['--step-timeout', '1h', '--drain', `${DRAIN_S}s`], env);
  await isUp(second);
  const claimed = await until(() => query(files.db, 'SELECT 1 FROM instances WHERE id = ? AND lease_owner IS NOT NULL', stuckId).length > 0, DEADLINE_MS);
  const stopping = Date.now();
  second.kill('SIGTERM');
  const secondExit = await second.exited;
  const stopSeconds = (Date.now() - stopping) / 1000;
  const letGo = second.log().includes(`1 step still running after ${DRAIN_S}s let go to another worker`);
  const stillHeld = query(files.db, 'SELECT 1 FROM instances WHERE id = ? AND lease_owner IS NOT NULL', stuckId).length;

  return [
    {
      check: `a hung step among ${TIMER_INSTANCES} instances with 1 s timers, --step-timeout ${STEP_TIMEOUT_S}s`,
      cases: TIMER_INSTANCES,
      faults: 1,
      lost: once.lost + (timedOut ? 0 : 1),
      duplicates: once.duplicates + once.gateway.reruns,
      ok: othersDone && othersFinishedAt < failure.at && lateness.length === others.length && p99 <= LATENESS_P99_MS && timeoutOk && firstExit === 0 && once.lost === 0 && once.duplicates + once.gateway.reruns === 0,
      note:
        `the other ${others.length} completed while it hung (the last ${((failure.at - othersFinishedAt) / 1000).toFixed(1)} s before it timed out); ` +
        `timer lateness p50 ${p50} ms, p99 ${p99} ms, max ${lateness.at(-1)} ms (${lateness.length} timers); ` +
        `the hung step failed with ${failure.name} after ${ranFor.toFixed(2)} s${once.problems}`,
    },
    {
      check: `SIGTERM with a hung step in hand, --drain ${DRAIN_S}s`,
      cases: 1,
      faults: 1,
      lost: claimed && stillHeld === 0 ? 0 : 1,
      duplicates: 0,
      ok: claimed && secondExit === 0 && letGo && stillHeld === 0 && stopSeconds <= DRAIN_S + LET_GO_MS / 1000,
      note: `worker exited ${secondExit} ${stopSeconds.toFixed(2)} s after SIGTERM, its lease let go${letGo ? ' and logged' : ' (NOT logged)'}; ${stillHeld} instances still held`,
    },
  ];
}

/** 4. The code of a binding module changes while 100 instances sleep; `laneflow upgrade` moves them. */
async function changedCode(folder: string): Promise<ReliabilityRow[]> {
  const project = `${folder}/changed/`;
  const code = writeMarkerProject(project, SLEEP_MS);
  // The gateway module imports better-sqlite3, which a folder outside the repository finds here.
  symlinkSync(`${repoRoot}node_modules`, `${project}node_modules`, 'dir');
  const files = freshFiles(`${folder}/`, 'changed');
  const ids = await startInstances(files.db, code.flow, code.bindings, Array.from({ length: SLEEPING_INSTANCES }, () => ({})));
  const oldVersion = query<{ machine: string }>(files.db, 'SELECT DISTINCT machine FROM instances')[0]!.machine;

  // The old code runs them up to their timers; then it stops, and the code they import changes.
  const first = worker(files);
  const asleep = await until(() => query(files.db, "SELECT 1 FROM journal WHERE outcome = 'sleeping'").length === ids.length, DEADLINE_MS);
  first.kill('SIGTERM');
  await first.exited;
  code.changeCode();
  const changedAt = Date.now();
  const wokeBefore = query(files.db, "SELECT 1 FROM journal WHERE outcome = 'woke'").length;

  // A worker with the new code starts; the timers come due and pass while it runs.
  const second = worker(files);
  await isUp(second);
  const lastDue = query<{ due: string }>(files.db, "SELECT MAX(json_extract(detail, '$.until')) AS due FROM journal WHERE outcome = 'sleeping'")[0]!.due;
  const watchUntil = Date.parse(lastDue) + 1500;
  const refused = await until(() => Date.now() >= watchUntil && second.log().includes(`instances of version ${oldVersion} wait for a worker with their code`), DEADLINE_MS);
  const versions = JSON.parse(laneflow(['versions', '--db', files.db, '--json']).stdout) as { versions: { version: string; due: number; workers: string[] }[] };
  const waiting = versions.versions.find((v) => v.version === oldVersion);
  const newCodeRows = query<{ n: number }>(files.db, "SELECT COUNT(*) AS n FROM journal WHERE at >= ? AND outcome IN ('woke', 'completed')", changedAt)[0]!.n;
  const newCodeCalls = query<{ n: number }>(files.gateway, 'SELECT COUNT(*) AS n FROM calls WHERE at >= ?', changedAt)[0]!.n;

  const upgrading = Date.now();
  const upgrade = laneflow(['upgrade', '--from', oldVersion, '--db', files.db]);
  const moved = upgrade.status === 0 && upgrade.stdout.includes(`${ids.length} of ${ids.length} instances moved to`);
  const finished = await until(() => completedCount(files.db) === ids.length, DEADLINE_MS);
  const afterUpgrade = (Date.now() - upgrading) / 1000;
  second.kill('SIGTERM');
  const exit = await second.exited;
  const codes = query<{ code: string | null }>(files.db, "SELECT json_extract(snapshot, '$.data.code') AS code FROM instances");
  const onNewCode = codes.filter((c) => c.code === 'new code').length;
  const once = eachStepOnce(files, ids, HUNG_STEPS);
  const duplicates = once.duplicates + once.gateway.reruns;
  return [
    {
      check: `binding module changed while ${ids.length} instances sleep (${SLEEP_MS / 1000} s timers), then laneflow upgrade`,
      cases: ids.length,
      faults: 1,
      lost: once.lost,
      duplicates,
      ok:
        asleep && wokeBefore === 0 && refused && newCodeRows === 0 && newCodeCalls === 0 && waiting?.due === ids.length && waiting.workers.length === 0 &&
        moved && finished && onNewCode === ids.length && exit === 0 && once.lost === 0 && duplicates === 0,
      note:
        `${newCodeRows + newCodeCalls} steps run by the new code (${newCodeRows} journal rows, ${newCodeCalls} gateway calls) in the ${((upgrading - changedAt) / 1000).toFixed(1)} s ` +
        `between the change and the upgrade, when every timer was ${((upgrading - Date.parse(lastDue)) / 1000).toFixed(1)} s overdue or more; ` +
        `laneflow versions: ${waiting?.due ?? 0} due, ${waiting?.workers.length ?? 0} live workers with the code; ` +
        `upgrade ${moved ? 'moved all' : `FAILED: ${upgrade.stdout.trim().split('\n').at(-1)} ${upgrade.stderr.trim()}`}; ` +
        `${onNewCode} completed on the new code ${afterUpgrade.toFixed(1)} s after it, ${once.gateway.calls} gateway calls for ${once.gateway.keys} keys${once.problems}`,
    },
  ];
}

function worker(files: Files, args: string[] = [], env: Record<string, string> = {}): WorkerProcess {
  return spawnWorker(files.db, args, { LANEFLOW_TEST_GATEWAY: files.gateway, ...env });
}

/** Whether the worker said it runs (it takes SIGTERM from then on) before it exited or 20 s passed. */
function isUp(child: WorkerProcess): Promise<boolean> {
  return Promise.race([
    child.ready.then(() => true),
    child.exited.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20_000).unref()),
  ]);
}

/** The worker's process id, from its first log line ("laneflow worker <pid>: running due work…"). */
function pidOf(child: WorkerProcess): string {
  return /laneflow worker (\d+):/.exec(child.log())?.[1] ?? 'unknown';
}

/** Polls `condition` every 50 ms for at most `timeoutMs`; whether it came true. */
async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** The value at `share` of a sorted list (nearest rank). */
function percentile(sorted: readonly number[], share: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)] ?? NaN;
}

interface StepsOnce {
  /** Instances not completed, and expected effects missing from the outbox or the gateway. */
  lost: number;
  /** Steps committed twice, outbox rows and gateway effects that no step's first visit explains, counts in the data other than 1. */
  duplicates: number;
  committed: number;
  journalTwice: number;
  outboxExtra: number;
  gateway: { calls: number; keys: number; reruns: number; twiceInOneProcess: number };
  /** What went wrong, for the note ('' when nothing did). */
  problems: string;
}

/** Whether every instance completed with each step's outcome journaled once and its effect recorded once, in the outbox and at the gateway. */
function eachStepOnce(files: Files, ids: readonly string[], steps: readonly string[]): StepsOnce {
  const idList = JSON.stringify(ids);
  const inIds = 'IN (SELECT value FROM json_each(?))';
  const notCompleted = query<{ n: number }>(files.db, `SELECT COUNT(*) AS n FROM instances WHERE id ${inIds} AND status != 'completed'`, idList)[0]!.n;
  const instanceSeqs = `instance IN (SELECT seq FROM instances WHERE id ${inIds})`;
  const committed = query<{ n: number }>(files.db, `SELECT COUNT(*) AS n FROM journal WHERE ${instanceSeqs} AND outcome = 'completed'`, idList)[0]!.n;
  const journalTwice = query<{ n: number }>(
    files.db,
    `SELECT COUNT(*) AS n FROM (SELECT 1 FROM journal WHERE ${instanceSeqs} AND outcome IN ('completed', 'decided', 'ended') GROUP BY instance, node, visit, token HAVING COUNT(*) > 1)`,
    idList,
  )[0]!.n;
  const expected = new Set(ids.flatMap((id) => steps.map((node) => `${id}:${node}:1`)));
  const outbox = query<{ key: string }>(files.db, `SELECT key FROM outbox WHERE ${instanceSeqs}`, idList).map((r) => r.key.replace(/:effect$/, ''));
  const ours = (key: string) => ids.some((id) => key.startsWith(`${id}:`));
  const effects = query<{ key: string }>(files.gateway, 'SELECT key FROM effects').map((r) => r.key).filter(ours);
  const calls = query<{ key: string; pid: number }>(files.gateway, 'SELECT key, pid FROM calls').filter((call) => ours(call.key));
  const missing = (keys: readonly string[]) => {
    const present = new Set(keys);
    return [...expected].filter((key) => !present.has(key)).length;
  };
  const extra = (keys: readonly string[]) => keys.filter((key) => !expected.has(key)).length;
  const outboxLost = missing(outbox);
  const outboxExtra = extra(outbox);
  const effectsLost = missing(effects);
  const effectsExtra = extra(effects);
  const keys = new Set(calls.map((call) => call.key)).size;
  const twiceInOneProcess = calls.length - new Set(calls.map((call) => `${call.key} ${call.pid}`)).size;
  const dataNotOnce = query<{ data: string }>(files.db, `SELECT json_extract(snapshot, '$.data') AS data FROM instances WHERE id ${inIds}`, idList).filter(({ data }) =>
    steps.some((node) => (JSON.parse(data) as Record<string, unknown>)[node] !== 1),
  ).length;
  const problems = [
    notCompleted > 0 && `${notCompleted} not completed`,
    outboxLost > 0 && `${outboxLost} effects missing from the outbox`,
    effectsLost > 0 && `${effectsLost} missing at the gateway`,
    effectsExtra > 0 && `${effectsExtra} gateway effects under keys of no first visit`,
    dataNotOnce > 0 && `${dataNotOnce} instances whose data counts a step other than once`,
  ].filter((problem): problem is string => problem !== false);
  return {
    lost: notCompleted + outboxLost + effectsLost,
    duplicates: journalTwice + outboxExtra + effectsExtra + dataNotOnce,
    committed,
    journalTwice,
    outboxExtra,
    gateway: { calls: calls.length, keys, reruns: calls.length - keys, twiceInOneProcess },
    problems: problems.length === 0 ? '' : `; ${problems.join(', ')}`,
  };
}
