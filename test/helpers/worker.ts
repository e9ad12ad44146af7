import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { checkSource } from '../../src/index';
import { Engine } from '../../src/runtime/engine';
import type { JsonObject } from '../../src/runtime/types';
import { repoRoot } from './cases';

/** A `laneflow worker` process of the built CLI, as the process tests drive it. */
export interface WorkerProcess {
  /** Resolves once the worker has said it runs (and so handles SIGTERM). */
  ready: Promise<void>;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  log(): string;
}

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;

const running = new Set<ChildProcess>();

export function spawnWorker(db: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): WorkerProcess {
  const child = spawn(process.execPath, ['bin/laneflow.js', 'worker', '--db', db, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(child);
  let log = '';
  let markReady: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stderr!.on('data', (chunk: Buffer) => {
    log += chunk.toString();
    if (log.includes('running due work')) markReady();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return { ready, exited, kill: (signal) => child.kill(signal), log: () => log };
}

/** Kills every worker a test left running. */
export function killWorkers(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** Rows from a worker's database, read on a connection of its own while the workers write. */
export function query<T>(path: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(path, { readonly: true });
  db.pragma('busy_timeout = 10000');
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** How many instances in the database have completed. */
export function completedCount(db: string): number {
  return query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM instances WHERE status = 'completed'")[0]!.n;
}

/** A database and a gateway file under `folder`, removed first with their WAL files. */
export function freshFiles(folder: string, name: string): { db: string; gateway: string } {
  const paths = { db: `${folder}${name}.db`, gateway: `${folder}${name}-gateway.db` };
  for (const path of Object.values(paths)) for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  return paths;
}

/** Deploys a flow with its binding module into `db` and starts one instance per input. */
export async function startInstances(db: string, flowPath: string, bindingsPath: string, inputs: JsonObject[]): Promise<string[]> {
  const engine = new Engine({ db });
  try {
    const { flow } = checkSource(flowPath, readFileSync(flowPath, 'utf8'));
    const { machine } = await engine.deployModule(flow!, bindingsPath);
    return engine.startMany(machine!.version, inputs.map((input) => ({ input })));
  } finally {
    engine.close();
  }
}

/** Polls `condition` every 50 ms; throws naming `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A small seeded generator, so that a failing run's kill times can be reproduced. */
export function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/**
 * A project whose binding module imports a local module, `marker.mjs`, that the tests change
 * while instances sleep: the fixture flow `hung.flow`, whose n3 sleeps `sleepMs` and then
 * records the marker's text in the data (`code`). `changeCode` writes the new marker.
 */
export function writeMarkerProject(project: string, sleepMs: number): { flow: string; bindings: string; changeCode(): void } {
  const fixtures = `${repoRoot}test/runtime/fixtures/`;
  mkdirSync(project, { recursive: true });
  copyFileSync(`${fixtures}hung.flow`, `${project}shop.flow`);
  copyFileSync(`${fixtures}process-steps.mjs`, `${project}process-steps.mjs`);
  const marker = (code: string) => writeFileSync(`${project}marker.mjs`, `export const marker = '${code}';\n`);
  marker('old code');
  writeFileSync(
    `${project}shop.bindings.mjs`,
    `import { marker } from './marker.mjs';
import { record } from './process-steps.mjs';
export default {
  nodes: {
    n2: (ctx) => record(ctx, 'n2'),
    n3: async (ctx) => {
      await ctx.sleep(${sleepMs});
      return { ...record(ctx, 'n3'), code: marker };
    },
  },
};
`,
  );
  return { flow: `${project}shop.flow`, bindings: `${project}shop.bindings.mjs`, changeCode: () => marker('new code') };
}
