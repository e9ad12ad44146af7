// What the README's Live preview promises of the diagram, driven in headless Chromium: it is drawn
// again 150 ms after typing stops (never sooner, and not long after), it pans by drag and arrow
// keys, it exports as an SVG file holding the diagram on screen, and 1:1 shows it at scale 1.
// Times are taken inside the page (performance.now() at each input event, at each preview request
// and at each new drawing), so the test's own round trips to the browser do not count.
import { readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve/server';
import { openTestBrowser, type TestBrowser } from '../helpers/chromium';
import { makeWorkspace, serve, type Workspace } from './helpers';

/** The page's delay between the last keystroke and the request that draws the text. */
const PREVIEW_DELAY_MS = 150;
/**
 * How late after the last keystroke the request may start: the delay, plus room for a timer
 * firing late on a shared 2-core machine. A delay of a second or more fails.
 */
const LATEST_REQUEST_MS = 1_000;
/** Generous: the machine is shared, and a first layout loads ELK. Every wait is for a condition. */
const WAIT = { timeout: 20_000 };

/** What the init script records in the page, in performance.now() milliseconds. */
interface Probe {
  inputs: number[];
  previews: number[];
  drawings: number[];
}

interface View {
  x: number;
  y: number;
  scale: number;
}

let workspace: Workspace;
let server: RunningServer;
let context: BrowserContext;
let page: Page;
let browser: TestBrowser;
const pageErrors: string[] = [];

beforeAll(async () => {
  workspace = makeWorkspace();
  server = await serve(workspace);
  browser = await openTestBrowser({ colorScheme: 'light', acceptDownloads: true });
  context = browser.context;
  // Runs before the page's own scripts: a capturing input listener fires before the editor's.
  await context.addInitScript(() => {
    const probe: Probe = { inputs: [], previews: [], drawings: [] };
    (window as unknown as { laneflowProbe: Probe }).laneflowProbe = probe;
    document.addEventListener('input', () => probe.inputs.push(performance.now()), true);
    const fetchAsSent = window.fetch.bind(window);
    window.fetch = (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (url.includes('/api/preview')) probe.previews.push(performance.now());
      return fetchAsSent(input, init);
    };
    document.addEventListener('DOMContentLoaded', () => {
      new MutationObserver(() => probe.drawings.push(performance.now())).observe(document.getElementById('canvas')!, { childList: true });
    });
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error.message));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  workspace?.remove();
});

async function diagramShows(text: string): Promise<void> {
  await page.waitForFunction((wanted) => [...document.querySelectorAll('#canvas svg text')].some((t) => t.textContent?.includes(wanted)), text, WAIT);
}

async function probe(): Promise<Probe> {
  return page.evaluate(() => (window as unknown as { laneflowProbe: Probe }).laneflowProbe);
}

/** The canvas's CSS transform, as the diagram sets it: `translate(Xpx, Ypx) scale(S)`. */
async function view(): Promise<View> {
  const transform = await page.locator('#canvas').evaluate((canvas) => (canvas as HTMLElement).style.transform);
  const match = /^translate\((-?[\d.e-]+)px, (-?[\d.e-]+)px\) scale\(([\d.e-]+)\)$/.exec(transform);
  if (match === null) throw new Error(`unexpected canvas transform: ${transform}`);
  return { x: Number(match[1]), y: Number(match[2]), scale: Number(match[3]) };
}

/** Where the drawing is on screen. */
async function drawingBox(): Promise<{ x: number; y: number; width: number; height: number }> {
  const box = await page.locator('#canvas svg').boundingBox();
  if (box === null) throw new Error('the diagram is not on screen');
  return box;
}

describe('the serve page\'s diagram in Chromium', () => {
  it('draws the text again 150 ms after the last keystroke, not before, and soon after', async () => {
    await page.goto(new URL('/flow/order.flow', server.url).href);
    await diagramShows('Check order');
    await page.evaluate(() => {
      const recorded = (window as unknown as { laneflowProbe: Probe }).laneflowProbe;
      recorded.inputs.length = 0;
      recorded.previews.length = 0;
      recorded.drawings.length = 0;
      const editor = document.querySelector<HTMLTextAreaElement>('#source')!;
      const start = editor.value.indexOf('Check order');
      editor.focus();
      editor.setSelectionRange(start, start + 'Check order'.length);
    });
    await page.keyboard.type('Validate the basket');
    await diagramShows('Validate the basket');
    const { inputs, previews, drawings } = await probe();
    const lastInput = inputs.at(-1)!;
    console.log(
      `${inputs.length} keystrokes, ${previews.length} preview request(s); the last request ${(previews.at(-1)! - lastInput).toFixed(1)} ms and the drawing ` +
        `${(drawings.at(-1)! - lastInput).toFixed(1)} ms after the last keystroke`,
    );
    expect(inputs.length).toBe('Validate the basket'.length);
    expect(previews.length).toBeGreaterThan(0);
    // No request within 150 ms of a keystroke: each comes after a pause of at least the delay.
    for (const sent of previews) {
      const before = inputs.filter((input) => input <= sent);
      expect(before.length).toBeGreaterThan(0);
      expect(sent - before.at(-1)!).toBeGreaterThanOrEqual(PREVIEW_DELAY_MS - 1);
    }
    // The last keystroke's text is requested once the delay is over, not long after.
    expect(previews.at(-1)!).toBeGreaterThan(lastInput);
    expect(previews.at(-1)! - lastInput).toBeLessThan(LATEST_REQUEST_MS);
    // And drawn from that request: the diagram changed after it, and not before the delay.
    expect(drawings.length).toBeGreaterThan(0);
    expect(drawings.at(-1)!).toBeGreaterThan(previews.at(-1)!);
    expect(drawings.every((drawn) => drawn - Math.max(...inputs.filter((input) => input <= drawn)) >= PREVIEW_DELAY_MS - 1)).toBe(true);
    expect(await page.locator('#save-status').textContent()).toBe('Edited, not saved');
  }, 60_000);

  it('exports the diagram on screen as an SVG file', async () => {
    const [download] = await Promise.all([page.waitForEvent('download', WAIT), page.locator('#export-svg').click()]);
    expect(download.suggestedFilename()).toBe('order.svg');
    const exported = readFileSync((await download.path())!, 'utf8');
    // The same drawing as on screen, unsaved edit included: the same labels and nodes.
    const compared = await page.evaluate((text) => {
      const parsed = new DOMParser().parseFromString(text, 'image/svg+xml');
      const labels = (root: ParentNode) => [...root.querySelectorAll('text')].map((t) => t.textContent);
      const nodes = (root: ParentNode) => [...root.querySelectorAll('[data-node-id]')].map((n) => n.getAttribute('data-node-id'));
      const shown = document.querySelector('#canvas svg')!;
      return {
        root: parsed.documentElement.localName,
        namespace: parsed.documentElement.namespaceURI,
        parseErrors: parsed.getElementsByTagName('parsererror').length,
        exported: { labels: labels(parsed), nodes: nodes(parsed) },
        shown: { labels: labels(shown), nodes: nodes(shown) },
      };
    }, exported);
    expect(compared).toMatchObject({ root: 'svg', namespace: 'http://www.w3.org/2000/svg', parseErrors: 0 });
    expect(compared.exported).toEqual(compared.shown);
    expect(compared.exported.labels).toContain('Validate the basket');
    expect(compared.exported.nodes).toEqual(['n1', 'n2', 'n3', 'n4', 'n5', 'n6']);
  }, 60_000);

  it('pans by dragging: the drawing follows the pointer', async () => {
    const before = await view();
    const boxBefore = await drawingBox();
    const viewport = (await page.locator('#viewport').boundingBox())!;
    const from = { x: viewport.x + viewport.width / 2, y: viewport.y + viewport.height / 2 };
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move(from.x + 60, from.y + 35, { steps: 4 });
    await page.mouse.move(from.x + 120, from.y + 70, { steps: 4 });
    await page.mouse.up();
    const after = await view();
    expect(after.x - before.x).toBeCloseTo(120, 5);
    expect(after.y - before.y).toBeCloseTo(70, 5);
    expect(after.scale).toBe(before.scale);
    const boxAfter = await drawingBox();
    expect(boxAfter.x - boxBefore.x).toBeCloseTo(120, 0);
    expect(boxAfter.y - boxBefore.y).toBeCloseTo(70, 0);
    expect(boxAfter.width).toBeCloseTo(boxBefore.width, 3);
  }, 60_000);

  it('pans with the arrow keys: the view moves towards the arrow', async () => {
    await page.locator('#viewport').focus();
    const moves: [string, number, number][] = [
      ['ArrowLeft', 60, 0],
      ['ArrowUp', 0, 60],
      ['ArrowRight', -60, 0],
      ['ArrowDown', 0, -60],
    ];
    for (const [key, dx, dy] of moves) {
      const before = await view();
      const boxBefore = await drawingBox();
      await page.keyboard.press(key);
      const after = await view();
      expect([key, after.x - before.x, after.y - before.y, after.scale]).toEqual([key, dx, dy, before.scale]);
      const boxAfter = await drawingBox();
      expect(boxAfter.x - boxBefore.x).toBeCloseTo(dx, 0);
      expect(boxAfter.y - boxBefore.y).toBeCloseTo(dy, 0);
    }
  }, 60_000);

  it('shows the diagram at scale 1 with 1:1 and with the key 1', async () => {
    await page.locator('#zoom-in').click();
    await page.locator('#zoom-in').click();
    expect((await view()).scale).not.toBe(1);
    await page.locator('#zoom-actual').click();
    expect((await view()).scale).toBe(1);
    expect(await page.locator('#zoom-level').textContent()).toBe('100%');
    // One pixel per unit of the SVG's own size.
    const width = Number(await page.locator('#canvas svg').getAttribute('width'));
    expect((await drawingBox()).width).toBeCloseTo(width, 0);

    await page.locator('#zoom-out').click();
    expect((await view()).scale).toBeCloseTo(0.8, 5);
    await page.locator('#viewport').focus();
    await page.keyboard.press('1');
    expect((await view()).scale).toBe(1);
    expect((await drawingBox()).width).toBeCloseTo(width, 0);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
