// Crash and concurrency: payment-failure-recovery.flow instances on one SQLite file, run by two
// `laneflow worker` processes that are SIGKILLed again and again at seeded times (and started
// again), with a real SMTP server. Afterwards: every instance completed, every charge happened
// once per idempotency key, every email was queued once per key and received at least once under
// a Message-ID of its own (a kill between the SMTP send and its commit sends it again, the same
// message under the same Message-ID: see test/helpers/email-delivery.ts), and every instance's
// journal replays, through the pure core, to the snapshot the store holds.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { seededRandom } from '../src/runtime/backoff';
import { Engine } from '../src/runtime/engine';
import { PAYMENT_METHOD_UPDATED } from '../src/runtime/packs/billing/handlers';
import { openBillingService } from '../src/runtime/packs/billing/pack-services';
import { replay, snapshotDifferences } from '../src/runtime/replay';
import { BINDINGS, billingEnv, dueSubscriptions, recoveryFlow } from '../test/flows/payment-failure-recovery.helpers';
import { startSmtpSink } from '../test/packs/billing/helpers';
import { atLeastOnceByMessageId, emailDelivery } from '../test/helpers/email-delivery';
import type { ReliabilityRow, ReliabilitySection } from './table';

const INSTANCES = Number(process.env['LANEFLOW_CRASH_INSTANCES'] ?? 1000);
const WORKERS = 2;
const SEED = 7;
/** Kills land this far apart (seeded within the range), until all are done or MAX_KILLS is reached. */
const KILL_EVERY_MS: [number, number] = [1_500, 4_000];
const MAX_KILLS = 12;
const LEASE_MS = 2_000;
const DEADLINE_MS = 165_000;

/**
 * Seconds for the schedule's hours. An expired card waits up to 60 s at its second visit of
 * "Update card via signed link": long enough for this check to attach a new card and signal.
 */
const SCHEDULE = JSON.stringify({
  soft_decline: { intervals: ['0s', '1s', '2s', '3s'], max_attempts: 4, on_exhausted: 'cancel' },
  hard_decline: { intervals: [], max_attempts: 0, on_exhausted: 'mark_unpaid' },
  expired_method: { intervals: ['0s', '60s', '60s'], max_attempts: 3, fallback: 'request_update_via_portal', on_exhausted: 'mark_unpaid' },
});

/** The mix of renewals: the card on file decides each one's story. */
const CARDS = [
  'pm_card_visa', // pays at renewal
  'pm_sandbox_declineFirst2_insufficient_funds', // soft declines, recovered on the second retry
  'pm_card_chargeDeclinedInsufficientFunds', // soft declines until the retries run out
  'pm_card_chargeDeclinedStolenCard', // hard decline
  'pm_card_chargeDeclinedExpiredCard', // expired: the customer puts in a new card while the instance waits
];
const CHARGE_NODES = new Set(['n4', 'n9']);
/** Where each card's story must end: Renewed (n6), Recovered (n20) or Canceled or unpaid (n21). */
const EXPECTED_END: Record<string, string> = {
  pm_card_visa: 'n6',
  pm_sandbox_declineFirst2_insufficient_funds: 'n20',
  pm_card_chargeDeclinedInsufficientFunds: 'n21',
  pm_card_chargeDeclinedStolenCard: 'n21',
  pm_card_chargeDeclinedExpiredCard: 'n20',
};

interface Worker {
  child: ChildProcess;
  exited: Promise<void>;
}

export default async function crash(): Promise<ReliabilitySection> {
  const folder = mkdtempSync(join(tmpdir(), 'laneflow-crash-'));
  const path = join(folder, 'crash.db');
  const sink = await startSmtpSink();
  const workers = new Set<Worker>();
  const env = { ...process.env, ...billingEnv(sink.port), LANEFLOW_BILLING_DUNNING_SCHEDULE: SCHEDULE, LANEFLOW_BILLING_EMAIL_CLAIM: '3s' };
  const spawnWorker = (): Worker => {
    const child = spawn(process.execPath, ['bin/laneflow.js', 'worker', '--db', path, '--lease', String(LEASE_MS), '--batch', '50', '--poll', '100'], {
      env,
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    const worker: Worker = { child, exited: new Promise((resolve) => child.once('exit', () => resolve())) };
    workers.add(worker);
    void worker.exited.then(() => workers.delete(worker));
    return worker;
  };

  try {
    const setupStarted = Date.now();
    const due = await dueSubscriptions(
      path,
      Array.from({ length: INSTANCES }, (_, i) => ({ name: `crash${i}`, card: CARDS[i % CARDS.length]! })),
    );
    const engine = new Engine({ db: path });
    const { machine } = await engine.deployModule(recoveryFlow(), BINDINGS);
    const inputs = due.map((subscription) => ({ subscriptionId: subscription.subscriptionId }));
    const ids = engine.startMany(machine!.version, inputs.map((input) => ({ input })));
    const setupSeconds = (Date.now() - setupStarted) / 1000;

    const reader = new Database(path, { readonly: true });
    reader.pragma('busy_timeout = 10000');
    const cardPage = new Database(path);
    cardPage.pragma('busy_timeout = 10000');
    const billing = openBillingService(cardPage, { now: () => Date.now() });
    const unfinished = reader.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM instances WHERE status != 'completed'");
    const customerOf = new Map(due.map((subscription, i) => [ids[i]!, subscription]));
    const expiredCards = ids.filter((id) => customerOf.get(id)!.card === 'pm_card_chargeDeclinedExpiredCard');
    const signalled = new Set<string>();
    /**
     * The customer opens the emailed link as soon as the renewal is declined: a new card goes
     * on file and the instance is told. A signal that comes before the instance waits for it is
     * kept and handed over when it does (SEMANTICS.md), so the update does not depend on this
     * loop catching the instance inside its wait window, which a loaded machine made a race.
     */
    const updateCards = async () => {
      for (const id of expiredCards) {
        if (signalled.has(id)) continue;
        const subscription = customerOf.get(id)!;
        if (billing.dunningCase(subscription.subscriptionId) === null) continue;
        const card = await billing.attachPaymentMethod(subscription.customerId, 'pm_card_visa', `crash:${subscription.name}:new-card`);
        engine.signal(id, PAYMENT_METHOD_UPDATED, { paymentMethodId: card.id });
        signalled.add(id);
      }
    };

    // Two workers; one of them, picked at a seeded time and by a seeded draw, is killed and replaced.
    const random = seededRandom(SEED);
    const started = Date.now();
    for (let i = 0; i < WORKERS; i++) spawnWorker();
    let kills = 0;
    let killedMidRun = 0;
    let nextKill = started + KILL_EVERY_MS[0] + random() * (KILL_EVERY_MS[1] - KILL_EVERY_MS[0]);
    while (unfinished.get()!.n > 0 && Date.now() - started < DEADLINE_MS) {
      await updateCards();
      if (kills < MAX_KILLS && Date.now() >= nextKill) {
        const running = [...workers];
        const victim = running[Math.floor(random() * running.length)]!;
        victim.child.kill('SIGKILL');
        await victim.exited;
        kills++;
        const left = unfinished.get()!.n;
        if (left > 0 && left < INSTANCES) killedMidRun++;
        spawnWorker();
        nextKill = Date.now() + KILL_EVERY_MS[0] + random() * (KILL_EVERY_MS[1] - KILL_EVERY_MS[0]);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const runSeconds = (Date.now() - started) / 1000;
    for (const worker of workers) worker.child.kill('SIGTERM');
    await Promise.all([...workers].map((worker) => worker.exited));

    // What the store holds, read after every worker has stopped.
    const statuses = reader.prepare<[], { id: string; status: string; wake_at: number | null; lease_owner: string | null }>('SELECT id, status, wake_at, lease_owner FROM instances').all();
    const notCompleted = statuses.filter((row) => row.status !== 'completed').length;
    // Stuck: running with nothing that will ever wake it, or still claimed by a dead worker.
    const stuck = statuses.filter((row) => row.status === 'running' && (row.wake_at === null || row.lease_owner !== null)).length;
    const doubleCommits = reader
      .prepare<[], { n: number }>(
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM journal WHERE outcome IN ('completed', 'decided') GROUP BY instance, node, visit, token HAVING COUNT(*) > 1)",
      )
      .get()!.n;

    const charges = reader
      .prepare<[], { idempotency_key: string; customer_id: string; status: string }>("SELECT idempotency_key, customer_id, status FROM billing_sandbox_charges WHERE idempotency_key NOT LIKE 'setup:%'")
      .all();
    const chargesByKey = countBy(charges.map((charge) => charge.idempotency_key));
    const emails = reader
      .prepare<[], { idempotency_key: string; status: string; message_id: string; to_address: string; attempts: number }>(
        'SELECT idempotency_key, status, message_id, to_address, attempts FROM billing_email_outbox',
      )
      .all();
    const emailsByKey = countBy(emails.map((email) => email.idempotency_key));
    await sink.waitFor(emails.filter((email) => email.status === 'sent').length, 10_000).catch(() => undefined);

    // Each charge step's completed visit made exactly one charge under its key, and nothing else charged.
    const expectedCharges = new Set<string>();
    const expectedEmails = new Set<string>();
    let replayed = 0;
    const replayProblems: string[] = [];
    const stories = new Map<string, number>();
    let wrongEnds = 0;
    for (const [index, id] of ids.entries()) {
      const instance = engine.instance(id)!;
      // A renewal paid at once goes straight to "Renewed": its charge queues no email.
      const renewed = instance.journal.some((entry) => entry.node === 'n5' && entry.outcome === 'decided' && entry.detail?.['label'] === 'Yes');
      for (const entry of instance.journal) {
        if (entry.outcome !== 'completed' || !CHARGE_NODES.has(entry.node)) continue;
        expectedCharges.add(`${id}:${entry.node}:${entry.visit}:charge`);
        if (!(renewed && entry.node === 'n4')) expectedEmails.add(`${id}:${entry.node}:${entry.visit}:email`);
      }
      const ending = instance.journal.filter((entry) => entry.outcome === 'ended').map((entry) => entry.node).join('');
      if (ending !== EXPECTED_END[CARDS[index % CARDS.length]!]) wrongEnds++;
      const story = `${CARDS[index % CARDS.length]!.replace(/^pm_(card_|sandbox_)?/, '')}→${ending || instance.status}`;
      stories.set(story, (stories.get(story) ?? 0) + 1);
      const result = replay(engine.machine(instance.machine)!, instance.journal, { id, input: inputs[index]! });
      const differences = result.ok ? snapshotDifferences(result.snapshot, instance.snapshot) : [`row ${result.row}: ${result.reason}`];
      if (differences.length === 0) replayed++;
      else if (replayProblems.length < 3) replayProblems.push(`${id}: ${differences.join(', ')}`);
    }
    engine.close();
    reader.close();
    cardPage.close();

    const chargesLost = [...expectedCharges].filter((key) => !chargesByKey.has(key)).length;
    const chargesExtra = [...chargesByKey.keys()].filter((key) => !expectedCharges.has(key)).length;
    const chargesTwice = [...chargesByKey.values()].filter((n) => n > 1).length;
    const emailsLost = [...expectedEmails].filter((key) => !emailsByKey.has(key)).length;
    const emailsExtra = [...emailsByKey.keys()].filter((key) => !expectedEmails.has(key)).length;
    const emailsTwice = [...emailsByKey.values()].filter((n) => n > 1).length;
    const notMarkedSent = emails.filter((email) => email.status !== 'sent').length;
    const delivery = emailDelivery(emails, sink.received);
    const expiredCustomers = due.filter((subscription) => subscription.card === 'pm_card_chargeDeclinedExpiredCard').length;

    const rows: ReliabilityRow[] = [
      {
        check: `${INSTANCES.toLocaleString('en')} payment-recovery instances, ${WORKERS} workers, ${kills} SIGKILLs`,
        cases: INSTANCES,
        faults: kills,
        lost: notCompleted + stuck,
        duplicates: doubleCommits,
        ok: notCompleted === 0 && stuck === 0 && doubleCommits === 0 && killedMidRun > 0 && signalled.size === expiredCustomers && wrongEnds === 0,
        note:
          `${statuses.length - notCompleted} completed, ${stuck} stuck, ${doubleCommits} steps committed twice; ${killedMidRun} kills mid-run; ${wrongEnds} ended other than their card's story; ` +
          `${signalled.size}/${expiredCustomers} expired cards replaced after their decline; setup ${setupSeconds.toFixed(1)} s, run ${runSeconds.toFixed(1)} s; ` +
          [...stories.entries()].map(([story, n]) => `${story} ×${n}`).join(', '),
      },
      {
        check: 'charges exactly once per key',
        cases: expectedCharges.size,
        faults: kills,
        lost: chargesLost,
        duplicates: chargesTwice + chargesExtra,
        ok: chargesLost === 0 && chargesTwice === 0 && chargesExtra === 0 && expectedCharges.size > INSTANCES,
        note: `${charges.length} gateway charges for ${expectedCharges.size} completed charge steps; ${chargesExtra} under keys no completed step has`,
      },
      {
        // Duplicates here are outbox rows, not SMTP copies: a copy under the row's Message-ID is the
        // at-least-once the README states, so it counts in the note and fails nothing.
        check: 'emails once per key in the outbox, at least once over SMTP, deduplicated by Message-ID',
        cases: expectedEmails.size,
        faults: kills,
        lost: emailsLost + notMarkedSent + delivery.unreceived,
        duplicates: emailsTwice + emailsExtra + delivery.sharedIds + delivery.beyondClaims,
        ok:
          emailsLost === 0 && emailsTwice === 0 && emailsExtra === 0 && notMarkedSent === 0 && atLeastOnceByMessageId(delivery) && delivery.distinctReceived === expectedEmails.size,
        note:
          `${emails.length} outbox rows, ${emails.length - notMarkedSent} marked sent, ${emails.length - delivery.unreceived} received by the SMTP server ` +
          `(${sink.received.length} deliveries, ${delivery.distinctReceived} distinct Message-IDs, ${delivery.sharedIds} shared by two rows); ` +
          `${delivery.resent} copies again under the same Message-ID after a kill between the SMTP send and its commit, ${delivery.beyondClaims} rows received more often than claimed, ` +
          `${delivery.differingCopies} with differing copies; ${delivery.strangers} unknown messages`,
      },
      {
        check: 'journal replays to the stored state',
        cases: INSTANCES,
        faults: 0,
        lost: INSTANCES - replayed,
        duplicates: 0,
        ok: replayed === INSTANCES,
        note: replayProblems.length === 0 ? 'status, data, tokens, visits, loops and inbox equal for every instance' : replayProblems.join('; '),
      },
    ];
    return { title: 'crash', rows };
  } finally {
    for (const worker of workers) worker.child.kill('SIGKILL');
    await Promise.all([...workers].map((worker) => worker.exited));
    await sink.stop();
    rmSync(folder, { recursive: true, force: true });
  }
}

function countBy(keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}
