// Builds the CLI's V8 start-up snapshot for the Node.js binary that runs this script.
//
// A process started from it (`node --snapshot-blob <blob> bin/laneflow.js …`, which bin/laneflow
// does for `render`, the one command it makes faster: `npm run bench -- startup`) begins with the
// CLI, the parser, svgdom and ELK already loaded and warmed by a render of a sample flow
// (src/cli/snapshot.ts). A snapshot only loads in the very Node.js binary that built
// it, with the same V8 flags, so dist/snapshot/node names that binary, which the launcher
// compares with the `node` it would run (same file, not newer than the blob) before using it.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// Node.js says so of the built-in modules it has not verified in snapshots. commander loads
// child_process for executable subcommands, which laneflow does not have, and the deleted
// stackTraceLimit is re-installed: neither matters, so neither is shown at every build.
const KNOWN_NOISE = [/built-in module "node:child_process"/, /^It may still work in some cases/, /^To request support for the module/, /^\(Use `node --trace-warnings/, /^Deleting Error\.stackTraceLimit from the snapshot/];

const EXTERNAL = ['better-sqlite3', '@resvg/resvg-js', 'pino', 'pino-pretty'];

/**
 * In a CommonJS bundle esbuild leaves `import('pkg')` of an external package or a built-in
 * module as it is, and a snapshot's code cannot import(): such imports become requires, of an
 * external package at run time, resolved from the launcher's bin/laneflow.js (every external
 * package has a CommonJS entry).
 */
const requireExternals = {
  name: 'require-externals',
  setup(builder) {
    const external = new RegExp(`^(${EXTERNAL.map((name) => name.replace(/[/.]/g, '\\$&')).join('|')})(/|$)`);
    builder.onResolve({ filter: external }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, namespace: 'require-at-run-time' } : undefined));
    builder.onLoad({ filter: /.*/, namespace: 'require-at-run-time' }, (args) => ({
      contents: `module.exports = require('node:module').createRequire(process.argv[1])(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
    // Binding modules and tsx are ECMAScript modules: they are imported by dist/import.cjs,
    // a file required at run time, from which import() works.
    builder.onResolve({ filter: /\/lib\/import-at-run-time$/ }, (args) => ({ path: args.path, namespace: 'import-at-run-time' }));
    builder.onLoad({ filter: /.*/, namespace: 'import-at-run-time' }, () => ({
      contents: "exports.importAtRunTime = (specifier) => require('node:module').createRequire(process.argv[1])('../dist/import.cjs')(specifier);",
      loader: 'js',
    }));
    builder.onResolve({ filter: /^node:/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, namespace: 'require-built-in' } : undefined));
    builder.onLoad({ filter: /.*/, namespace: 'require-built-in' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

/** Bundles src/cli/snapshot.ts into dist/snapshot.cjs and builds dist/snapshot/laneflow.blob from it. */
export async function buildSnapshot() {
  await build({
    absWorkingDir: root,
    entryPoints: { snapshot: 'src/cli/snapshot.ts' },
    outdir: 'dist',
    outExtension: { '.js': '.cjs' },
    bundle: true,
    // Snapshots take one CommonJS script; dynamic imports become requires of bundled code.
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    // Less source text to keep in the heap, which every start deserialises; names stay for stacks.
    minifyWhitespace: true,
    minifySyntax: true,
    alias: { chevrotain: './node_modules/chevrotain/lib/chevrotain.mjs', fontkit: './scripts/fontkit-disabled.mjs' },
    // Native addons cannot be in a snapshot.
    external: EXTERNAL,
    plugins: [requireExternals],
    // The modules that resolve files from their own place get the launcher's bin/laneflow.js,
    // which the launcher passes as argv[1] as Node.js does for a script.
    define: { 'import.meta.url': '__laneflowMeta.url' },
    banner: { js: "var __laneflowMeta = { get url() { return require('node:url').pathToFileURL(process.argv[1]).href; } };" },
    logLevel: 'warning',
  });

  writeFileSync(join(root, 'dist', 'import.cjs'), '// The start-up snapshot imports ECMAScript modules through this file: see scripts/snapshot.mjs.\nmodule.exports = (specifier) => import(specifier);\n');
  const folder = join(root, 'dist', 'snapshot');
  mkdirSync(folder, { recursive: true });
  const blob = join(folder, 'laneflow.blob');
  const temporary = `${blob}.${process.pid}.tmp`;
  try {
    const made = spawnSync(process.execPath, ['--snapshot-blob', temporary, '--build-snapshot', join(root, 'dist', 'snapshot.cjs')], { cwd: root, encoding: 'utf8' });
    const noise = (made.stderr ?? '').split('\n').filter((line) => line !== '' && !KNOWN_NOISE.some((known) => known.test(line)));
    if (made.status !== 0) throw new Error(`node --build-snapshot exited with ${made.status ?? made.signal}:\n${noise.join('\n')}`);
    if (noise.length > 0) process.stderr.write(`${noise.join('\n')}\n`);
    // A blob that does not start would make the launcher fail every command it sends there.
    const tried = spawnSync(process.execPath, ['--snapshot-blob', temporary, join(root, 'bin', 'laneflow.js'), '--version'], { encoding: 'utf8' });
    if (tried.status !== 0) throw new Error(`the snapshot does not start (exit ${tried.status ?? tried.signal}): ${tried.stderr}`);
    renameSync(temporary, blob);
    writeFileSync(join(folder, 'node'), `${process.execPath}\n`);
  } finally {
    rmSync(temporary, { force: true });
  }
  return blob;
}
