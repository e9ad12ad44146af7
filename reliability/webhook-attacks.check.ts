// Attacks on the webhook receiver, over real HTTP on 127.0.0.1: each must get its status,
// nothing it carries may be processed, and each must be counted in the receiver's metrics.
// Genuine events sent between the attacks must each be processed exactly once.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  createWebhookReceiver,
  generateSecret,
  signStandard,
  type ReceiverMetrics,
  type ReceiverOutcome,
} from '../src/runtime/packs/webhook/index';
import type { ReliabilityRow, ReliabilitySection } from './table';

const ROUNDS = 40;
const SLOW_ROUNDS = 5;
const BODY_TIMEOUT_MS = 300;

interface Attack {
  name: string;
  expect: { status: number; outcome: ReceiverOutcome };
  /** Sends one attack whose event id is `id`; resolves to the status the receiver answered. */
  send(url: string, id: string): Promise<number>;
  rounds: number;
}

export default async function webhookAttacks(): Promise<ReliabilitySection> {
  const db = new Database(join(mkdtempSync(join(tmpdir(), 'laneflow-attacks-')), 'receiver.db'));
  const current = generateSecret();
  const retired = generateSecret();
  const processed = new Map<string, number>();
  const receiver = createWebhookReceiver({
    db,
    secretsFor: () => [current],
    onEvent: (event) => void processed.set(event.id, (processed.get(event.id) ?? 0) + 1),
    bodyTimeoutMs: BODY_TIMEOUT_MS,
    maxBodyBytes: 64 * 1024,
  });
  const url = `${await receiver.listen(0)}/hooks`;
  const now = () => Math.floor(Date.now() / 1000);
  const body = (id: string) => JSON.stringify({ type: 'invoice.paid', id });
  const headers = (id: string, payload: string, options: { timestamp?: number; secret?: string; signature?: string } = {}) => {
    const timestamp = options.timestamp ?? now();
    return {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': options.signature ?? signStandard({ id, timestamp, body: payload }, options.secret ?? current),
    };
  };
  const post = async (id: string, payload: string, head: Record<string, string>) =>
    (await fetch(url, { method: 'POST', headers: head, body: payload })).status;
  const without = (head: Record<string, string>, key: string) => Object.fromEntries(Object.entries(head).filter(([k]) => k !== key));

  const attacks: Attack[] = [
    { name: 'forged signature', expect: { status: 401, outcome: 'bad_signature' }, rounds: ROUNDS, send: (_, id) => post(id, body(id), headers(id, body(id), { signature: `v1,${randomBytes(32).toString('base64')}` })) },
    { name: 'signature for another body', expect: { status: 401, outcome: 'bad_signature' }, rounds: ROUNDS, send: (_, id) => post(id, body(id).replace('paid', 'void'), headers(id, body(id))) },
    { name: 'timestamp 10 min in the past', expect: { status: 401, outcome: 'stale_timestamp' }, rounds: ROUNDS, send: (_, id) => post(id, body(id), headers(id, body(id), { timestamp: now() - 600 })) },
    { name: 'timestamp 10 min in the future', expect: { status: 401, outcome: 'stale_timestamp' }, rounds: ROUNDS, send: (_, id) => post(id, body(id), headers(id, body(id), { timestamp: now() + 600 })) },
    { name: 'missing webhook-signature', expect: { status: 400, outcome: 'missing_headers' }, rounds: ROUNDS, send: (_, id) => post(id, body(id), without(headers(id, body(id)), 'webhook-signature')) },
    { name: 'missing webhook-id', expect: { status: 400, outcome: 'missing_headers' }, rounds: ROUNDS, send: (_, id) => post(id, body(id), without(headers(id, body(id)), 'webhook-id')) },
    { name: 'missing webhook-timestamp', expect: { status: 400, outcome: 'missing_headers' }, rounds: ROUNDS, send: (_, id) => post(id, body(id), without(headers(id, body(id)), 'webhook-timestamp')) },
    { name: 'signed with a retired secret', expect: { status: 401, outcome: 'bad_signature' }, rounds: ROUNDS, send: (_, id) => post(id, body(id), headers(id, body(id), { secret: retired })) },
    { name: 'unknown signature version (v2)', expect: { status: 401, outcome: 'bad_signature' }, rounds: ROUNDS, send: (_, id) => post(id, body(id), headers(id, body(id), { signature: signStandard({ id, timestamp: now(), body: body(id) }, current).replace('v1,', 'v2,') })) },
    { name: 'malformed JSON, validly signed', expect: { status: 400, outcome: 'malformed_json' }, rounds: ROUNDS, send: (_, id) => post(id, '{"type": "invoice.paid",', headers(id, '{"type": "invoice.paid",')) },
    {
      name: 'huge body (1 MiB, declared)',
      expect: { status: 413, outcome: 'too_large' },
      rounds: ROUNDS,
      send: (_, id) => {
        const huge = JSON.stringify({ id, pad: 'x'.repeat(1024 * 1024) });
        return post(id, huge, headers(id, huge));
      },
    },
    { name: 'slow body (slowloris)', expect: { status: 408, outcome: 'timeout' }, rounds: SLOW_ROUNDS, send: (target, id) => slowPost(target, id, headers(id, body(id)), body(id)) },
  ];

  const rows: ReliabilityRow[] = [];
  const before = { ...receiver.metrics() };
  let genuine = 0;
  const sendGenuine = async () => {
    const id = `evt_genuine_${genuine++}`;
    const payload = body(id);
    const status = await post(id, payload, headers(id, payload));
    if (status !== 200) throw new Error(`a genuine event got ${status}`);
  };

  for (const attack of attacks) {
    const counted = receiver.metrics()[attack.expect.outcome];
    let wrong = 0;
    const ids: string[] = [];
    for (let round = 0; round < attack.rounds; round++) {
      const id = `evt_${attack.name.replace(/\W+/g, '_')}_${round}`;
      ids.push(id);
      const status = await attack.send(url, id);
      if (status !== attack.expect.status) wrong++;
      await sendGenuine();
    }
    await receiver.idle();
    const leaked = ids.filter((id) => processed.has(id)).length;
    const countedNow = receiver.metrics()[attack.expect.outcome] - counted;
    rows.push({
      check: `webhook: ${attack.name}`,
      cases: attack.rounds,
      faults: attack.rounds,
      lost: 0,
      duplicates: 0,
      ok: wrong === 0 && leaked === 0 && countedNow === attack.rounds,
      note: `${attack.expect.status} expected; ${wrong} other statuses; ${countedNow} counted as ${attack.expect.outcome}; ${leaked} processed`,
    });
  }

  // A replay: the same genuine event delivered again is acknowledged, and processed once.
  const replayed: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const id = `evt_replayed_${round}`;
    const payload = body(id);
    const head = headers(id, payload);
    replayed.push(await post(id, payload, head), await post(id, payload, head));
  }
  await receiver.idle();
  const replayIds = Array.from({ length: ROUNDS }, (_, round) => `evt_replayed_${round}`);
  const replayDuplicates = replayIds.filter((id) => (processed.get(id) ?? 0) > 1).length;
  const replayLost = replayIds.filter((id) => !processed.has(id)).length;
  const duplicateCount = receiver.metrics().duplicate - before.duplicate;
  rows.push({
    check: 'webhook: replayed event id',
    cases: ROUNDS * 2,
    faults: ROUNDS,
    lost: replayLost,
    duplicates: replayDuplicates,
    ok: replayed.every((s) => s === 200) && duplicateCount === ROUNDS && replayDuplicates === 0 && replayLost === 0,
    note: `200 both times; ${duplicateCount} counted as duplicate; each processed once`,
  });

  const genuineIds = Array.from({ length: genuine }, (_, i) => `evt_genuine_${i}`);
  const genuineLost = genuineIds.filter((id) => !processed.has(id)).length;
  const genuineTwice = genuineIds.filter((id) => (processed.get(id) ?? 0) > 1).length;
  rows.push({
    check: 'webhook: genuine events between the attacks',
    cases: genuine,
    faults: 0,
    lost: genuineLost,
    duplicates: genuineTwice,
    ok: genuineLost === 0 && genuineTwice === 0,
    note: 'each processed exactly once',
  });
  rows.push(metricsRow(before, receiver.metrics(), attacks));

  await receiver.close();
  db.close();
  return { title: 'webhook receiver', rows };
}

/** Every refusal the attacks caused is in the metrics, and nothing else was refused. */
function metricsRow(before: ReceiverMetrics, after: ReceiverMetrics, attacks: Attack[]): ReliabilityRow {
  const expected = new Map<ReceiverOutcome, number>();
  for (const attack of attacks) expected.set(attack.expect.outcome, (expected.get(attack.expect.outcome) ?? 0) + attack.rounds);
  const mismatches = [...expected].filter(([outcome, count]) => after[outcome] - before[outcome] !== count);
  return {
    check: 'webhook: metrics account for every refusal',
    cases: [...expected.values()].reduce((a, b) => a + b, 0),
    faults: 0,
    lost: 0,
    duplicates: 0,
    ok: mismatches.length === 0 && after.internal_error === before.internal_error,
    note: mismatches.length === 0 ? 'all counters match' : mismatches.map(([o]) => o).join(', '),
  };
}

/** Headers at once, then the body one byte every 100 ms: the receiver must time it out. */
function slowPost(url: string, id: string, head: Record<string, string>, payload: string): Promise<number> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      const lines = [`POST ${pathname} HTTP/1.1`, `Host: ${hostname}:${port}`, `Content-Length: ${Buffer.byteLength(payload)}`, ...Object.entries(head).map(([k, v]) => `${k}: ${v}`), 'Connection: close', '', ''];
      socket.write(lines.join('\r\n'));
      let sent = 0;
      timer = setInterval(() => {
        if (sent < payload.length && !socket.destroyed) socket.write(payload[sent++]!);
      }, 100);
    });
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('close', () => {
      clearInterval(timer);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
      if (status === undefined) reject(new Error(`slow request ${id}: no response (${JSON.stringify(answer.slice(0, 40))})`));
      else resolve(Number(status));
    });
    socket.on('error', reject);
  });
}
