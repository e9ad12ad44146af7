import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { InputError } from '../lib/files';
import type { DeliveryAttempt, DeliveryStatus, WebhookDelivery } from '../runtime/packs/webhook/types';
import type { WebhookStore } from '../runtime/packs/webhook/sqlite-store';
import { output } from './output';

/** The runtime commands' default database. */
const DEFAULT_DB = '.laneflow/laneflow.db';

const STATUSES: readonly DeliveryStatus[] = ['pending', 'retrying', 'delivered', 'failed', 'permanent_failure'];

interface DeliveriesOptions {
  db: string;
  status?: string;
  endpoint?: string;
  limit: number;
  json?: boolean;
}

/**
 * `deliveries`: the webhook pack's delivery tracking, read from the engine's database. The
 * database is opened read-only and better-sqlite3 is loaded only when the command runs, so
 * `laneflow check` starts as fast as before.
 */
export function registerWebhookCommands(program: Command): void {
  program
    .command('deliveries')
    .description('list webhook deliveries, or show one delivery with every attempt (status code, latency, error, time)')
    .argument('[delivery]', 'a delivery id')
    .option('--db <file>', 'SQLite database', DEFAULT_DB)
    .option('--status <status>', `list only deliveries that are ${STATUSES.join(', ')}`)
    .option('--endpoint <id>', 'list only deliveries to this endpoint')
    .option('--limit <n>', 'how many deliveries to list, newest first', positiveInteger, 50)
    .option('--json', 'print JSON')
    .action(async (delivery: string | undefined, options: DeliveriesOptions) => {
      process.exitCode = await runDeliveries(delivery, options);
    });
}

async function runDeliveries(deliveryId: string | undefined, options: DeliveriesOptions): Promise<number> {
  const status = options.status as DeliveryStatus | undefined;
  if (status !== undefined && !STATUSES.includes(status)) throw new InputError(`--status must be one of ${STATUSES.join(', ')}, not "${options.status}"`);
  return withStore(options.db, (store) => {
    if (deliveryId === undefined) {
      const deliveries = store === undefined ? [] : store.deliveries({ ...(status !== undefined && { status }), ...(options.endpoint !== undefined && { endpoint: options.endpoint }), limit: options.limit });
      if (options.json === true) output.out(JSON.stringify({ deliveries: deliveries.map(deliveryJson) }, null, 2) + '\n');
      else output.out(deliveries.length === 0 ? `no webhook deliveries in ${options.db}\n` : deliveryTable(deliveries));
      return 0;
    }
    const delivery = store?.delivery(deliveryId);
    if (store === undefined || delivery === undefined) throw new InputError(`no webhook delivery ${deliveryId} in ${options.db}`);
    const attempts = store.attempts(deliveryId);
    if (options.json === true) output.out(JSON.stringify({ ...deliveryJson(delivery), body: JSON.parse(delivery.body) as unknown, attempts: attempts.map(attemptJson) }, null, 2) + '\n');
    else output.out(deliveryDetail(delivery, attempts));
    return 0;
  });
}

/** Runs `read` on the database's webhook store, or on undefined when it has no webhook tables yet. */
async function withStore<T>(db: string, read: (store: WebhookStore | undefined) => T): Promise<T> {
  if (!existsSync(db)) throw new InputError(`there is no database at ${db} (\`laneflow run\` creates it)`);
  const { default: Database } = await import('better-sqlite3');
  const { WebhookStore } = await import('../runtime/packs/webhook/sqlite-store');
  let connection: InstanceType<typeof Database>;
  let store: WebhookStore | undefined;
  try {
    connection = new Database(db, { readonly: true, fileMustExist: true });
    const tracked = connection.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'webhook_deliveries'`).get() !== undefined;
    store = tracked ? new WebhookStore(connection) : undefined;
  } catch (error) {
    throw new InputError(`cannot read the database ${db}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return read(store);
  } finally {
    connection.close();
  }
}

function deliveryTable(deliveries: WebhookDelivery[]): string {
  const header = ['delivery', 'endpoint', 'type', 'status', 'attempts', 'last answer', 'next attempt (UTC)', 'updated (UTC)'];
  const rows = deliveries.map((d) => [
    d.id,
    d.endpoint,
    d.eventType,
    d.status,
    String(d.attempts),
    lastAnswer(d),
    d.nextAttemptAt === undefined || !waiting(d.status) ? '-' : iso(d.nextAttemptAt),
    iso(d.updatedAt),
  ]);
  return table(header, rows);
}

function deliveryDetail(delivery: WebhookDelivery, attempts: DeliveryAttempt[]): string {
  const lines = [
    `delivery  ${delivery.id}`,
    `endpoint  ${delivery.endpoint}`,
    `type      ${delivery.eventType}`,
    `status    ${delivery.status}${delivery.nextAttemptAt !== undefined && waiting(delivery.status) ? `, next attempt ${iso(delivery.nextAttemptAt)}` : ''}`,
    `attempts  ${delivery.attempts}${delivery.roundAttempts !== delivery.attempts ? ` (${delivery.roundAttempts} since the last redelivery)` : ''}`,
    `created   ${iso(delivery.createdAt)}   updated ${iso(delivery.updatedAt)}`,
    '',
  ];
  if (attempts.length === 0) {
    lines.push('no attempts yet', '');
    return lines.join('\n');
  }
  const header = ['attempt', 'time (UTC)', 'status', 'latency', 'outcome', 'error'];
  const rows = attempts.map((a) => [
    String(a.attempt),
    iso(a.startedAt),
    a.statusCode === undefined ? '-' : String(a.statusCode),
    a.latencyMs === undefined ? '-' : `${a.latencyMs.toFixed(1)} ms`,
    a.classification,
    a.error ?? '',
  ]);
  lines.push(table(header, rows));
  return lines.join('\n');
}

function deliveryJson(delivery: WebhookDelivery) {
  const { body: _, nextAttemptAt, createdAt, updatedAt, ...rest } = delivery;
  return {
    ...rest,
    ...(nextAttemptAt !== undefined && waiting(delivery.status) && { nextAttemptAt: iso(nextAttemptAt) }),
    createdAt: iso(createdAt),
    updatedAt: iso(updatedAt),
  };
}

function attemptJson(attempt: DeliveryAttempt) {
  return { ...attempt, startedAt: iso(attempt.startedAt) };
}

function lastAnswer(delivery: WebhookDelivery): string {
  if (delivery.attempts === 0) return '-';
  if (delivery.lastStatusCode !== undefined) return String(delivery.lastStatusCode);
  return delivery.lastError ?? '-';
}

function waiting(status: DeliveryStatus): boolean {
  return status === 'pending' || status === 'retrying';
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line), ''].join('\n');
}

function iso(at: number): string {
  return new Date(at).toISOString();
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InputError(`"${value}" is not a whole number above 0`);
  return n;
}
