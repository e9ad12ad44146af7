// payment-failure-recovery.flow in real worker processes (`node bin/laneflow.js worker`, built by
// `npm test` first) on one SQLite file, with a real SMTP server: workers are SIGKILLed mid-run,
// then two finish the work together. Every charge happens once per key; every email is queued
// once per key and received at least once, deduplicated by Message-ID (test/helpers/email-delivery.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/runtime/engine';
import { atLeastOnceByMessageId, emailDelivery } from '../helpers/email-delivery';
import { completedCount, killWorkers, query, spawnWorker, type WorkerProcess } from '../helpers/worker';
import { type SmtpSink, startSmtpSink } from '../packs/billing/helpers';
import { BINDINGS, billingEnv, dueSubscriptions, freshDb, gatewayCharges, recoveryFlow, SECONDS_SCHEDULE } from './payment-failure-recovery.helpers';

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(async () => {
  killWorkers();
  await sink.stop();
});


function worker(db: string): WorkerProcess {
  // Seconds for the schedule's hours, and a short claim on an email, which a worker killed while sending leaves behind.
  return spawnWorker(db, ['--batch', '10', '--lease', '1000', '--poll', '50'], {
    ...billingEnv(sink.port),
    LANEFLOW_BILLING_DUNNING_SCHEDULE: SECONDS_SCHEDULE,
    LANEFLOW_BILLING_EMAIL_CLAIM: '3s',
  });
}


/** The charges each card's story makes after the setup, as node visits. */
const STORIES: Record<string, string[]> = {
  pm_sandbox_declineFirst2_insufficient_funds: ['n4:1', 'n9:1', 'n9:2'],
  pm_card_chargeDeclinedStolenCard: ['n4:1'],
  pm_card_chargeDeclinedInsufficientFunds: ['n4:1', 'n9:1', 'n9:2', 'n9:3', 'n9:4'],
  pm_card_chargeDeclinedExpiredCard: ['n4:1', 'n9:1', 'n9:2', 'n9:3'],
};

describe('payment-failure-recovery.flow in worker processes', () => {
  it('survives kill -9 mid-run: after the restart every charge happened once per key, every email at least once under its own Message-ID', async () => {
    const path = freshDb('recovery-processes');
    const cards = Object.keys(STORIES);
    const due = await dueSubscriptions(path, Array.from({ length: 16 }, (_, i) => ({ name: `crash${i}`, card: cards[i % cards.length]! })));
    const engine = new Engine({ db: path });
    let ids: string[];
    try {
      const { machine } = await engine.deployModule(recoveryFlow(), BINDINGS);
      ids = engine.startMany(machine!.version, due.map((subscription) => ({ input: { subscriptionId: subscription.subscriptionId } })));
    } finally {
      engine.close();
    }

    let kills = 0;
    let killedMidRun = 0;
    for (const delay of [1000, 2000, 3000]) {
      const child = worker(path);
      await child.ready;
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill('SIGKILL');
      await child.exited;
      kills++;
      const done = completedCount(path);
      if (done > 0 && done < ids.length) killedMidRun++;
    }
    expect(killedMidRun).toBeGreaterThan(0);

    const finishers = [worker(path), worker(path)];
    const deadline = Date.now() + 60_000;
    while (completedCount(path) < ids.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    await Promise.all(finishers.map((finisher) => finisher.ready));
    for (const finisher of finishers) finisher.kill('SIGTERM');
    expect(await Promise.all(finishers.map((finisher) => finisher.exited))).toEqual([0, 0]);
    expect(query(path, "SELECT id, status FROM instances WHERE status != 'completed'")).toEqual([]);

    // Every step committed once, whatever the kills re-ran.
    expect(query(path, "SELECT instance, node, visit FROM journal WHERE outcome IN ('completed', 'decided') GROUP BY instance, node, visit, token HAVING COUNT(*) > 1")).toEqual([]);

    const emails = query<{ idempotency_key: string; status: string; message_id: string; to_address: string; attempts: number }>(
      path,
      'SELECT idempotency_key, status, message_id, to_address, attempts FROM billing_email_outbox ORDER BY id',
    );
    await sink.waitFor(emails.length, 10_000);
    for (const [i, subscription] of due.entries()) {
      const id = ids[i]!;
      const visits = STORIES[subscription.card]!;
      // The gateway charged each visit of the story once, and nothing else.
      const charges = gatewayCharges(path, subscription.customerId).filter((charge) => !charge.key.startsWith('setup:'));
      expect(charges.map((charge) => charge.key), subscription.name).toEqual(visits.map((visit) => `${id}:${visit}:charge`));
      // One email per charge, queued under the charge's key and sent.
      const mine = emails.filter((email) => email.to_address === `${subscription.name}@example.test`);
      expect(mine.map((email) => `${email.idempotency_key} ${email.status}`)).toEqual(visits.map((visit) => `${id}:${visit}:email sent`));
      // The SMTP server got each of them; a kill between the send and its commit may send one again, with the same Message-ID.
      const received = sink.received.filter((message) => message.to.includes(`${subscription.name}@example.test`));
      expect(new Set(received.map((message) => message.messageId))).toEqual(new Set(mine.map((email) => email.message_id)));
    }
    // At least once, deduplicated by Message-ID: every row received, no Message-ID shared by two
    // rows or unknown, every copy the same email, and no row received more often than it was
    // claimed (a copy only after a claim ran out). How many copies came again is not bounded by
    // the kills: a sender stalled past its claim (a busy write lock) lets another send it too.
    const delivery = emailDelivery(emails, sink.received);
    expect({ ...delivery, resent: 0 }).toEqual({ unreceived: 0, sharedIds: 0, strangers: 0, beyondClaims: 0, differingCopies: 0, resent: 0, distinctReceived: emails.length });
    expect(atLeastOnceByMessageId(delivery)).toBe(true);
    console.log(`${sink.received.length} messages for ${emails.length} emails after ${kills} kills: ${delivery.resent} sent again under their Message-ID`);
  }, 90_000);
});
