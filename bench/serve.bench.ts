// laneflow serve's live preview: how long after a keystroke the page shows the new diagram. In
// Chromium (headless: the browser tests' Chromium, Debian's or the @sparticuz/chromium one): a label of plan-upgrade.flow retyped, timed from its last key to
// the label in the drawn SVG. Over HTTP alone: the preview endpoint for each seed flow and for a
// generated 120-node flow, each text new to the server (no cache).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../src/cli/serve/server';
import { generateGraph, toFlowSource } from './generate-flow';
import type { Bench, BenchRow } from './table';
import { testChromium } from '../test/helpers/chromium';
import { median, ms, root } from './measure';

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
    const keystroke = 'keystroke → diagram in Chromium, plan-upgrade.flow (median of 7)';
    rows.push(
      'unavailable' in typed
        ? { measure: keystroke, laneflow: `unavailable: ${typed.unavailable}`, target: `< ${TARGET_MS} ms`, met: false }
        : { measure: keystroke, laneflow: ms(typed.ms), target: `< ${TARGET_MS} ms`, met: typed.ms < TARGET_MS },
    );
    for (const [name, runs] of [...SEEDS.map((seed) => [seed, 9] as const), ['generated-120.flow (120 nodes, 6 lanes)', 3] as const]) {
      const file = name.split(' ')[0]!;
      const previewed = await previewMs(server.url, file, readFileSync(join(work, file), 'utf8'), runs);
      const small = SEEDS.includes(file);
      rows.push({ measure: `POST /api/preview, ${name} (median of ${runs})`, laneflow: ms(previewed), ...(small && { target: `< ${TARGET_MS} ms`, met: previewed < TARGET_MS }) });
    }
    return {
      title: 'laneflow serve: live preview',
      rows,
      notes: [
        'Each text is new to the server (a comment line numbered per run), so every preview checks, lays out and draws.',
        `Browser: ${'unavailable' in typed ? 'none' : typed.browser}; the time includes the page's wait after the last key before it asks for a preview.`,
      ],
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

async function keystrokeToDiagram(url: string): Promise<{ ms: number; browser: string } | { unavailable: string }> {
  let browser;
  try {
    browser = await testChromium();
  } catch (error) {
    return { unavailable: `no Chromium: ${error instanceof Error ? error.message : String(error)}` };
  }
  const { chromium } = await import('playwright-core');
  const userData = mkdtempSync(join(tmpdir(), 'laneflow-serve-bench-chromium-'));
  const context = await chromium.launchPersistentContext(userData, { executablePath: browser.executablePath, env: browser.env, headless: true, args: browser.args });
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
    return { ms: median(times), browser: browser.source };
  } finally {
    await context.close();
    rmSync(userData, { recursive: true, force: true });
  }
}

