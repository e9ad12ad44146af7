import { spawnSync } from 'node:child_process';
import { repoRoot } from './cases';

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI (`npm test` builds it first) the way a user would: through the launcher,
 * bin/laneflow, which starts `render` from the start-up snapshot.
 */
export function laneflow(args: string[], options: { cwd?: string; env?: Record<string, string | undefined>; launcher?: 'bin/laneflow' | 'bin/laneflow.js' } = {}): CliRun {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, NODE_OPTIONS: undefined, ...options.env };
  const [command, ...prefix] = (options.launcher ?? 'bin/laneflow') === 'bin/laneflow' ? [`${repoRoot}bin/laneflow`] : [process.execPath, `${repoRoot}bin/laneflow.js`];
  const result = spawnSync(command!, [...prefix, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** True when the text looks like a stack trace, which a user mistake must never produce. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+:\d+:\d+\)?$/m.test(text);
}
