import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { CompiledFlow } from '../../src/compiler/types';
import { checkSource } from '../../src/index';
import { VirtualClock } from '../../src/runtime/clock';
import type { AnyFlow, FlowBindings, FlowShape } from '../../src/runtime/define';
import { Engine } from '../../src/runtime/engine';
import { BillingService, SandboxGateway } from '../../src/runtime/packs/billing/index';
import type { InstanceDetails } from '../../src/runtime/engine';
import { repoRoot } from '../helpers/cases';

/** One flow of `flows/` deployed with its binding module on an engine over a real SQLite file. */
export interface FlowHarness {
  engine: Engine;
  clock: VirtualClock;
  flow: CompiledFlow;
  version: string;
  /** The engine's database file, and a second connection to it for the test's own services. */
  path: string;
  db: Database.Database;
  /** The instance, which must exist. */
  instance(id: string): InstanceDetails;
  /** The nodes the instance went through, as labels: decisions as `Label → branch`. */
  route(id: string): string[];
  close(): void;
}

export function compiledFlow(name: string): CompiledFlow {
  const path = `flows/${name}.flow`;
  const { flow, diagnostics } = checkSource(path, readFileSync(`${repoRoot}${path}`, 'utf8'));
  if (flow === undefined) throw new Error(diagnostics.map((d) => d.message).join('; '));
  return flow;
}

export function openFlow<F extends FlowShape, D>(name: string, bindings: FlowBindings<F, D>, start: number): FlowHarness {
  const dir = mkdtempSync(join(tmpdir(), `laneflow-${name}-`));
  const path = join(dir, `${name}.db`);
  const clock = new VirtualClock(start);
  let ids = 0;
  const engine = new Engine({ db: path, clock, random: () => 0.5, newId: () => `${name}-${++ids}` });
  const flow = compiledFlow(name);
  const { machine, diagnostics } = engine.deploy(flow, bindings as unknown as FlowBindings<AnyFlow, unknown>);
  if (machine === undefined || diagnostics.length > 0) throw new Error(`${name}: ${diagnostics.map((d) => d.message).join('; ')}`);
  const db = new Database(path);
  db.pragma('busy_timeout = 10000');
  const labels = new Map(flow.nodes.map((node) => [node.id, node.label]));
  return {
    engine,
    clock,
    flow,
    version: machine.version,
    path,
    db,
    instance(id) {
      const instance = engine.instance(id);
      if (instance === undefined) throw new Error(`no instance ${id}`);
      return instance;
    },
    route(id) {
      return this.instance(id).journal.flatMap((entry) => {
        const label = labels.get(entry.node) ?? entry.node;
        if (entry.outcome === 'decided') return [`${label} → ${(entry.detail as { label: string }).label}`];
        return entry.outcome === 'started' || entry.outcome === 'completed' || entry.outcome === 'ended' ? [label] : [];
      });
    },
    close() {
      db.close();
      engine.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** A billing service on the harness's database, with the sandbox gateway, as an application would open one beside the engine. */
export function billingOn(h: FlowHarness): BillingService {
  return new BillingService({
    db: h.db,
    gateway: new SandboxGateway(h.db, h.clock),
    clock: h.clock,
    emailFrom: 'billing@laneflow.test',
    updateLinks: { secret: 'test-secret-that-is-at-least-32-bytes-long', baseUrl: 'https://billing.laneflow.test/update-card' },
  });
}

/** A customer with a card and an active monthly subscription, activated at the clock's time. */
export async function activeSubscription(billing: BillingService, input: { email: string; name: string; planId: string; price: number }) {
  const customer = billing.createCustomer({ email: input.email, name: input.name }, `setup:${input.email}:customer`);
  await billing.attachPaymentMethod(customer.id, 'pm_card_visa', `setup:${input.email}:card`);
  const subscription = billing.createSubscription(
    { customerId: customer.id, planId: input.planId, price: input.price, currency: 'usd', interval: { unit: 'month', count: 1 } },
    `setup:${input.email}:subscription`,
  );
  const activation = await billing.activateSubscription(subscription.id, `setup:${input.email}:activate`);
  if (activation.kind !== 'paid') throw new Error(`the test subscription was not activated: ${activation.kind}`);
  return billing.subscription(subscription.id);
}
