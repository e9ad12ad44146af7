// What the benchmarks share: the library as shipped, medians, timed processes, and the versions
// of the peers.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Laneflow from '../src/index';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** The library as shipped: the bundle `npm run bench` builds first, with chevrotain's bundled build. */
export async function importBundle(): Promise<typeof Laneflow> {
  const bundle = pathToFileURL(`${root}dist/index.js`).href;
  try {
    return (await import(bundle)) as typeof Laneflow;
  } catch (error) {
    throw new Error(`cannot load ${bundle}: run \`npm run bench\`, which builds it first (${String(error)})`);
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** An installed package's version, for naming a peer in a table. */
export function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(`${root}node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return '(not installed)';
  }
}

export function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

/** The CLI as a user runs it (npm links it as `laneflow`): the launcher, with its start-up snapshot. */
export const LAUNCHER = `${root}bin/laneflow`;

export type Timing = { ok: true; ms: number } | { ok: false; failure: string };

/** Wall time of one spawned command, from the project root, without colour. */
export function spawnMs(command: string, args: string[], env: Record<string, string> = {}): Timing {
  const start = performance.now();
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
  const elapsed = performance.now() - start;
  return result.status === 0 ? { ok: true, ms: elapsed } : { ok: false, failure: failure(result.status, result.stderr || result.stdout || String(result.error)) };
}

/** Median wall time of a spawned command, after one warm-up run. */
export function medianSpawnMs(command: string, args: string[], runs: number, env: Record<string, string> = {}): Timing {
  const times: number[] = [];
  for (let run = 0; run <= runs; run++) {
    const timing = spawnMs(command, args, env);
    if (!timing.ok) return timing;
    if (run > 0) times.push(timing.ms);
  }
  return { ok: true, ms: median(times) };
}

export function failure(status: number | null, output: string): string {
  return `unavailable: exit ${status}: ${output.trim().split('\n')[0] ?? ''}`;
}

/** Whether the launcher starts `command` from the start-up snapshot here (its `sh -x` trace says). */
export function launcherUsesSnapshot(command: string): boolean {
  const traced = spawnSync('sh', ['-x', LAUNCHER, command, '--help'], { cwd: root, encoding: 'utf8' });
  return traced.status === 0 && /^\+ exec \S+ --snapshot-blob /m.test(traced.stderr);
}
