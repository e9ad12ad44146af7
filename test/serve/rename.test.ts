// The open file renamed or deleted on disk, in a real browser (headless Chromium, as in
// browser.test.ts): the page says so and keeps the text, to be saved under a new name or again.
import { existsSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve/server';
import { openTestBrowser, type TestBrowser } from '../helpers/chromium';
import { makeWorkspace, ORDER_FLOW, serve, type Workspace } from './helpers';

const WAIT = { timeout: 20_000 };

let workspace: Workspace;
let server: RunningServer;
let context: BrowserContext;
let page: Page;
let browser: TestBrowser;
const pageErrors: string[] = [];

beforeAll(async () => {
  workspace = makeWorkspace();
  server = await serve(workspace);
  browser = await openTestBrowser();
  context = browser.context;
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error.message));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  workspace?.remove();
});

const saveStatus = () => page.locator('#save-status').textContent();
const untilStatus = (text: string) => page.waitForFunction((wanted) => document.querySelector('#save-status')!.textContent === wanted, text, WAIT);

describe('laneflow serve: the open file renamed on disk', () => {
  it('says the file is gone instead of "Saved", and Ctrl+S offers Save as rather than failing', async () => {
    await page.goto(new URL('/flow/order.flow', server.url).toString());
    await page.waitForFunction(() => document.querySelector('#canvas svg') !== null, null, WAIT);
    await untilStatus('Saved');
    await page.locator('#source').press('Control+End');
    await page.keyboard.type('\n');
    renameSync(join(workspace.flows, 'order.flow'), join(workspace.flows, 'order-renamed.flow'));
    await page.locator('#gone-notice').waitFor({ state: 'visible', ...WAIT });
    expect(await page.locator('#gone-notice-text').textContent()).toBe('order.flow is no longer on disk: it was renamed or deleted. Your text is still here.');
    expect(await saveStatus()).toBe('Not on disk: renamed or deleted');
    await page.keyboard.press('Control+s');
    expect(await saveStatus()).toBe('Not on disk: renamed or deleted');
    expect(await page.locator('#save-as-name').inputValue()).toBe('order.flow');
    expect(existsSync(join(workspace.flows, 'order.flow'))).toBe(false);
  }, 60_000);

  it('saves the text under a new name and opens its page', async () => {
    const text = await page.locator('#source').inputValue();
    await page.locator('#save-as-name').fill('billing/kept');
    await Promise.all([page.waitForURL('**/flow/billing/kept.flow', WAIT), page.locator('#save-as').click()]);
    expect(readFileSync(join(workspace.flows, 'billing', 'kept.flow'), 'utf8')).toBe(text);
    expect(readFileSync(join(workspace.flows, 'order-renamed.flow'), 'utf8')).toBe(ORDER_FLOW);
    await untilStatus('Saved');
  }, 60_000);

  it('creates a deleted file again with the text the page holds', async () => {
    const text = await page.locator('#source').inputValue();
    unlinkSync(join(workspace.flows, 'billing', 'kept.flow'));
    await page.locator('#gone-notice').waitFor({ state: 'visible', ...WAIT });
    await page.locator('#recreate').click();
    await untilStatus('Saved');
    expect(readFileSync(join(workspace.flows, 'billing', 'kept.flow'), 'utf8')).toBe(text);
    expect(await page.locator('#gone-notice').isHidden()).toBe(true);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
