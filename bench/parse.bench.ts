// Parse + validate speed on a generated 10,000-node flow beside mermaid's flowchart parser on the
// equivalent graph, and CLI start-up for `check` beside the same CLI run unbundled.
import { flowLexer } from '../src/parser/tokens';
import { generateGraph, toFlowSource, toMermaidSource, type GeneratedGraph } from './generate-flow';
import type { Bench, BenchRow } from './table';
import { importBundle, LAUNCHER, launcherUsesSnapshot, median, medianSpawnMs, ms, packageVersion, root } from './measure';

const FLOW_SIZE = { lanes: 10, nodes: 10_000, edges: 12_000, seed: 20_260_101 };
const CHECK_TARGET_MS = 200;
const SPEEDUP_TARGET = 5;
const CLI_START_TARGET_MS = 300;
const SMALL_FILE = 'flows/plan-upgrade.flow';

const parseBench: Bench = async () => {
  const { checkSource, compile, hasErrors, parse } = await importBundle();
  const graph = generateGraph(FLOW_SIZE);
  const text = toFlowSource(graph);
  const path = 'generated-10k.flow';
  const checked = checkSource(path, text);
  if (hasErrors(checked.diagnostics)) {
    throw new Error(`the generated flow has errors, first: ${checked.diagnostics[0]!.message}`);
  }
  const tokens = flowLexer.tokenize(text).tokens.length;

  const checkMs = medianMs(() => checkSource(path, text), { warmups: 3, runs: 9 });
  const parseMs = medianMs(() => parse(path, text), { warmups: 2, runs: 7 });
  const ast = parse(path, text).ast;
  const compileMs = medianMs(() => compile(ast), { warmups: 2, runs: 7 });
  const mermaid = await timeMermaid(graph);
  const cliMs = medianSpawnMs(LAUNCHER, ['check', SMALL_FILE], 10);
  const cliPlainMs = medianSpawnMs(process.execPath, ['bin/laneflow.js', 'check', SMALL_FILE], 10);
  const cliSnapshotMs = medianSpawnMs(process.execPath, ['--snapshot-blob', `${root}dist/snapshot/laneflow.blob`, 'bin/laneflow.js', 'check', SMALL_FILE], 10);
  const snapshot = launcherUsesSnapshot('check');
  const unbundledMs = medianSpawnMs(process.execPath, ['--import', 'tsx', 'bench/check-unbundled.ts', 'check', SMALL_FILE], 6);

  const mermaidPeer = `mermaid ${packageVersion('mermaid')} parse (jsdom ${packageVersion('jsdom')})`;
  const speedup = 'ms' in mermaid ? mermaid.ms / checkMs : undefined;
  const rows: BenchRow[] = [
    {
      measure: `parse + validate ${size(graph)} (checkSource, median of 9)`,
      laneflow: ms(checkMs),
      peer: mermaidPeer,
      peerValue: 'ms' in mermaid ? ms(mermaid.ms) : `unavailable: ${mermaid.unavailable}`,
      target: `< ${CHECK_TARGET_MS} ms`,
      met: checkMs < CHECK_TARGET_MS,
    },
    { measure: '  of which parse (lex + statements to AST)', laneflow: ms(parseMs) },
    { measure: '  of which validate + compile', laneflow: ms(compileMs) },
    {
      measure: `throughput (${tokens.toLocaleString('en')} tokens, checkSource)`,
      laneflow: `${((tokens / checkMs) * 1000 / 1e6).toFixed(2)} M tokens/s`,
    },
    {
      measure: 'speed-up vs mermaid parse',
      laneflow: speedup === undefined ? 'n/a' : `${speedup.toFixed(1)}x`,
      peer: mermaidPeer,
      peerValue: speedup === undefined ? `unavailable: ${'unavailable' in mermaid ? mermaid.unavailable : ''}` : '1x',
      target: `>= ${SPEEDUP_TARGET}x`,
      ...(speedup !== undefined && { met: speedup >= SPEEDUP_TARGET }),
    },
    {
      measure: `CLI start: check ${SMALL_FILE} (median of 10)`,
      laneflow: cliMs.ok ? ms(cliMs.ms) : cliMs.failure,
      peer: 'same CLI unbundled: tsx + src, chevrotain default entry',
      peerValue: unbundledMs.ok ? ms(unbundledMs.ms) : unbundledMs.failure,
      target: `< ${CLI_START_TARGET_MS} ms`,
      met: cliMs.ok && cliMs.ms < CLI_START_TARGET_MS,
    },
    { measure: '  without the start-up snapshot (node bin/laneflow.js)', laneflow: cliPlainMs.ok ? ms(cliPlainMs.ms) : cliPlainMs.failure },
    { measure: '  from the start-up snapshot (node --snapshot-blob …)', laneflow: cliSnapshotMs.ok ? ms(cliSnapshotMs.ms) : cliSnapshotMs.failure },
  ];
  const notes = [
    `Input: seeded generated flow (bench/generate-flow.ts, seed ${FLOW_SIZE.seed}), ${(text.length / 1e6).toFixed(2)} MB, ` +
      `${checked.diagnostics.length} diagnostics. laneflow times are in-process, after warm-up, on dist/index.js: the esbuild ` +
      "bundle the CLI and the package ship (src/ under tsx runs slower: tsx's keepNames wraps each closure in `__name`).",
    'ms' in mermaid
      ? `mermaid parsed ${mermaid.vertices} vertices, ${mermaid.edges} edges, ${mermaid.subgraphs} subgraphs (median of 3 after 1 warm-up).`
      : `mermaid: unavailable: ${mermaid.unavailable}`,
    `CLI start runs bin/laneflow as a user does, which here starts \`check\` ${snapshot ? 'from the start-up snapshot' : 'without the start-up snapshot (node bin/laneflow.js)'}; both ways are timed below it.`,
    'CLI start is wall time of a spawned process, warm file cache; the peer runs bench/check-unbundled.ts with `node --import tsx`.',
  ];
  return { title: 'Parse + validate (issue 2)', rows, notes };
};

export default parseBench;


type MermaidTiming = { ms: number; vertices: number; edges: number; subgraphs: number } | { unavailable: string };

/** The parts of mermaid's flowchart db read here to confirm it parsed the whole graph. */
interface FlowchartDb {
  getVertices(): Map<string, unknown>;
  getEdges(): unknown[];
  getSubGraphs(): unknown[];
}

/** mermaid.parse on the equivalent graph, in a jsdom window set up as globals for DOMPurify. */
async function timeMermaid(graph: GeneratedGraph): Promise<MermaidTiming> {
  const globals = ['window', 'document'] as const;
  const saved = globals.map((name) => Object.getOwnPropertyDescriptor(globalThis, name));
  let closeWindow = () => {};
  try {
    const { JSDOM } = await import('jsdom');
    const dom = new JSDOM('<!doctype html><html><body></body></html>');
    closeWindow = () => dom.window.close();
    // DOMPurify looks for `window` when it is first imported, so the globals come first.
    Object.assign(globalThis, { window: dom.window, document: dom.window.document });
    const mermaid = (await import('mermaid')).default;
    // Both limits exist to protect browsers from huge inputs; this input is huge on purpose.
    mermaid.initialize({ startOnLoad: false, maxEdges: 1_000_000, maxTextSize: 100_000_000 });
    const text = toMermaidSource(graph);
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const db = diagram.db as unknown as FlowchartDb;
    const counts = { vertices: db.getVertices().size, edges: db.getEdges().length, subgraphs: db.getSubGraphs().length };
    const times: number[] = [];
    for (let run = 0; run < 4; run++) {
      const start = performance.now();
      await mermaid.parse(text);
      if (run > 0) times.push(performance.now() - start);
    }
    return { ms: median(times), ...counts };
  } catch (error) {
    return { unavailable: error instanceof Error ? error.message.split('\n')[0]! : String(error) };
  } finally {
    globals.forEach((name, i) => {
      const descriptor = saved[i];
      if (descriptor === undefined) Reflect.deleteProperty(globalThis, name);
      else Object.defineProperty(globalThis, name, descriptor);
    });
    closeWindow();
  }
}

function medianMs(run: () => unknown, { warmups, runs }: { warmups: number; runs: number }): number {
  for (let i = 0; i < warmups; i++) run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  return median(times);
}

function size(graph: GeneratedGraph): string {
  const nodes = graph.lanes.reduce((sum, lane) => sum + lane.nodes.length, 0);
  return `${nodes.toLocaleString('en')} nodes / ${graph.edges.length.toLocaleString('en')} edges`;
}

