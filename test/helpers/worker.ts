import { spawn, type ChildProcess } from 'node:child_process';
import { repoRoot } from './cases';

/** A `laneflow worker` process of the built CLI, as the process tests drive it. */
export interface WorkerProcess {
  /** Resolves once the worker has said it runs (and so handles SIGTERM). */
  ready: Promise<void>;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  log(): string;
}

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
