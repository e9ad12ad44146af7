// Webhook deliveries per second from the sender to a real receiver in a child process over
// 127.0.0.1: signing, HTTP on kept-alive connections, the sender's SQLite journal (delivery row,
// claim, attempt record) and the receiver's verification and dedup table. Beside it, the same
// number of plain unsigned POSTs with no journal through the same HTTP client: the ceiling.
import Database from 'better-sqlite3';
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createHttpPoster } from '../src/runtime/packs/webhook/http-post';
import {
  createWebhookReceiver,
  createWebhookSender,
  generateSecret,
  type ReceiverMetrics,
  type WebhookSender,
} from '../src/runtime/packs/webhook';
import type { Bench, BenchRow } from './table';
import { median } from './measure';

const DELIVERIES = 5000;
const WARMUP = 500;
const IN_FLIGHT = 64;
const ROUNDS = 3;
const FAILURE_SHARE = 0.2;
const TARGET_PER_SECOND = 2000;
const CHILD_FLAG = 'LANEFLOW_WEBHOOK_BENCH_CHILD';

interface ChildReady {
  port: number;
}
type ChildRequest = { kind: 'metrics' } | { kind: 'stop' };
interface ChildMetrics {
  receiver: ReceiverMetrics;
  injected: number;
}

const payload = {
  invoice: 'in_1PqR2s3T4u5V6w7X',
  customer: 'cus_Q1w2E3r4T5y6',
  amount: 12_900,
  currency: 'eur',
  lines: [
    { description: 'Pro plan, monthly', amount: 12_000 },
    { description: 'Extra seats x3', amount: 900 },
  ],
};

const webhookBench: Bench = async () => {
  const folder = mkdtempSync(join(tmpdir(), 'laneflow-webhook-bench-'));
  const secret = generateSecret();
  const child = await startChild(join(folder, 'receiver.db'), secret);
  const db = new Database(join(folder, 'sender.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  let virtualNow = Date.now();
  // The failure run's retries are due 5 s later on this clock, which the bench moves by hand.
  const clock = { now: () => virtualNow };
  const sender = createWebhookSender({ db, clock, maxSockets: IN_FLIGHT, concurrency: IN_FLIGHT });
  const base = `http://127.0.0.1:${child.port}`;
  try {
    sender.registerEndpoint({ id: 'steady', url: `${base}/hooks`, secret });
    sender.registerEndpoint({ id: 'flaky', url: `${base}/flaky`, secret });

    await sendAll(sender, 'warmup', 'steady', WARMUP);
    const delivered = (prefix: string) =>
      (db.prepare(`SELECT count(*) AS n FROM webhook_deliveries WHERE id LIKE ? AND status = 'delivered'`).get(`${prefix}-%`) as { n: number }).n;

    // Rounds alternate the three measures so that a burst of load from elsewhere on the machine
    // hits them alike; each is reported as its median round.
    const plainRates: number[] = [];
    const steadyRates: number[] = [];
    const flakyRates: number[] = [];
    let retried = 0;
    let allDelivered = true;
    for (let round = 0; round < ROUNDS; round++) {
      plainRates.push((DELIVERIES / (await plainPosts(`${base}/plain`, DELIVERIES))) * 1000);

      const steadyStart = performance.now();
      await sendAll(sender, `steady${round}`, 'steady', DELIVERIES);
      steadyRates.push((delivered(`steady${round}`) / (performance.now() - steadyStart)) * 1000);

      const flakyStart = performance.now();
      await sendAll(sender, `flaky${round}`, 'flaky', DELIVERIES);
      for (let due = sender.nextDueAt(); due !== undefined; due = sender.nextDueAt()) {
        virtualNow = due;
        retried += (await sender.deliverDue(DELIVERIES)).length;
      }
      flakyRates.push((delivered(`flaky${round}`) / (performance.now() - flakyStart)) * 1000);
      allDelivered &&= delivered(`steady${round}`) === DELIVERIES && delivered(`flaky${round}`) === DELIVERIES;
    }

    const attemptRows = (db.prepare('SELECT count(*) AS n FROM webhook_attempts').get() as { n: number }).n;
    const latencies = (
      db.prepare(`SELECT latency_ms AS ms FROM webhook_attempts WHERE delivery LIKE 'steady%' ORDER BY ms`).all() as { ms: number }[]
    ).map((r) => r.ms);
    const metrics = await child.metrics();

    const steadyRate = median(steadyRates);
    const flakyRate = median(flakyRates);
    const plainRate = median(plainRates);
    const peer = 'plain unsigned POST, no journal (same client)';
    const rows: BenchRow[] = [
      {
        measure: `signed deliveries/s, ${DELIVERIES.toLocaleString('en')} to a receiver in a child process (median of ${ROUNDS})`,
        laneflow: perSecond(steadyRate),
        peer,
        peerValue: perSecond(plainRate),
        target: `>= ${TARGET_PER_SECOND.toLocaleString('en')}/s`,
        met: steadyRate >= TARGET_PER_SECOND && allDelivered,
      },
      {
        measure: `signed deliveries/s, ${FAILURE_SHARE * 100}% first attempts answered 503 and retried (median of ${ROUNDS})`,
        laneflow: perSecond(flakyRate),
        peer,
        peerValue: perSecond(plainRate),
        target: `>= ${TARGET_PER_SECOND.toLocaleString('en')}/s`,
        met: flakyRate >= TARGET_PER_SECOND && allDelivered,
      },
      {
        measure: '  wall time per delivery, signed + journaled vs plain',
        laneflow: `${microseconds(1 / steadyRate)} vs ${microseconds(1 / plainRate)}`,
      },
      {
        measure: '  attempt latency p50 / p99 (no failures)',
        laneflow: `${percentile(latencies, 0.5).toFixed(2)} / ${percentile(latencies, 0.99).toFixed(2)} ms`,
      },
    ];
    const notes = [
      `Each round: ${DELIVERIES} deliveries per measure, ${IN_FLIGHT} in flight, after ${WARMUP} warm-up deliveries; body ${JSON.stringify(payload).length} B of data in the envelope. ` +
        `Each delivery writes its row, claims it and records its attempt in SQLite (WAL, synchronous=NORMAL); the receiver verifies the ` +
        `Standard Webhooks signature, parses JSON and inserts into its dedup table before answering 200.`,
      `Failure runs: the child answered 503 to ${metrics.injected} first attempts; the sender scheduled them 5 s later on its virtual clock, ` +
        `which the bench then moved forward: ${retried} retries, ${allDelivered ? 'every delivery delivered' : 'SOME DELIVERIES NOT DELIVERED'}. ` +
        `${attemptRows} attempts recorded in all, warm-up included. All rates include the time to commit each attempt's record.`,
      `Receiver counters: accepted ${metrics.receiver.accepted}, duplicate ${metrics.receiver.duplicate}, bad_signature ${metrics.receiver.bad_signature}, ` +
        `processed ${metrics.receiver.processed} (its onEvent is a no-op here).`,
      'Sender and peer run in the bench process, the receiver in its own; both share the machine with whatever else runs on it.',
    ];
    return { title: 'Webhook delivery (signing + HTTP + journal)', rows, notes };
  } finally {
    sender.close();
    db.close();
    await child.stop();
    rmSync(folder, { recursive: true, force: true });
  }
};

/** Sends `count` deliveries with `IN_FLIGHT` at once. */
async function sendAll(sender: WebhookSender, prefix: string, endpoint: string, count: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      await sender.send({ key: `${prefix}-${index}`, endpoint, type: 'invoice.paid', payload });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

/** The ceiling: the same client and concurrency, no signature, no SQLite. */
async function plainPosts(url: string, count: number): Promise<number> {
  const poster = createHttpPoster({ maxSockets: IN_FLIGHT });
  const body = JSON.stringify({ id: 'plain', type: 'invoice.paid', timestamp: new Date().toISOString(), data: payload });
  const target = new URL(url);
  const headers = { 'content-type': 'application/json' };
  try {
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      while (next++ < count) {
        const result = await poster.post(target, headers, body, 15_000);
        if (result.statusCode !== 200) throw new Error(`plain POST failed: ${result.statusCode ?? result.error}`);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    return performance.now() - started;
  } finally {
    poster.close();
  }
}

async function startChild(dbPath: string, secret: string) {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, [CHILD_FLAG]: JSON.stringify({ dbPath, secret }) },
    execArgv: process.execArgv,
  });
  const ready = await new Promise<ChildReady>((resolve, reject) => {
    child.once('message', (message) => resolve(message as ChildReady));
    child.once('exit', (code) => reject(new Error(`the receiver process exited with ${code}`)));
  });
  const ask = <T>(request: ChildRequest) =>
    new Promise<T>((resolve) => {
      child.once('message', (message) => resolve(message as T));
      child.send(request);
    });
  return {
    port: ready.port,
    metrics: () => ask<ChildMetrics>({ kind: 'metrics' }),
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ kind: 'stop' });
      await exited;
    },
  };
}

/**
 * The receiver process: the real receiver on `/hooks` and `/flaky`, where a share of first
 * attempts gets a 503 before the receiver sees them, and a bare 200 on `/plain` for the peer.
 */
async function runChild(config: { dbPath: string; secret: string }): Promise<void> {
  const db = new Database(config.dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const receiver = createWebhookReceiver({ db, secretsFor: () => [config.secret], onEvent: () => undefined });
  const failed = new Set<string>();
  const server = http.createServer((request, response) => {
    if (request.url === '/plain') {
      request.resume();
      request.on('end', () => response.end('ok'));
      return;
    }
    const id = String(request.headers['webhook-id']);
    if (request.url === '/flaky' && !failed.has(id) && selectedForFailure(id)) {
      failed.add(id);
      request.resume();
      request.on('end', () => {
        response.statusCode = 503;
        response.end();
      });
      return;
    }
    receiver.handle(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send!({ port: (server.address() as AddressInfo).port } satisfies ChildReady);
  process.on('message', async (message: ChildRequest) => {
    if (message.kind === 'metrics') {
      await receiver.idle();
      process.send!({ receiver: receiver.metrics(), injected: failed.size } satisfies ChildMetrics);
      return;
    }
    await receiver.idle();
    server.closeAllConnections();
    server.close(() => {
      db.close();
      process.exit(0);
    });
  });
}

/** Every fifth delivery by its number: 20%, the same ones every run. */
function selectedForFailure(id: string): boolean {
  return Number(id.split('-').pop()) % Math.round(1 / FAILURE_SHARE) === 0;
}


function percentile(sorted: number[], share: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? 0;
}

function microseconds(seconds: number): string {
  return `${Math.round(seconds * 1e6)} µs`;
}

function perSecond(rate: number): string {
  return `${Math.round(rate).toLocaleString('en')}/s`;
}

const childConfig = process.env[CHILD_FLAG];
if (childConfig !== undefined) await runChild(JSON.parse(childConfig) as { dbPath: string; secret: string });

export default webhookBench;
