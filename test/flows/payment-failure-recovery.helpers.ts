import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { checkSource } from '../../src/index';
import type { CompiledFlow } from '../../src/compiler/types';
import type { InstanceDetails } from '../../src/runtime/engine';
import { openBillingService } from '../../src/runtime/packs/billing/pack-services';
import { repoRoot } from '../helpers/cases';
import { LINK_SECRET } from '../packs/billing/helpers';

export const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;

export const FLOW = 'flows/payment-failure-recovery.flow';
export const BINDINGS = `${repoRoot}flows/payment-failure-recovery.bindings.ts`;
export const LINK_BASE_URL = 'https://billing.laneflow.test/update-card';
export const EMAIL_FROM = 'billing@laneflow.test';

const folder = `${repoRoot}test/artifacts/flows/`;

export function recoveryFlow(): CompiledFlow {
  const { flow, diagnostics } = checkSource(FLOW, readFileSync(`${repoRoot}${FLOW}`, 'utf8'));
  if (flow === undefined) throw new Error(`${FLOW} does not compile: ${JSON.stringify(diagnostics)}`);
  return flow;
}

/** A real SQLite file under test/artifacts/flows/, removed first with its WAL files. */
export function freshDb(name: string): string {
  mkdirSync(folder, { recursive: true });
  const path = `${folder}${name}.db`;
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  return path;
}

/** The billing pack's configuration for the tests: the links the helpers recognise, and an SMTP server when given. */
export function billingEnv(smtpPort?: number): Record<string, string> {
  const env: Record<string, string> = {
    LANEFLOW_BILLING_EMAIL_FROM: EMAIL_FROM,
    LANEFLOW_BILLING_LINK_SECRET: LINK_SECRET,
    LANEFLOW_BILLING_LINK_BASE_URL: LINK_BASE_URL,
  };
  if (smtpPort !== undefined) env['LANEFLOW_SMTP_URL'] = `smtp://127.0.0.1:${smtpPort}`;
  return env;
}

/** Sets environment variables and returns what puts the old values back. */
export function setEnv(vars: Record<string, string | undefined>): () => void {
  const before = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(vars);
  return () => apply(before);
}

/** The nodes the instance went through, decisions with the label they took: `n5:No`. */
export function journalPath(instance: InstanceDetails): string[] {
  return instance.journal.flatMap((entry) => {
    if (entry.outcome === 'started' || entry.outcome === 'completed' || entry.outcome === 'ended') return [entry.node];
    if (entry.outcome === 'decided') return [`${entry.node}:${String(entry.detail?.['label'])}`];
    return [];
  });
}

export interface GatewayCharge {
  key: string;
  amount: number;
  status: string;
  declineCode: string | null;
  paymentMethodId: string;
  at: string;
}

/** The charges the sandbox gateway recorded for a customer, read from its table on a connection of its own. */
export function gatewayCharges(path: string, customerId: string): GatewayCharge[] {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db
      .prepare<[string], { idempotency_key: string; amount: number; status: string; decline_code: string | null; payment_method_id: string; created_at: number }>(
        'SELECT idempotency_key, amount, status, decline_code, payment_method_id, created_at FROM billing_sandbox_charges WHERE customer_id = ? ORDER BY created_at, rowid',
      )
      .all(customerId);
    return rows.map((row) => ({
      key: row.idempotency_key,
      amount: row.amount,
      status: row.status,
      declineCode: row.decline_code,
      paymentMethodId: row.payment_method_id,
      at: new Date(row.created_at).toISOString(),
    }));
  } finally {
    db.close();
  }
}

/** `at status/decline key` lines, for comparing a customer's charges with the story. */
export function chargeLines(charges: GatewayCharge[], instanceId: string): string[] {
  return charges.map((charge) => `${charge.at} ${charge.amount} ${charge.declineCode ?? charge.status} ${charge.key.replace(`${instanceId}:`, '')}`);
}

/**
 * The note's schedule with seconds for hours, for tests on the wall clock: what takes a week
 * with real customers takes a few seconds here, through the same code.
 */
export const SECONDS_SCHEDULE = JSON.stringify({
  soft_decline: { intervals: ['0s', '1s', '2s', '3s'], max_attempts: 4, on_exhausted: 'cancel' },
  hard_decline: { intervals: [], max_attempts: 0, on_exhausted: 'mark_unpaid' },
  expired_method: { intervals: ['0s', '1s', '2s'], max_attempts: 3, fallback: 'request_update_via_portal', on_exhausted: 'mark_unpaid' },
});

export interface DueSubscription {
  name: string;
  card: string;
  customerId: string;
  subscriptionId: string;
}

/**
 * Daily subscriptions whose period ended a moment ago, each with `card` on file for the
 * renewal: opened as the application would, with the billing service on its own connection.
 */
export async function dueSubscriptions(path: string, customers: { name: string; card: string }[]): Promise<DueSubscription[]> {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 10000');
  const opened = Date.now() - 86_400_000 - 1_000;
  const billing = openBillingService(db, { now: () => opened });
  try {
    const due: DueSubscription[] = [];
    for (const { name, card } of customers) {
      const customer = billing.createCustomer({ email: `${name}@example.test`, name }, `setup:${name}:customer`);
      await billing.attachPaymentMethod(customer.id, 'pm_card_visa', `setup:${name}:first-card`);
      const subscription = billing.createSubscription(
        { customerId: customer.id, planId: 'pro', price: 2_500, currency: 'usd', interval: { unit: 'day', count: 1 } },
        `setup:${name}:subscription`,
      );
      await billing.activateSubscription(subscription.id, `setup:${name}:activate`);
      await billing.attachPaymentMethod(customer.id, card, `setup:${name}:card-on-file`);
      due.push({ name, card, customerId: customer.id, subscriptionId: subscription.id });
    }
    return due;
  } finally {
    db.close();
  }
}
