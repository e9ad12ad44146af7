// Swimlane rendering speed: the seed webhook flow rendered cold (a whole `laneflow render`
// process) and warm (the library, 100 renders in one process), and a generated 500-node /
// 10-lane flow; the same diagrams drawn by mermaid-cli (in the Chromium the browser tests use:
// Debian's, or the one in the @sparticuz/chromium package) and by D2's WebAssembly build in the
// same run. A peer that cannot run is reported unavailable, and its targets as missed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Laneflow from '../src/index';
import type { CompiledFlow, FlowNode } from '../src/compiler/types';
import { generateGraph, toFlowSource } from './generate-flow';
import type { Bench, BenchRow } from './table';
import { testChromium, type TestChromium } from '../test/helpers/chromium';
import { failure, importBundle, LAUNCHER, launcherUsesSnapshot, median, medianSpawnMs, ms, packageVersion, root, spawnMs, type Timing } from './measure';

const SEED_FLOW = 'flows/webhook-integration.flow';
const LARGE_FLOW = { lanes: 10, nodes: 500, edges: 600, seed: 20_261_123 };
const COLD_TARGET_MS = 500;
const SPEEDUP_TARGET = 5;
const WARM_TARGET_MS = 30;
const LARGE_TARGET_MS = 3000;
const WARM_RENDERS = 100;

const renderBench: Bench = async () => {
  const laneflow = await importBundle();
  const work = mkdtempSync(join(tmpdir(), 'laneflow-render-bench-'));
  try {
    const seedText = readFileSync(join(root, SEED_FLOW), 'utf8');
    const seed = compileOrThrow(laneflow, SEED_FLOW, seedText);
    const largePath = join(work, 'generated-500.flow');
    writeFileSync(largePath, toFlowSource(generateGraph(LARGE_FLOW)));
    const large = compileOrThrow(laneflow, largePath, readFileSync(largePath, 'utf8'));

    const firstEver = timeFirstRender(work);
    const snapshot = launcherUsesSnapshot('render');
    const cold = medianSpawnMs(LAUNCHER, ['render', SEED_FLOW, '-o', join(work, 'seed.svg')], 10);
    const coldPlain = medianSpawnMs(process.execPath, ['bin/laneflow.js', 'render', SEED_FLOW, '-o', join(work, 'seed.svg')], 10);
    const warm = await timeWarm(laneflow, seed);
    const largeCold = medianSpawnMs(LAUNCHER, ['render', largePath, '-o', join(work, 'large.svg')], 3);
    const largeStages = await timeStages(laneflow, large);

    const mermaid = await mermaidPeer(work, seed, large);
    const d2 = d2Peer(work, seed, large, []);
    const d2Liftoff = d2Peer(work, seed, large, ['--liftoff-only']);

    const rows: BenchRow[] = [
      {
        measure: `cold render ${SEED_FLOW} (whole CLI process, median of 10)`,
        laneflow: show(cold),
        peer: mermaid.name,
        peerValue: show(mermaid.seedCold),
        target: `< ${COLD_TARGET_MS} ms`,
        met: cold.ok && cold.ms < COLD_TARGET_MS,
      },
      {
        measure: '  same, peer D2',
        laneflow: show(cold),
        peer: d2.name,
        peerValue: show(d2.seedCold),
      },
      speedupRow('cold speed-up vs mermaid-cli', cold, mermaid.seedCold, mermaid.name),
      speedupRow('cold speed-up vs D2', cold, d2.seedCold, d2.name),
      { measure: '  same, peer D2 with --liftoff-only', laneflow: show(cold), peer: d2Liftoff.name, peerValue: show(d2Liftoff.seedCold) },
      speedupRow('cold speed-up vs D2 with --liftoff-only', cold, d2Liftoff.seedCold, d2Liftoff.name),
      { measure: '  without the start-up snapshot (node bin/laneflow.js)', laneflow: show(coldPlain) },
      { measure: '  same, first render on a machine (no V8 code cache for ELK yet)', laneflow: show(firstEver) },
      {
        measure: `warm render ${SEED_FLOW} (library: layout + renderSvg, median of ${WARM_RENDERS})`,
        laneflow: ms(warm.median),
        peer: d2.name,
        peerValue: show(d2.seedWarm),
        target: `< ${WARM_TARGET_MS} ms`,
        met: warm.median < WARM_TARGET_MS,
      },
      { measure: '  same, peer D2 with --liftoff-only', laneflow: ms(warm.median), peer: d2Liftoff.name, peerValue: show(d2Liftoff.seedWarm) },
      { measure: '  of which layout', laneflow: ms(warm.layout) },
      { measure: '  of which renderSvg', laneflow: ms(warm.svg) },
      {
        measure: `cold render generated ${LARGE_FLOW.nodes} nodes / ${LARGE_FLOW.lanes} lanes (CLI, median of 3)`,
        laneflow: show(largeCold),
        peer: mermaid.name,
        peerValue: show(mermaid.largeCold),
        target: `< ${LARGE_TARGET_MS} ms`,
        met: largeCold.ok && largeCold.ms < LARGE_TARGET_MS,
      },
      { measure: '  same, peer D2', laneflow: show(largeCold), peer: d2.name, peerValue: show(d2.largeCold) },
      { measure: '  same, peer D2 with --liftoff-only', laneflow: show(largeCold), peer: d2Liftoff.name, peerValue: show(d2Liftoff.largeCold) },
      { measure: '  in-process, warm: layout', laneflow: ms(largeStages.layout) },
      { measure: '  in-process, warm: renderSvg', laneflow: ms(largeStages.svg) },
    ];
    const notes = [
      `Inputs: ${SEED_FLOW} (${seed.nodes.length} nodes, ${seed.edges.length} edges, ${seed.lanes.length} lanes); the generated flow is ` +
        `bench/generate-flow.ts with seed ${LARGE_FLOW.seed} (${large.nodes.length} nodes, ${large.edges.length} edges, ${large.loops.length} loops). ` +
        'Peers draw the same lanes (as subgraphs / containers), nodes, shapes, edges and labels; they have no handles or loop frames.',
      'Cold times are wall time of a spawned process after one warm-up run (warm file cache). laneflow runs as a user runs it, through ' +
        `bin/laneflow, which starts \`render\` from the CLI's V8 start-up snapshot (${snapshot ? 'found for this Node.js' : 'NOT found for this Node.js: these rows ran without it'}); ` +
        'the rows without it run `node bin/laneflow.js`, with the V8 code cache of ELK, which the first-render row deletes first. ' +
        `mermaid-cli runs \`mmdc\` in ${mermaid.browser} (headless shell, puppeteer's executablePath). D2 runs \`node bench/peers/d2-render.mjs\` with its ELK layout, as its documentation shows (no Node.js flags, as laneflow runs), ` +
        "and again with `node --liftoff-only`, which keeps its WebAssembly on V8's baseline compiler and spares the optimising compiler's work on D2's large module, in the same two cores; both are shown and the cold speed-up target applies to both.",
      `Warm D2 is the median of ${D2_WARM_RENDERS} renders in one process after its cold render.`,
    ];
    return { title: 'Swimlane rendering (issue 3)', rows, notes };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
};

export default renderBench;

const D2_WARM_RENDERS = 20;


function compileOrThrow(laneflow: typeof Laneflow, path: string, text: string): CompiledFlow {
  const checked = laneflow.checkSource(path, text);
  if (checked.flow === undefined) throw new Error(`${path} does not compile: ${checked.diagnostics[0]?.message ?? 'no flow'}`);
  return checked.flow;
}

function timeFirstRender(work: string): Timing {
  rmSync(join(root, 'node_modules/.cache/laneflow'), { recursive: true, force: true });
  return spawnMs(process.execPath, ['bin/laneflow.js', 'render', SEED_FLOW, '-o', join(work, 'first.svg')]);
}

async function timeWarm(laneflow: typeof Laneflow, flow: CompiledFlow): Promise<{ median: number; layout: number; svg: number }> {
  for (let run = 0; run < 5; run++) await laneflow.renderSvg(await laneflow.layout(flow));
  const totals: number[] = [];
  const layouts: number[] = [];
  const svgs: number[] = [];
  for (let run = 0; run < WARM_RENDERS; run++) {
    const start = performance.now();
    const diagram = await laneflow.layout(flow);
    const laidOut = performance.now();
    await laneflow.renderSvg(diagram);
    const end = performance.now();
    totals.push(end - start);
    layouts.push(laidOut - start);
    svgs.push(end - laidOut);
  }
  return { median: median(totals), layout: median(layouts), svg: median(svgs) };
}

/** Warm stage times on the large flow, median of 3 after one warm-up. */
async function timeStages(laneflow: typeof Laneflow, flow: CompiledFlow): Promise<{ layout: number; svg: number }> {
  await laneflow.renderSvg(await laneflow.layout(flow));
  const layouts: number[] = [];
  const svgs: number[] = [];
  for (let run = 0; run < 3; run++) {
    const start = performance.now();
    const diagram = await laneflow.layout(flow);
    const laidOut = performance.now();
    await laneflow.renderSvg(diagram);
    layouts.push(laidOut - start);
    svgs.push(performance.now() - laidOut);
  }
  return { layout: median(layouts), svg: median(svgs) };
}

interface Peer {
  name: string;
  seedCold: Timing;
  seedWarm?: Timing;
  largeCold: Timing;
}

async function mermaidPeer(work: string, seed: CompiledFlow, large: CompiledFlow): Promise<Peer & { browser: string }> {
  const name = `mermaid-cli ${packageVersion('@mermaid-js/mermaid-cli')} (mermaid ${packageVersion('mermaid')})`;
  const mmdc = join(root, 'node_modules/.bin/mmdc');
  if (!existsSync(mmdc)) return { ...unavailable(name, 'mmdc is not installed (npm install --save-dev @mermaid-js/mermaid-cli)'), browser: 'no browser' };
  let chromium: TestChromium;
  try {
    chromium = await testChromium();
  } catch (error) {
    return { ...unavailable(name, `no Chromium: ${error instanceof Error ? error.message : String(error)}`), browser: 'no browser' };
  }
  const config = join(work, 'puppeteer.json');
  writeFileSync(config, JSON.stringify({ executablePath: chromium.executablePath, headless: 'shell', args: [...chromium.args, '--disable-quic'] }));
  // mermaid refuses diagrams over 500 edges by default, a guard for browsers; this one is big on purpose.
  const mermaidConfig = join(work, 'mermaid.json');
  writeFileSync(mermaidConfig, JSON.stringify({ maxEdges: 100_000, maxTextSize: 10_000_000 }));
  const render = (flow: CompiledFlow, file: string, runs: number) => {
    writeFileSync(join(work, `${file}.mmd`), toMermaid(flow));
    // The browser's environment: the npm Chromium finds its libraries and font through it.
    return medianSpawnMs(mmdc, ['-i', join(work, `${file}.mmd`), '-o', join(work, `${file}.mermaid.svg`), '-p', config, '-c', mermaidConfig], runs, {
      ...chromium.env,
      PUPPETEER_SKIP_DOWNLOAD: '1',
    });
  };
  return { name, seedCold: render(seed, 'seed', 3), largeCold: render(large, 'large', 1), browser: chromium.source };
}

/** D2's WebAssembly build in a Node.js process started with `flags`. */
function d2Peer(work: string, seed: CompiledFlow, large: CompiledFlow, flags: string[]): Peer {
  const name = `D2 ${packageVersion('@terrastruct/d2')} (wasm, ELK layout${flags.length > 0 ? `, node ${flags.join(' ')}` : ''})`;
  if (!existsSync(join(root, 'node_modules/@terrastruct/d2/package.json'))) {
    return unavailable(name, '@terrastruct/d2 is not installed (npm install --save-dev @terrastruct/d2)');
  }
  const script = join(root, 'bench/peers/d2-render.mjs');
  const render = (flow: CompiledFlow, file: string, runs: number) => {
    writeFileSync(join(work, `${file}.d2`), toD2(flow));
    return medianSpawnMs(process.execPath, [...flags, script, join(work, `${file}.d2`), join(work, `${file}.d2.svg`)], runs);
  };
  const seedCold = render(seed, 'seed', 3);
  const warmRun = spawnSync(process.execPath, [...flags, script, join(work, 'seed.d2'), join(work, 'seed.d2.svg'), '--repeat', String(D2_WARM_RENDERS)], {
    cwd: root,
    encoding: 'utf8',
  });
  const seedWarm: Timing =
    warmRun.status === 0 ? { ok: true, ms: Number(warmRun.stdout.trim()) } : { ok: false, failure: failure(warmRun.status, warmRun.stderr) };
  return { name, seedCold, seedWarm, largeCold: render(large, 'large', 1) };
}

function unavailable(name: string, why: string): Peer {
  const timing: Timing = { ok: false, failure: `unavailable: ${why}` };
  return { name, seedCold: timing, seedWarm: timing, largeCold: timing };
}

/** The flow as a mermaid flowchart: a subgraph per lane, the same ids, shapes, edges and labels. */
function toMermaid(flow: CompiledFlow): string {
  const text = (value: string) => `"${value.replace(/"/g, '#quot;')}"`;
  const shape = (node: FlowNode) =>
    node.shape === 'circle' ? `((${text(node.label)}))` : node.shape === 'diamond' ? `{${text(node.label)}}` : `[${text(node.label)}]`;
  const out = ['flowchart LR'];
  for (const lane of flow.lanes) {
    out.push(`  subgraph lane_${lane.id} [${text(lane.label)}]`);
    for (const node of flow.nodes.filter((n) => n.lane === lane.id)) out.push(`    ${node.id}${shape(node)}`);
    out.push('  end');
  }
  for (const edge of flow.edges) out.push(`  ${edge.from.node} -->${edge.label ? `|${text(edge.label)}|` : ''} ${edge.to.node}`);
  return out.join('\n') + '\n';
}

/** The flow in D2: a container per lane, the same ids, shapes, edges and labels. */
function toD2(flow: CompiledFlow): string {
  const text = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const laneOf = new Map(flow.nodes.map((node) => [node.id, node.lane]));
  const out = ['direction: right'];
  for (const lane of flow.lanes) {
    out.push(`lane_${lane.id}: ${text(lane.label)} {`);
    for (const node of flow.nodes.filter((n) => n.lane === lane.id)) {
      const shape = node.shape === 'circle' ? 'circle' : node.shape === 'diamond' ? 'diamond' : 'rectangle';
      out.push(`  ${node.id}: ${text(node.label)} { shape: ${shape} }`);
    }
    out.push('}');
  }
  for (const edge of flow.edges) {
    const end = (node: string) => `lane_${laneOf.get(node)}.${node}`;
    out.push(`${end(edge.from.node)} -> ${end(edge.to.node)}${edge.label ? `: ${text(edge.label)}` : ''}`);
  }
  return out.join('\n') + '\n';
}

function speedupRow(measure: string, ours: Timing, theirs: Timing, peer: string): BenchRow {
  if (!ours.ok || !theirs.ok) {
    return { measure, laneflow: 'n/a', peer, peerValue: theirs.ok ? '1x' : theirs.failure, target: `>= ${SPEEDUP_TARGET}x` };
  }
  const speedup = theirs.ms / ours.ms;
  return { measure, laneflow: `${speedup.toFixed(1)}x`, peer, peerValue: '1x', target: `>= ${SPEEDUP_TARGET}x`, met: speedup >= SPEEDUP_TARGET };
}

function show(timing: Timing | undefined): string {
  if (timing === undefined) return '';
  return timing.ok ? ms(timing.ms) : timing.failure;
}

