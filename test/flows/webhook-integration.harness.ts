import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import bindings from '../../flows/webhook-integration.bindings';
import { checkSource } from '../../src/index';
import { VirtualClock } from '../../src/runtime/clock';
import { Engine, type InstanceDetails } from '../../src/runtime/engine';
import {
  createWebhookBridge,
  createWebhookSender,
  generateSecret,
  signalSendingInstance,
  type WebhookReceiver,
  type WebhookSender,
} from '../../src/runtime/packs/webhook';
import { repoRoot } from '../helpers/cases';

/** What the webhook-integration tests share: the flow on an engine, and a real receiver in front of it. */

export const T0 = Date.UTC(2025, 0, 1);

const flow = (() => {
  const { flow: compiled, diagnostics } = checkSource('flows/webhook-integration.flow', readFileSync(`${repoRoot}flows/webhook-integration.flow`, 'utf8'));
  if (compiled === undefined) throw new Error(diagnostics.map((d) => d.message).join('; '));
  return compiled;
})();

/** How the server in front of the receiver answers one request: itself, with a status, or by cutting the connection after the receiver answered. */
export type Gate = 'receiver' | number | 'cut-after-receiver';

export interface System {
  /** The engine's SQLite file. */
  file: string;
  engine: Engine;
  clock: VirtualClock;
  machine: string;
  /** The application's own connection to the engine's file: endpoints, and the receiver's inbox. */
  side: Database.Database;
  sender: WebhookSender;
  receiver: WebhookReceiver;
  /** Requests that reached the front server, with what it did with each. */
  requests: { webhookId: string; gate: Gate }[];
  secret: string;
  /** Starts an instance for one billing event and drives it (and the receiver) until nothing moves. */
  deliver(event?: { id: string; type: string; amountCents: number }, horizon?: number): Promise<InstanceDetails>;
  settle(id: string, horizon?: number): Promise<InstanceDetails>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * One engine on a real SQLite file with a virtual clock, the flow deployed with its bindings,
 * and a real receiver (verification, dedup, ack, hand-off to the engine) on 127.0.0.1 behind a
 * front server that answers as `gates` says, request by request ('receiver' after they run out).
 */
export async function openSystem(options: { gates?: Gate[]; receiverSecret?: string } = {}): Promise<System> {
  const folder = mkdtempSync(join(tmpdir(), 'laneflow-webhook-flow-'));
  cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
  const file = join(folder, 'laneflow.db');
  const clock = new VirtualClock(T0);
  let ids = 0;
  const engine = new Engine({ db: file, clock, random: () => 0.5, newId: () => `wh${++ids}` });
  cleanups.push(() => engine.close());
  const { machine, diagnostics } = engine.deploy(flow, bindings);
  expect(diagnostics).toEqual([]);

  const side = new Database(file);
  side.pragma('busy_timeout = 5000');
  cleanups.push(() => {
    side.close();
  });
  const secret = generateSecret();
  const receiverSecret = options.receiverSecret ?? secret;
  const receiver = createWebhookBridge({
    db: side,
    engine,
    clock,
    secretsFor: (path) => (path === '/hooks' ? [receiverSecret] : []),
    route: signalSendingInstance,
  });
  const gates = [...(options.gates ?? [])];
  const requests: System['requests'] = [];
  const front = http.createServer((request: IncomingMessage, response: ServerResponse) => {
    const gate = gates.shift() ?? 'receiver';
    requests.push({ webhookId: String(request.headers['webhook-id']), gate });
    if (typeof gate === 'number') {
      response.writeHead(gate, { connection: 'close' }).end();
      return;
    }
    if (gate === 'cut-after-receiver') {
      // The receiver records and acknowledges the event, but its answer never reaches the sender.
      response.end = (() => {
        request.socket.destroy();
        return response;
      }) as typeof response.end;
    }
    receiver.handle(request, response);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    await receiver.idle();
    await new Promise<void>((resolve) => {
      front.close(() => resolve());
      front.closeAllConnections();
    });
  });
  const { port } = front.address() as AddressInfo;
  const sender = createWebhookSender({ db: side, clock });
  cleanups.push(() => sender.close());
  sender.registerEndpoint({ id: 'acme', url: `http://127.0.0.1:${port}/hooks`, secret });

  async function settle(id: string, horizon?: number): Promise<InstanceDetails> {
    for (let round = 0; round < 50; round++) {
      const { steps } = await engine.runUntilIdle(horizon === undefined ? {} : { horizon });
      await receiver.idle();
      if (steps === 0) break;
    }
    return engine.instance(id)!;
  }

  return {
    file,
    engine,
    clock,
    machine: machine!.version,
    side,
    sender,
    receiver,
    requests,
    secret,
    settle,
    async deliver(event = { id: 'evt_1', type: 'invoice.paid', amountCents: 2_900 }, horizon) {
      const id = engine.start(machine!.version, { input: { endpoint: 'acme', event } });
      return settle(id, horizon);
    },
  };
}

