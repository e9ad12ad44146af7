import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSource } from '../../src/index';
import { Engine } from '../../src/runtime/engine';
import { startServer, type RunningServer } from '../../src/cli/serve/server';

/** A small flow with a decision, so an instance's trail has a branch to take and one to skip. */
export const ORDER_FLOW = `Shop { # Shop
  n1: circle label:"Start"
  n2: rectangle label:"Check order"
  n3: diamond label:"In stock?"
  n4: rectangle label:"Ship it"
  n5: rectangle label:"Back-order"
  n6: circle label:"End"

  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
  n3.handle(right) -> n4.handle(left) [label="Yes"]
  n3.handle(bottom) -> n5.handle(top) [label="No"]
  n4.handle(right) -> n6.handle(left)
  n5.handle(right) -> n6.handle(left)
}
`;

/** Scenarios for ORDER_FLOW (as `laneflow test` reads them) that never take the "Yes" branch. */
export const ORDER_SCENARIOS = `scenarios:
  - name: out of stock
    outcomes:
      Check order: { return: { checked: true } }
      In stock?: No
      Back-order: { return: { backOrdered: true } }
    expect:
      end: End
`;

export interface Workspace {
  /** Holds `flows/` (served) and files beside it that must never be served. */
  root: string;
  flows: string;
  database: string;
  remove(): void;
}

/** A temporary folder with a flows folder to serve and a secret .flow file beside it. */
export function makeWorkspace(): Workspace {
  const root = mkdtempSync(join(tmpdir(), 'laneflow-serve-'));
  const flows = join(root, 'flows');
  mkdirSync(join(flows, 'billing'), { recursive: true });
  mkdirSync(join(flows, '.hidden'));
  writeFileSync(join(flows, 'order.flow'), ORDER_FLOW);
  writeFileSync(join(flows, 'billing', 'refund.flow'), ORDER_FLOW.replace('Check order', 'Check refund'));
  writeFileSync(join(flows, 'broken.flow'), 'Shop {\n  n1: circle label:"Start"\n  n2: rect label:"Oops"\n  n1.handle(right) -> n2.handle(left)\n}\n');
  writeFileSync(join(flows, 'notes.txt'), 'not a flow');
  writeFileSync(join(flows, '.hidden', 'secret.flow'), ORDER_FLOW);
  writeFileSync(join(root, 'secret.flow'), ORDER_FLOW.replace('Check order', 'TOP SECRET'));
  return {
    root,
    flows,
    database: join(root, 'laneflow.db'),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

export function serve(workspace: Workspace): Promise<RunningServer> {
  return startServer({ folder: workspace.flows, host: '127.0.0.1', port: 0, database: workspace.database });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * Sends a request with the path exactly as written: fetch() would resolve `..` and `%2e%2e`
 * segments before sending, which is what an attacker's own client would not do.
 */
export function raw(server: RunningServer, method: string, path: string, options: { headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, method, path, headers: options.headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

/**
 * Runs ORDER_FLOW in the workspace's database: one instance to the "No" branch, recorded as
 * run from `path` (the flows folder's order.flow by default).
 */
export async function runOrderInstance(workspace: Workspace, path = join(workspace.flows, 'order.flow')): Promise<string> {
  const { flow } = checkSource(path, ORDER_FLOW);
  const engine = new Engine({ db: workspace.database });
  try {
    const { machine } = engine.deploy(flow!, {
      nodes: { n2: () => ({ checked: true }), n3: () => 'No', n4: () => undefined, n5: () => ({ backOrdered: true }) },
    });
    const id = engine.start(machine!.version, { input: { order: 'A-1' } });
    await engine.runUntilIdle();
    return id;
  } finally {
    engine.close();
  }
}
