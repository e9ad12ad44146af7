// What the benchmarks share: the library as shipped, medians, and the versions of the peers.
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
