import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import GithubSlugger from 'github-slugger';
import { JSDOM } from 'jsdom';
import { Lexer, walkTokens, type Token, type Tokens } from 'marked';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cases';
import { readmePath, readmeTokens } from './markdown';

// Issue 13: the API reference is generated from the TSDoc comments (`npm run docs`), and every
// internal link of it and of the README resolves: to a file that exists and, with a `#fragment`,
// to an element with that id in it.

/** A link that does not resolve: where it is written, and what it points at. */
interface BrokenLink {
  from: string;
  href: string;
}

/** A link leaves the site when it has a scheme (`https:`, `mailto:`) or is protocol-relative. */
const external = (href: string) => /^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('//');

function htmlFiles(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.html'))
    .map((path) => join(folder, path));
}

/** Every internal href and src of the HTML files under `folder` that names a missing file or anchor. */
function brokenHtmlLinks(folder: string): BrokenLink[] {
  // One parse per page: its ids (and named anchors) for links into it, its references to check.
  const pages = new Map<string, { ids: Set<string>; references: string[] }>();
  for (const file of htmlFiles(folder)) {
    // A fragment shares one window: a window per page would take ten times as long.
    const page = JSDOM.fragment(readFileSync(file, 'utf8'));
    const ids = new Set([...page.querySelectorAll('[id]')].map((e) => e.id));
    for (const anchor of page.querySelectorAll('a[name]')) ids.add(anchor.getAttribute('name')!);
    const references = [...page.querySelectorAll('[href], [src]')].map((e) => e.getAttribute('href') ?? e.getAttribute('src')!);
    pages.set(file, { ids, references });
  }
  const broken: BrokenLink[] = [];
  for (const [file, { references }] of pages) {
    for (const href of references) {
      if (external(href) || href === '') continue;
      const target = new URL(href, pathToFileURL(file));
      const path = fileURLToPath(target);
      const fragment = decodeURIComponent(target.hash.slice(1));
      const exists = existsSync(path) && (statSync(path).isFile() || existsSync(join(path, 'index.html')));
      const resolved = exists && (fragment === '' || !path.endsWith('.html') || pages.get(path)?.ids.has(fragment) === true);
      if (!resolved) broken.push({ from: relative(folder, file), href });
    }
  }
  return broken;
}

/** Every internal link of a Markdown file: `#anchor`s must be headings' GitHub slugs, paths must exist. */
function brokenMarkdownLinks(path: string, tokens: Token[]): BrokenLink[] {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  const links: string[] = [];
  walkTokens(tokens, (token) => {
    if (token.type === 'heading') anchors.add(slugger.slug((token as Tokens.Heading).text));
    if (token.type === 'link') links.push((token as Tokens.Link).href);
  });
  return links
    .filter((href) => !external(href))
    .filter((href) => {
      const [file, fragment] = href.split('#') as [string, string | undefined];
      if (file === '') return !anchors.has(fragment ?? '');
      return !existsSync(join(dirname(path), decodeURIComponent(file)));
    })
    .map((href) => ({ from: relative(repoRoot, path), href }));
}

describe('the link check', () => {
  it('finds a missing page, a missing anchor and a missing README heading', () => {
    const folder = mkdtempSync(join(tmpdir(), 'laneflow-links-'));
    mkdirSync(join(folder, 'classes'));
    writeFileSync(join(folder, 'index.html'), '<a href="classes/Engine.html#start">ok</a><a href="classes/Engine.html#nope">anchor</a><a href="gone.html">page</a><a href="https://example.com/x">out</a>');
    writeFileSync(join(folder, 'classes', 'Engine.html'), '<h2 id="start">start</h2><a href="../index.html">up</a>');
    expect(brokenHtmlLinks(folder)).toEqual([
      { from: 'index.html', href: 'classes/Engine.html#nope' },
      { from: 'index.html', href: 'gone.html' },
    ]);
    const markdown = '# Title\n\n## The .flow language\n\nSee [it](#the-flow-language), [that](#writing-bindings) and [the code](src/nowhere.ts).\n';
    expect(brokenMarkdownLinks(readmePath, Lexer.lex(markdown)).map((b) => b.href)).toEqual(['#writing-bindings', 'src/nowhere.ts']);
  });
});

describe('README', () => {
  it('has no internal link that does not resolve', () => {
    const tokens = readmeTokens();
    expect(brokenMarkdownLinks(readmePath, tokens)).toEqual([]);
    // The reference sections link to each other.
    const links: string[] = [];
    walkTokens(tokens, (token) => {
      if (token.type === 'link') links.push((token as Tokens.Link).href);
    });
    expect(links).toEqual(expect.arrayContaining(['#the-flow-language', '#writing-bindings', '#instances-as-json-laneflow-inspect---json', '#diagnostics', '#api-reference']));
  });
});

describe('API reference (npm run docs)', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'laneflow-api-')), 'api');

  beforeAll(() => {
    const docs = spawnSync(process.execPath, ['scripts/docs.mjs', '--out', out], { cwd: repoRoot, encoding: 'utf8', timeout: 180_000 });
    expect(docs.status, docs.stderr).toBe(0);
  }, 180_000);

  it('is generated from the TSDoc comments of the public API', () => {
    const pages = htmlFiles(out).map((file) => relative(out, file));
    expect(pages).toEqual(expect.arrayContaining(['index.html', 'modules/laneflow.html', 'modules/laneflow_testing.html', 'modules/laneflow_webhooks.html']));
    const page = (name: string) => {
      const file = pages.find((p) => p.endsWith(`${name}.html`));
      expect(file, `a page for ${name}`).toBeDefined();
      return new JSDOM(readFileSync(join(out, file!), 'utf8')).window.document.body.textContent!;
    };
    // Comments from the source, not only names.
    expect(page('HandlerContext')).toContain('the same for every attempt of this visit');
    expect(page('defineBindings')).toContain("Declares a flow's bindings");
    expect(page('Engine')).toContain('The durable runtime');
  });

  it('has no internal link or anchor that does not resolve', () => {
    expect(htmlFiles(out).length).toBeGreaterThan(50);
    expect(brokenHtmlLinks(out)).toEqual([]);
  }, 120_000);
});
