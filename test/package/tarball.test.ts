// laneflow as another project gets it: `npm pack` of this repository, installed from the tarball
// into a fresh project with nothing of laneflow's source beside it. A strict bindings file that
// imports `laneflow` and `laneflow/webhooks` must type-check under moduleResolution node16,
// nodenext and bundler (and without strict mode), and a flow bound by it must run, through the installed CLI and through
// the library. `npm test` builds dist/ first; this test packs what is there.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cases';
import { ORDER_FLOW } from '../serve/helpers';

/**
 * A user's bindings, checked as strictly as a careful project would. The `@ts-expect-error`
 * lines make the check mean something: were `ctx` or the flow's shape `any`, or the webhook
 * functions untyped, those lines would no longer be errors and tsc would fail on them.
 */
const ORDER_BINDINGS = `import { defineBindings, type HandlerContext } from 'laneflow';
import { generateSecret, signStandard, verifyStandard, type SignedContent } from 'laneflow/webhooks';
import type { Flow } from './order.flow.js';

export interface OrderData {
  order: string;
  quantity: number;
  stock?: number;
  receipt?: string;
  receiptVerified?: boolean;
  shipped?: boolean;
}

const secret = generateSecret();

/** Signs the order as a webhook would be, and checks the signature as a receiver would. */
function signReceipt(ctx: HandlerContext<OrderData>): { receipt: string; receiptVerified: boolean } {
  const content: SignedContent = { id: ctx.idempotencyKey, timestamp: Math.floor(ctx.now().getTime() / 1000), body: JSON.stringify({ order: ctx.data.order }) };
  const receipt = signStandard(content, secret);
  const verified = verifyStandard(
    { id: content.id, timestamp: String(content.timestamp), signature: receipt },
    content.body,
    [secret],
    { now: ctx.now().getTime() },
  );
  // @ts-expect-error a verification result is a union: its reason exists only when ok is false
  const unchecked: string = verified.reason;
  void unchecked;
  return { receipt, receiptVerified: verified.ok };
}

export default defineBindings<Flow, OrderData>({
  nodes: {
    'Check order': (ctx) => ({ stock: ctx.data.quantity <= 3 ? 10 : 0 }),
    n3: (ctx) => ((ctx.data.stock ?? 0) >= ctx.data.quantity ? 'Yes' : 'No'),
    'Ship it': (ctx) => ({ ...signReceipt(ctx), shipped: true }),
    n5: () => ({ shipped: false }),
  },
});

// @ts-expect-error a decision returns one of its diamond's labels
defineBindings<Flow, OrderData>({ nodes: { n3: () => 'Maybe' } });
// @ts-expect-error the data has no such field
defineBindings<Flow, OrderData>({ nodes: { n2: (ctx) => ({ stock: ctx.data.missing }) } });
`;

/** Type-checks the library API and runs the flow with it: laneflow/testing's runFlow, VirtualClock from laneflow. */
const RUN_WITH_LIBRARY = `import { checkSource, VirtualClock } from 'laneflow';
import { runFlow } from 'laneflow/testing';
import { readFileSync } from 'node:fs';
import bindings from './order.bindings.js';

const { flow, diagnostics } = checkSource('order.flow', readFileSync('order.flow', 'utf8'));
if (flow === undefined) throw new Error(diagnostics.map((d) => d.message).join('\\n'));
const clock = new VirtualClock(Date.UTC(2025, 0, 1));
const run = await runFlow(flow, bindings, { clock: 'virtual', input: { order: 'A-7', quantity: 2 } });
run.expect({ end: 'End', through: ['Ship it'], data: { shipped: true, receiptVerified: true } });
process.stdout.write(JSON.stringify({ status: run.status, receipt: run.data['receipt'], clockStart: new Date(clock.now()).toISOString() }));
`;

/** The compiler options a project might have, each a tsconfig of its own. */
const STRICT = { strict: true, noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true };
const TSCONFIGS = {
  'moduleResolution node16': { module: 'node16', moduleResolution: 'node16', ...STRICT },
  'moduleResolution nodenext': { module: 'nodenext', moduleResolution: 'nodenext', ...STRICT },
  'moduleResolution bundler': { module: 'preserve', moduleResolution: 'bundler', ...STRICT },
  // Before the package had declarations, a project without strict mode saw errors in laneflow's own source.
  'moduleResolution nodenext without strict mode': { module: 'nodenext', moduleResolution: 'nodenext', strict: false },
} as const;

let work: string;
let project: string;
let packedFiles: string[];
let installOutput: string;

function run(command: string, args: string[], cwd: string, timeout = 120_000): SpawnSyncReturns<string> {
  // Under `npm test` the environment carries npm's own settings (npm_config_*) for this
  // repository: the nested npm and laneflow must see a user's environment instead.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_|^INIT_CWD$/i.test(name)));
  return spawnSync(command, args, { cwd, env: { ...env, NO_COLOR: '1' }, encoding: 'utf8', timeout });
}

function succeeded(result: SpawnSyncReturns<string>): string {
  if (result.error !== undefined) throw result.error;
  if (result.status !== 0) throw new Error(`exit ${result.status}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

function installedVersion(root: string, name: string): string {
  return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'laneflow-package-'));
  project = join(work, 'project');
  mkdirSync(project);

  // Packs dist/ as `npm test` just built it: the prepack build would rebuild it under other tests' feet.
  const pack = JSON.parse(succeeded(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], repoRoot))) as { filename: string; files: { path: string }[] }[];
  packedFiles = pack[0]!.files.map((file) => file.path);
  const tarball = join(work, pack[0]!.filename);

  // better-sqlite3 compiles from source (about two minutes here) and esbuild's install script
  // only checks its binary: both are declined, and the addon this repository compiled for the
  // same Node.js and the same better-sqlite3 version is copied in instead.
  const sqliteVersion = installedVersion(repoRoot, 'better-sqlite3');
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'uses-laneflow', private: true, type: 'module', allowScripts: { 'better-sqlite3': false, esbuild: false } }, null, 2),
  );
  const install = run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, `better-sqlite3@${sqliteVersion}`, `@types/node@${installedVersion(repoRoot, '@types/node')}`],
    project,
  );
  installOutput = succeeded(install) + install.stderr;
  const addon = join('node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
  mkdirSync(join(project, 'node_modules', 'better-sqlite3', 'build', 'Release'), { recursive: true });
  copyFileSync(join(repoRoot, addon), join(project, addon));

  writeFileSync(join(project, 'order.flow'), ORDER_FLOW);
  writeFileSync(join(project, 'order.bindings.ts'), ORDER_BINDINGS);
  writeFileSync(join(project, 'run-with-library.ts'), RUN_WITH_LIBRARY);
  succeeded(run(join(project, 'node_modules', '.bin', 'laneflow'), ['types', 'order.flow', '--out', 'order.flow.d.ts'], project));
  for (const [index, options] of Object.values(TSCONFIGS).entries()) {
    const compilerOptions = { ...options, target: 'ES2022', lib: ['ES2023'], types: ['node'], skipLibCheck: false, noEmit: true };
    writeFileSync(join(project, `tsconfig.${index}.json`), JSON.stringify({ compilerOptions, files: ['order.bindings.ts', 'run-with-library.ts'] }, null, 2));
  }
}, 180_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('ships the built library, its declarations and the CLI, and none of the source', () => {
    expect(packedFiles).toEqual(expect.arrayContaining(['package.json', 'bin/laneflow', 'bin/laneflow.js', 'dist/cli.js', 'dist/index.js', 'dist/webhooks.js', 'dist/testing.js']));
    expect(packedFiles).toEqual(expect.arrayContaining(['dist/types/index.d.ts', 'dist/types/webhooks.d.ts', 'dist/types/testing.d.ts']));
    expect(packedFiles.filter((path) => path.startsWith('src/') || path.startsWith('test/'))).toEqual([]);
    // The start-up snapshot only loads in the Node.js binary that built it.
    expect(packedFiles.filter((path) => path.startsWith('dist/snapshot'))).toEqual([]);
  });

  it('installs without asking its users to approve an install script of its own', () => {
    expect(installOutput).not.toMatch(/not yet covered by allowScripts/);
    expect(existsSync(join(project, 'node_modules', 'laneflow', 'src'))).toBe(false);
  });

  it.each(Object.keys(TSCONFIGS).map((name, index) => ({ name, index })))('type-checks a bindings file under $name', ({ index }) => {
    const tsc = run(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', `tsconfig.${index}.json`], project);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  });

  it('runs the flow through the installed CLI on a virtual clock', () => {
    const cli = run(join(project, 'node_modules', '.bin', 'laneflow'), ['run', 'order.flow', '--clock', 'virtual', '--db', join(work, 'cli.db'), '--input', '{"order":"A-1","quantity":2}'], project);
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    expect(cli.stdout).toMatch(/^\S+: completed at n\d+ "[^"]+"$/m);
    // The final data, which the bindings' signing step (laneflow/webhooks) verified.
    expect(cli.stdout).toContain('"shipped": true');
    expect(cli.stdout).toContain('"receiptVerified": true');

    const inspect = run(join(project, 'node_modules', '.bin', 'laneflow'), ['inspect', '--db', join(work, 'cli.db'), '--json'], project);
    const { instances } = JSON.parse(succeeded(inspect)) as { instances: { flow: string; status: string }[] };
    expect(instances.map(({ flow, status }) => ({ flow, status }))).toEqual([{ flow: 'order.flow', status: 'completed' }]);
  });

  it('runs the flow through the library (laneflow/testing), the bindings signing with laneflow/webhooks', () => {
    const tsx = join(project, 'node_modules', '.bin', 'tsx');
    const result = JSON.parse(succeeded(run(tsx, ['run-with-library.ts'], project))) as { status: string; receipt: string; clockStart: string };
    expect(result).toEqual({ status: 'completed', receipt: expect.stringMatching(/^v1,[A-Za-z0-9+/]{43}=$/), clockStart: '2025-01-01T00:00:00.000Z' });
  });
});
