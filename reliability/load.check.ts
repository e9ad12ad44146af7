// Load: 10,000 instances at once on the wall clock, each sleeping until a due time spread over
// five seconds, then waiting for a signal that arrives in bursts of 1,000. Reports durable
// steps per second, how late timers fired (p50 / p99), and the process's peak memory.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSource, defineBindings, Engine } from '../src/index';
import type { ReliabilityRow, ReliabilitySection } from './table';

const INSTANCES = 10_000;
const SPREAD_MS = 5_000;
const BURSTS = 10;
const BURST_EVERY_MS = 500;
const DEADLINE_MS = 120_000;

const FLOW = `Load { # Load
  n1: circle label:"Start"
  n2: rectangle label:"Sleep until due"
  n3: rectangle label:"Wait for go"
  n4: diamond label:"Signalled?"
  n5: rectangle label:"Record"
  n6: circle label:"End"

  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
  n3.handle(right) -> n4.handle(left)
  n4.handle(right) -> n5.handle(left) [label="Yes"]
  n4.handle(bottom) -> n6.handle(bottom) [label="No"]
  n5.handle(right) -> n6.handle(left)
}
`;

interface LoadData {
  dueAt: number;
  signalled?: boolean;
}

export default async function load(): Promise<ReliabilitySection> {
  const { flow } = checkSource('load.flow', FLOW);
  const engine = new Engine({ db: join(mkdtempSync(join(tmpdir(), 'laneflow-load-')), 'load.db') });
  const lateness: number[] = [];
  const recorded = new Map<string, number>();
  const { machine } = engine.deploy(
    flow!,
    defineBindings({
      nodes: {
        n2: async (ctx) => {
          const { dueAt } = ctx.data as unknown as LoadData;
          await ctx.sleep(new Date(dueAt));
          lateness.push(ctx.now().getTime() - dueAt);
        },
        n3: async (ctx) => ({ signalled: (await ctx.waitFor('go', { timeout: '60s' })).received }),
        n4: (ctx) => ((ctx.data as unknown as LoadData).signalled === true ? 'Yes' : 'No'),
        n5: (ctx) => void recorded.set(ctx.instanceId, (recorded.get(ctx.instanceId) ?? 0) + 1),
      },
    }),
  );

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const started = Date.now();
  const ids = engine.startMany(
    machine!.version,
    Array.from({ length: INSTANCES }, (_, i) => ({ input: { dueAt: started + Math.round((i * SPREAD_MS) / INSTANCES) } })),
  );

  const stop = new AbortController();
  const working = engine.work(stop.signal);
  for (let burst = 0; burst < BURSTS; burst++) {
    await new Promise((resolve) => setTimeout(resolve, BURST_EVERY_MS));
    const size = INSTANCES / BURSTS;
    for (const id of ids.slice(burst * size, (burst + 1) * size)) engine.signal(id, 'go');
  }
  while (engine.counts().completed < INSTANCES && Date.now() - started < DEADLINE_MS) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  stop.abort();
  const summary = await working;
  const elapsed = (Date.now() - started) / 1000;
  clearInterval(sampler);
  const counts = engine.counts();
  engine.close();

  lateness.sort((a, b) => a - b);
  const percentile = (p: number) => lateness[Math.min(lateness.length - 1, Math.floor((p / 100) * lateness.length))] ?? NaN;
  const lost = INSTANCES - [...recorded.keys()].length;
  const duplicates = [...recorded.values()].filter((n) => n > 1).length;
  const row: ReliabilityRow = {
    check: `${INSTANCES.toLocaleString('en')} instances, timers over ${SPREAD_MS / 1000} s, signals in ${BURSTS} bursts`,
    cases: INSTANCES,
    faults: 0,
    lost,
    duplicates,
    ok: counts.completed === INSTANCES && lost === 0 && duplicates === 0 && lateness.length === INSTANCES,
    note:
      `${Math.round(summary.steps / elapsed).toLocaleString('en')} steps/s over ${elapsed.toFixed(1)} s; ` +
      `timer lateness p50 ${percentile(50)} ms, p99 ${percentile(99)} ms; peak RSS ${Math.round(peakRss / 1024 / 1024)} MB`,
  };
  return { title: 'load', rows: [row] };
}
