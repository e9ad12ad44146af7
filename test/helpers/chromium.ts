// The Chromium that the browser tests drive through playwright-core: Debian's /usr/bin/chromium
// when it is installed, otherwise the one shipped inside the @sparticuz/chromium npm package
// (a devDependency), so the tests run wherever `npm install` has run, without apt or a
// download. LANEFLOW_TEST_CHROMIUM=npm forces the npm one, =system Debian's.
//
// The npm package holds a headless Chromium and what it needs beside it, brotli-compressed:
// the binary (chromium.br), its SwiftShader graphics libraries (swiftshader.tar.br, loaded from
// the binary's own folder), the NSS, NSPR and expat libraries it links against
// (al2023.tar.br, which the package itself unpacks only on Amazon Linux, but which a machine
// without Chromium's dependencies lacks just the same) and a font (fonts.tar.br). They are
// unpacked once per package version into the temporary folder; the package's own
// executablePath() would unpack to a fixed /tmp/chromium, whatever the version, and skip the
// libraries.
import { spawn } from 'node:child_process';
import type { BrowserContext } from 'playwright-core';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { brotliDecompress, createBrotliDecompress } from 'node:zlib';

const SYSTEM_CHROMIUM = '/usr/bin/chromium';
const decompress = promisify(brotliDecompress);

/** What the tests pass to playwright-core's launch. */
export interface TestChromium {
  executablePath: string;
  /** The browser's whole environment. */
  env: Record<string, string>;
  args: string[];
  /** Which Chromium it is, for messages. */
  source: string;
}

/**
 * Headless and quiet: no sandbox (the tests run as root in CI, where Chromium's sandbox refuses
 * to start), no GPU, and none of the background traffic a browser starts on its own (updates,
 * sync, first-run pages) on a machine that reaches no network but the package registries.
 */
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

function processEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** A browser test's Chromium: a persistent context on a fresh profile; `close` also removes the profile. */
export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Opens the test Chromium headless at 1440×900, with `options` (colour scheme, downloads) on top. */
export async function openTestBrowser(options: { colorScheme?: 'light' | 'dark'; acceptDownloads?: boolean } = {}): Promise<TestBrowser> {
  const { chromium } = await import('playwright-core');
  const browser = await testChromium();
  const userData = mkdtempSync(join(tmpdir(), 'laneflow-chromium-'));
  const context = await chromium.launchPersistentContext(userData, {
    executablePath: browser.executablePath,
    env: browser.env,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: browser.args,
    ...options,
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(userData, { recursive: true, force: true });
    },
  };
}

export async function testChromium(): Promise<TestChromium> {
  const choice = process.env['LANEFLOW_TEST_CHROMIUM'] ?? '';
  if (!['', 'npm', 'system'].includes(choice)) throw new Error(`LANEFLOW_TEST_CHROMIUM is "${choice}": it takes npm or system`);
  if (choice === 'system' || (choice === '' && existsSync(SYSTEM_CHROMIUM))) {
    if (!existsSync(SYSTEM_CHROMIUM)) throw new Error(`LANEFLOW_TEST_CHROMIUM=system, and there is no Chromium at ${SYSTEM_CHROMIUM}`);
    return { executablePath: SYSTEM_CHROMIUM, env: processEnv(), args: ARGS, source: SYSTEM_CHROMIUM };
  }
  const { folder, version } = await unpackNpmChromium();
  const libraries = join(folder, 'lib');
  const env = processEnv();
  return {
    executablePath: join(folder, 'chromium'),
    env: {
      ...env,
      LD_LIBRARY_PATH: env['LD_LIBRARY_PATH'] ? `${libraries}:${env['LD_LIBRARY_PATH']}` : libraries,
      FONTCONFIG_FILE: join(folder, 'fonts.conf'),
    },
    args: ARGS,
    source: `@sparticuz/chromium ${version} (${folder})`,
  };
}

/** The package's folder, found from its entry point (its `exports` do not include package.json). */
function packageFolder(): string {
  let folder = dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium'));
  while (!existsSync(join(folder, 'bin', 'chromium.br'))) {
    if (dirname(folder) === folder) throw new Error('@sparticuz/chromium has no bin/chromium.br: run `npm install`');
    folder = dirname(folder);
  }
  return folder;
}

async function unpackNpmChromium(): Promise<{ folder: string; version: string }> {
  const source = packageFolder();
  const { version } = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8')) as { version: string };
  const folder = join(tmpdir(), `laneflow-chromium-${version}`);
  if (existsSync(join(folder, 'chromium'))) return { folder, version };

  // Unpacked beside the final folder and renamed into place, so a run that is stopped halfway,
  // or another unpacking at the same time, never leaves a folder that looks complete and is not.
  const staging = `${folder}.${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, 'lib'), { recursive: true });
  const bin = join(source, 'bin');
  await Promise.all([
    pipeline(createReadStream(join(bin, 'chromium.br')), createBrotliDecompress(), createWriteStream(join(staging, 'chromium'), { mode: 0o755 })),
    untar(join(bin, 'swiftshader.tar.br'), staging),
    untar(join(bin, 'al2023.tar.br'), staging),
    untar(join(bin, 'fonts.tar.br'), staging),
  ]);
  // The package's fonts.conf names Lambda's folders: this one names the unpacked font, then the
  // machine's own configuration when it has one.
  writeFileSync(
    join(staging, 'fonts.conf'),
    `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n  <dir>${join(folder, 'fonts')}</dir>\n  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n  <cachedir>${join(folder, 'fontconfig-cache')}</cachedir>\n</fontconfig>\n`,
  );
  try {
    renameSync(staging, folder);
  } catch (error) {
    // Another process unpacked the same version first.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(folder, 'chromium'))) throw error;
  }
  return { folder, version };
}

/** Unpacks a brotli-compressed tar archive into `folder` with the system's tar. */
async function untar(archive: string, folder: string): Promise<void> {
  const contents = await decompress(await readFile(archive));
  const tar = spawn('tar', ['-x', '--no-same-owner', '-C', folder], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // tar stops reading at the archive's end marker and may close its input before the zero
  // padding after it has been written: its exit code, not the pipe, says whether it worked.
  tar.stdin.on('error', () => {});
  tar.stdin.end(contents);
  await new Promise<void>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar -x of ${archive} exited with ${code}: ${stderr.trim()}`))));
  });
}
