// laneflow serve in a real browser: headless Chromium driven by playwright-core, Debian's when
// it is installed, otherwise the one inside the @sparticuz/chromium npm package (test/helpers/chromium.ts).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve/server';
import { repoRoot } from '../helpers/cases';
import { openTestBrowser, type TestBrowser } from '../helpers/chromium';
import { makeWorkspace, ORDER_FLOW, runOrderInstance, serve, type Workspace } from './helpers';

/** The page renames labels as it goes; scenarios by node id stay valid. */
const ORDER_SCENARIOS_BY_ID = `scenarios:
  - name: out of stock
    outcomes:
      n2: { return: { checked: true } }
      n3: No
      n5: { return: { backOrdered: true } }
`;
const ARTIFACTS = join(repoRoot, 'test', 'artifacts', 'serve');
/** Generous: the machine is shared, and a first layout loads ELK. Every wait is for a condition. */
const WAIT = { timeout: 20_000 };

let workspace: Workspace;
let server: RunningServer;
let context: BrowserContext;
let page: Page;
let browser: TestBrowser;
const pageErrors: string[] = [];
const dialogs: string[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  workspace = makeWorkspace();
  await runOrderInstance(workspace);
  server = await serve(workspace);
  browser = await openTestBrowser({ colorScheme: 'light' });
  context = browser.context;
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  workspace?.remove();
});

/** Waits until some text of the drawn diagram contains `text`. */
async function diagramShows(text: string): Promise<void> {
  await page.waitForFunction((wanted) => [...document.querySelectorAll('#canvas svg text')].some((t) => t.textContent?.includes(wanted)), text, WAIT);
}

/** Selects `find` (its first occurrence) in the editor and types `replacement` over it, key by key. */
async function typeOver(find: string, replacement: string): Promise<void> {
  await page.evaluate((wanted) => {
    const editor = document.querySelector<HTMLTextAreaElement>('#source')!;
    const start = editor.value.indexOf(wanted);
    if (start < 0) throw new Error(`"${wanted}" is not in the editor`);
    editor.focus();
    editor.setSelectionRange(start, start + wanted.length);
  }, find);
  await page.keyboard.type(replacement);
}

const editorText = () => page.locator('#source').inputValue();
const onDisk = () => readFileSync(join(workspace.flows, 'order.flow'), 'utf8');

describe('laneflow serve in Chromium', () => {
  it('lists the flows and opens one with its diagram', async () => {
    await page.goto(server.url);
    await page.getByRole('link', { name: 'order.flow' }).click();
    await page.waitForURL(/\/flow\/order\.flow$/, WAIT);
    await diagramShows('Check order');
    expect(await editorText()).toBe(ORDER_FLOW);
    await expect.poll(() => page.locator('#diagnostics').textContent()).toContain('No problems.');
  }, 60_000);

  it('redraws the diagram as a label is typed, without saving', async () => {
    await typeOver('Check order', 'Validate the basket');
    const typed = Date.now();
    await diagramShows('Validate the basket');
    console.log(`diagram updated ${Date.now() - typed} ms after the last keystroke`);
    expect(await page.locator('#canvas svg text', { hasText: 'Check order' }).count()).toBe(0);
    await expect.poll(() => page.locator('#save-status').textContent()).toBe('Edited, not saved');
    expect(onDisk()).toBe(ORDER_FLOW);
    await page.screenshot({ path: join(ARTIFACTS, 'flow-edited.png') });
  }, 60_000);

  it('shows the error and its line for a broken line, and clears it when fixed', async () => {
    await typeOver('n4: rectangle', 'n4: rectangel');
    const problem = page.locator('#diagnostics li.error');
    await problem.first().waitFor(WAIT);
    expect(await problem.count()).toBe(1);
    expect(await problem.textContent()).toMatch(/line 5:7 FZ201.*unknown shape `rectangel`.*did you mean `rectangle`\?/);
    expect(await page.locator('#gutter div:nth-child(5)').getAttribute('class')).toBe('error');
    expect(await page.locator('#diagram-message').textContent()).toContain('Line 5:');
    expect(await page.locator('#canvas').getAttribute('class')).toContain('stale');
    await page.screenshot({ path: join(ARTIFACTS, 'flow-error.png') });

    // Clicking the problem selects the offending text in the editor.
    await problem.locator('button').click();
    expect(await page.evaluate(() => {
      const editor = document.querySelector<HTMLTextAreaElement>('#source')!;
      return editor.value.slice(editor.selectionStart, editor.selectionEnd);
    })).toBe('rectangel');

    await typeOver('rectangel', 'rectangle');
    await page.locator('#diagnostics .none').waitFor(WAIT);
    await page.waitForFunction(() => !document.querySelector('#canvas')!.classList.contains('stale'), null, WAIT);
    expect(await page.locator('#diagram-message').isHidden()).toBe(true);
    await diagramShows('Validate the basket');
  }, 60_000);

  it('saves to the file on Ctrl+S', async () => {
    await page.keyboard.press('Control+s');
    await page.waitForFunction(() => document.querySelector('#save-status')!.textContent === 'Saved', null, WAIT);
    expect(onDisk()).toBe(ORDER_FLOW.replace('Check order', 'Validate the basket'));
    expect(onDisk()).toBe(await editorText());
  }, 60_000);

  it('follows the file when it changes on disk', async () => {
    writeFileSync(join(workspace.flows, 'order.flow'), onDisk().replace('Ship it', 'Ship it today'));
    await diagramShows('Ship it today');
    expect(await editorText()).toContain('Ship it today');
    expect(await page.locator('#disk-notice').isHidden()).toBe(true);
  }, 60_000);

  it('asks before replacing unsaved edits with a change on disk', async () => {
    await typeOver('Back-order', 'Back-order it');
    await diagramShows('Back-order it');
    writeFileSync(join(workspace.flows, 'order.flow'), onDisk().replace('End', 'Done'));
    await page.locator('#disk-notice').waitFor({ state: 'visible', ...WAIT });
    expect(await editorText()).toContain('Back-order it');
    await page.locator('#load-disk').click();
    await diagramShows('Done');
    expect(await editorText()).toBe(onDisk());
  }, 60_000);

  it('shows a label that looks like markup as text, running nothing', async () => {
    await page.evaluate(() => {
      (window as unknown as { pwned?: boolean }).pwned = false;
    });
    await typeOver('In stock?', '<img src=x onerror=window.pwned=true>');
    await diagramShows('<img src=x');
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('#canvas svg [onerror]').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: boolean }).pwned)).toBe(false);
    expect(dialogs).toEqual([]);
    await typeOver('<img src=x onerror=window.pwned=true>', 'In stock?');
    await diagramShows('In stock?');
  }, 60_000);

  it('draws an instance\'s path with its timeline beside the diagram', async () => {
    const instance = page.locator('#instances button').first();
    await instance.waitFor(WAIT);
    await instance.click();
    await page.locator('#timeline tbody tr').nth(4).waitFor(WAIT);
    const outcomes = await page.locator('#timeline tbody tr td:nth-child(4)').evaluateAll((cells) => cells.map((cell) => cell.firstChild?.textContent));
    expect(outcomes).toEqual(['started', 'completed', 'decided', 'completed', 'ended']);
    expect(await page.locator('#timeline tbody tr:nth-child(3)').textContent()).toContain('label=No');
    await page.waitForFunction(() => document.querySelectorAll('#canvas svg [data-highlight="taken"]').length === 4, null, WAIT);
    const taken = await page.locator('#canvas svg [data-highlight="taken"]').evaluateAll((paths) => paths.map((p) => p.getAttribute('data-edge-id')).sort());
    expect(taken).toEqual(['n1->n2', 'n2->n3', 'n3->n5', 'n5->n6']);
    await page.screenshot({ path: join(ARTIFACTS, 'flow-instance.png') });
  }, 60_000);

  it('draws what the flow\'s scenarios cover', async () => {
    writeFileSync(join(workspace.flows, 'order.scenarios.yaml'), ORDER_SCENARIOS_BY_ID);
    await page.locator('#coverage').check();
    await page.waitForFunction(() => document.querySelectorAll('#canvas svg [data-highlight="missed"]').length === 2, null, WAIT);
    const missed = await page.locator('#canvas svg [data-highlight="missed"]').evaluateAll((paths) => paths.map((p) => p.getAttribute('data-edge-id')).sort());
    expect(missed).toEqual(['n3->n4', 'n4->n6']);
    expect(await page.locator('#coverage-summary').textContent()).toBe('4 of 6 edges taken by the scenarios in order.scenarios.yaml.');
    await page.screenshot({ path: join(ARTIFACTS, 'flow-coverage.png') });
    await page.locator('#coverage').uncheck();
    await page.waitForFunction(() => document.querySelectorAll('#canvas svg [data-highlight]').length === 0, null, WAIT);
  }, 60_000);

  it('switches to the dark theme and zooms', async () => {
    await page.locator('#theme').click();
    expect(await page.locator('html').getAttribute('data-theme')).toBe('dark');
    await page.waitForFunction(() => document.querySelector('#canvas svg > rect')?.getAttribute('fill') === '#0b1120', null, WAIT);
    const before = await page.locator('#zoom-level').textContent();
    await page.locator('#zoom-in').click();
    expect(await page.locator('#zoom-level').textContent()).not.toBe(before);
    await page.locator('#zoom-fit').click();
    await page.screenshot({ path: join(ARTIFACTS, 'flow-dark.png') });
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
