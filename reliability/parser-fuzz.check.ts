// Parser fuzzing: at least 100,000 inputs (mutated real flows, random token streams, random
// text) through parse + validate. No exception may escape, every diagnostic must have a valid
// range, and time must grow about linearly with size: 1 MB of garbage answered in under 1 s, and
// valid flows of 16x the size must not take the time a quadratic parser would.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { generateGraph, toFlowSource } from '../bench/generate-flow';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type * as Laneflow from '../src/index';
import { rangeProblem } from '../test/helpers/ast';
import type { ReliabilityRow, ReliabilitySection } from './table';

// The library as shipped (`npm run reliability` builds it first): chevrotain's bundled build,
// no tsx wrapping, so the timings are the user's.
const { checkSource } = (await import(pathToFileURL('dist/index.js').href)) as typeof Laneflow;

const seeds = ['flows', 'test/testdata/parser'].flatMap((folder) =>
  readdirSync(folder)
    .filter((f) => f.endsWith('.flow'))
    .map((f) => readFileSync(`${folder}/${f}`, 'utf8')),
);
const fragments = ['{', '}', '"', '\\"', '->', '[', ']', '(', ')', ':', '=', '.', 'n1', 'n99', 'loop', 'handle', '.handle(', 'left', 'bottom', '#', '//', '\n', '\r\n', '\t', ' ', 'é', '→', '\u0000', '\ufeff', 'Lane {', 'n7: diamond label:"?"', '[label="x"]', 'label:"', 'A.n1'];

interface Mutation {
  at: number;
  remove: number;
  insert: string;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  remove: fc.integer({ min: 0, max: 30 }),
  insert: fc.oneof(fc.constantFrom(...fragments), fc.string({ unit: 'grapheme', maxLength: 6 })),
});

function mutate(text: string, mutations: Mutation[]): string {
  let out = text;
  for (const m of mutations) {
    const at = m.at % (out.length + 1);
    out = out.slice(0, at) + m.insert + out.slice(at + m.remove);
  }
  return out;
}

/** Runs `count` inputs from `arbitrary`; returns how many failed (threw or gave a bad range) and the first failure. */
function fuzz(arbitrary: fc.Arbitrary<string>, count: number): { failures: number; first?: string } {
  let failures = 0;
  let first: string | undefined;
  for (const text of fc.sample(arbitrary, { numRuns: count, seed: 20261123 })) {
    let problem: string | undefined;
    try {
      for (const d of checkSource('fuzz.flow', text).diagnostics) {
        problem = rangeProblem(text, d);
        if (problem !== undefined) break;
      }
    } catch (error) {
      problem = `threw ${error instanceof Error ? error.message : String(error)}`;
    }
    if (problem !== undefined) {
      failures++;
      first ??= `${problem} on ${JSON.stringify(text.slice(0, 80))}`;
    }
  }
  return { failures, ...(first !== undefined && { first }) };
}

function timed(text: string): number {
  const started = performance.now();
  checkSource('big.flow', text);
  return performance.now() - started;
}

// A collection before each measured run, so one run does not pay for the garbage of another.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * The CPU time of this process for one parse + validate, in ms: unlike the wall clock it does not
 * grow when other processes take the machine's cores, which made the old wall-clock ratio fail
 * or pass by load alone.
 */
function cpuTimed(text: string): number {
  collectGarbage();
  const started = process.cpuUsage();
  checkSource('big.flow', text);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000;
}

/**
 * What one more node costs, from 4k to 16k nodes against from 1k to 4k: the same for a linear
 * parser (1x), four times as much for a quadratic one ((16² - 4²)/12 against (4² - 1²)/3). Taking
 * differences leaves out the fixed cost of a run, which flattered the old ratio of totals, and the
 * bound sits halfway between the two on a log scale (2x), so noise has a factor of 2 to spare
 * either way.
 */
const GROWTH_SIZES = [1_000, 4_000, 16_000];
const GROWTH_BOUND = 2;

const garbage: Record<string, (bytes: number) => string> = {
  'random bytes': (n) => randomBytes(n).toString('latin1'),
  'random tokens': (n) => {
    const r = randomBytes(n);
    let s = '';
    for (let i = 0; s.length < n; i++) s += fragments[r[i % n]! % fragments.length] + ' ';
    return s;
  },
  'stray braces': (n) => '{\n'.repeat(n / 2),
  'one unterminated string': (n) => '"'.padEnd(n, 'x'),
  'blank lines': (n) => '\n'.repeat(n),
};

export default async function parserFuzz(): Promise<ReliabilitySection> {
  const rows: ReliabilityRow[] = [];
  const runs: [string, fc.Arbitrary<string>, number][] = [
    ['mutated real flows', fc.tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 10 })).map(([s, m]) => mutate(s, m)), 50_000],
    ['random token streams', fc.array(fc.constantFrom(...fragments), { maxLength: 200 }).map((parts) => parts.join(' ')), 30_000],
    ['random text', fc.string({ unit: 'binary', maxLength: 300 }), 20_000],
  ];
  for (const [name, arbitrary, count] of runs) {
    const { failures, first } = fuzz(arbitrary, count);
    rows.push({ check: `parser: ${name}`, cases: count, faults: count, lost: 0, duplicates: 0, ok: failures === 0, note: first ?? 'no exception, every range valid' });
  }

  for (const [name, make] of Object.entries(garbage)) {
    const quarter = Math.max(...[0, 1, 2].map(() => timed(make(256 * 1024))));
    const whole = Math.max(...[0, 1, 2].map(() => timed(make(1024 * 1024))));
    rows.push({
      check: `1 MB of ${name}`,
      cases: 6,
      faults: 6,
      lost: 0,
      duplicates: 0,
      ok: whole < 1000,
      note: `${whole.toFixed(0)} ms (worst of 3; 256 KB: ${quarter.toFixed(0)} ms)`,
    });
  }

  const times = GROWTH_SIZES.map((nodes) => {
    const text = toFlowSource(generateGraph({ lanes: 10, nodes, edges: Math.round(nodes * 1.2), seed: 7 }));
    cpuTimed(text);
    return Math.min(...[0, 1, 2, 3, 4].map(() => cpuTimed(text)));
  });
  /** The CPU time of each node added between two of the sizes, by their index. */
  const perNode = (from: number, to: number) => (times[to]! - times[from]!) / (GROWTH_SIZES[to]! - GROWTH_SIZES[from]!);
  const growth = perNode(1, 2) / perNode(0, 1);
  rows.push({
    check: 'valid flows 1k / 4k / 16k nodes',
    cases: 15,
    faults: 0,
    lost: 0,
    duplicates: 0,
    ok: growth < GROWTH_BOUND,
    note: `${times.map((t) => t.toFixed(0)).join(' / ')} ms CPU (best of 5): a node added past 4k cost ${growth.toFixed(2)}x one added below (linear 1x, quadratic 4x, bound ${GROWTH_BOUND}x)`,
  });
  return { title: 'parser', rows };
}
