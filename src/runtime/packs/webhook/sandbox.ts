/**
 * A sandbox receiver for a flow run that configures no webhook endpoint: a real receiver
 * (signature check, deduplication, acknowledgement, hand-off to the sending instance) listening
 * on 127.0.0.1 in the running process, registered as an endpoint `sandbox_webhook_<port>` with
 * a fresh secret. The flow's sender then signs and POSTs to it for real. It lives as long as the
 * run: `close` stops the server and the side connection.
 */
import Database from 'better-sqlite3';
import type { Clock } from '../../clock';
import type { Engine } from '../../engine';
import { createWebhookBridge, signalSendingInstance } from './bridge';
import type { WebhookReceiver } from './receiver';
import { createWebhookSender } from './sender';

export interface SandboxReceiver {
  /** The registered endpoint id to put in the flow's input. */
  endpoint: string;
  url: string;
  /** Resolves once every event the receiver accepted so far has been handed to its instance. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** The receiver's path: the endpoint's URL ends with it, and only it has a secret. */
const SANDBOX_PATH = '/sandbox-webhooks';

/**
 * Starts the receiver on the engine's database file (`dbFile`, through a connection of its own,
 * as an application's receiver would) and registers its endpoint.
 */
export async function openSandboxReceiver(options: { engine: Engine; dbFile: string; clock: Clock }): Promise<SandboxReceiver> {
  const side = new Database(options.dbFile);
  side.pragma('busy_timeout = 5000');
  const sender = createWebhookSender({ db: side, clock: options.clock });
  let endpoint: string | undefined;
  let receiver: WebhookReceiver | undefined;
  try {
    receiver = createWebhookBridge({
      db: side,
      engine: options.engine,
      clock: options.clock,
      secretsFor: (path, now) => (path === SANDBOX_PATH && endpoint !== undefined ? sender.secretsAt(endpoint, now).map((secret) => secret.secret) : []),
      route: signalSendingInstance,
    });
    const base = await receiver.listen(0, '127.0.0.1');
    const url = `${base.replace(/\/$/, '')}${SANDBOX_PATH}`;
    // The port makes the id: a later run that gets the same port finds the same endpoint and secret.
    endpoint = `sandbox_webhook_${new URL(base).port}`;
    sender.registerEndpoint({ id: endpoint, url });
    const started = receiver;
    const id = endpoint;
    return {
      endpoint: id,
      url,
      idle: () => started.idle(),
      async close() {
        await started.close();
        sender.close();
        side.close();
      },
    };
  } catch (error) {
    await receiver?.close();
    sender.close();
    side.close();
    throw error;
  }
}
