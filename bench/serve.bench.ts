// laneflow serve's live preview: how long after a keystroke the page shows the new diagram. In
// Chromium (headless, Debian's): a label of plan-upgrade.flow retyped, timed from its last key to
// the label in the drawn SVG. Over HTTP alone: the preview endpoint for each seed flow and for a
// generated 120-node flow, each text new to the server (no cache).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../src/cli/serve/server';
import { generateGraph, toFlowSource } from './generate-flow';
import type { Bench, BenchRow } from './table';
import { median, root } from './measure';

const CHROMIUM = '/usr/bin/chromium';
const TARGET_MS = 1000;
const SEEDS = ['plan-upgrade.flow', 'webhook-integration.flow'];
const BIG = { lanes: 6, nodes: 120, edges: 150, seed: 3 };

const serveBench: Bench = async () => {
  const work = mkdtempSync(join(tmpdir(), 'laneflow-serve-bench-'));
  for (const seed of SEEDS) cpSync(join(root, 'flows', seed), join(work, seed));
  writeFileSync(join(work, 'generated-120.flow'), toFlowSource(generateGraph(BIG)));
  const server = await startServer({ folder: work, host: '127.0.0.1', port: 0, database: join(work, 'none.db') });
  try {
    const rows: BenchRow[] = [];
    const typed = await keystrokeToDiagram(server.url);
    rows.push(
      typed === undefined
        ? { measure: 'keystroke → diagram in Chromium, plan-upgrade.flow (median of 7)', laneflow: `unavailable: no ${CHROMIUM}` }
        : { measure: 'keystroke → diagram in Chromium, plan-upgrade.flow (median of 7)', laneflow: `${typed} ms`, target: `< ${TARGET_MS} ms`, met: typed < TARGET_MS },
    );
    for (const [name, runs] of [...SEEDS.map((seed) => [seed, 9] as const), ['generated-120.flow (120 nodes, 6 lanes)', 3] as const]) {
      const file = name.split(' ')[0]!;
      const ms = await previewMs(server.url, file, readFileSync(join(work, file), 'utf8'), runs);
      const small = SEEDS.includes(file);
      rows.push({ measure: `POST /api/preview, ${name} (median of ${runs})`, laneflow: `${ms} ms`, ...(small && { target: `< ${TARGET_MS} ms`, met: ms < TARGET_MS }) });
    }
    return {
      title: 'laneflow serve: live preview',
      rows,
      notes: ['Each text is new to the server (a comment line numbered per run), so every preview checks, lays out and draws.'],
    };
  } finally {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  }
};

export default serveBench;

async function previewMs(url: string, name: string, text: string, runs: number): Promise<number> {
  const times: number[] = [];
  for (let run = 0; run <= runs; run++) {
    const started = performance.now();
    const response = await fetch(new URL('/api/preview', url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name, text: `// run ${run}\n${text}`, theme: 'light' }),
    });
    const preview = (await response.json()) as { svg?: string };
    if (preview.svg === undefined) throw new Error(`${name} did not draw`);
    // The first run loads the layout and SVG modules: the page's first view, not its typing.
    if (run > 0) times.push(performance.now() - started);
  }
  return median(times);
}

async function keystrokeToDiagram(url: string): Promise<number | undefined> {
  const { existsSync } = await import('node:fs');
  if (!existsSync(CHROMIUM)) return undefined;
  const { chromium } = await import('playwright-core');
  const userData = mkdtempSync(join(tmpdir(), 'laneflow-serve-bench-chromium-'));
  const context = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(new URL('/flow/plan-upgrade.flow', url).toString());
    await page.waitForSelector('#canvas svg');
    const times: number[] = [];
    let previous = 'Select new plan tier';
    for (let run = 1; run <= 7; run++) {
      const label = `Pick plan ${run}`;
      await page.evaluate((find) => {
        const editor = document.querySelector<HTMLTextAreaElement>('#source')!;
        const start = editor.value.indexOf(find);
        editor.focus();
        editor.setSelectionRange(start, start + find.length);
      }, previous);
      await page.keyboard.type(label);
      const lastKey = performance.now();
      await page.waitForFunction((wanted) => [...document.querySelectorAll('#canvas svg text')].some((t) => t.textContent === wanted), label);
      times.push(performance.now() - lastKey);
      previous = label;
    }
    return median(times);
  } finally {
    await context.close();
    rmSync(userData, { recursive: true, force: true });
  }
}

