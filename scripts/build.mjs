// Bundles the CLI and the library into dist/. One file per entry keeps start-up fast: the CLI
// loads one module instead of hundreds, and chevrotain comes from its own pre-bundled build.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { emitDeclarations } from './declarations.mjs';
import { buildSnapshot } from './snapshot.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

// Chunk names carry content hashes: without a clean folder, every build would leave the last one's behind.
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });

// tsc (about 1.5 s) runs while esbuild and the snapshot build, so it adds no wall time.
const declarations = emitDeclarations();

// The library's entry points are the package's `exports`: laneflow, laneflow/webhooks, laneflow/testing.
await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli/main.ts', index: 'src/index.ts', webhooks: 'src/webhooks.ts', testing: 'src/testing.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  // svgdom is bundled with fontkit replaced: see scripts/fontkit-disabled.mjs.
  alias: { chevrotain: './node_modules/chevrotain/lib/chevrotain.mjs', fontkit: './scripts/fontkit-disabled.mjs' },
  // Native addons, and packages that read their own files at run time, stay in node_modules.
  external: ['better-sqlite3', 'tsx', '@resvg/resvg-js', 'elkjs', '@svgdotjs/svg.js', 'esbuild', 'pino', 'pino-pretty'],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});

// The start-up snapshot only makes `render` start faster: without it the
// launcher runs the bundle above, so a Node.js that cannot build one still gets a working CLI.
try {
  await buildSnapshot();
} catch (error) {
  process.stderr.write(`laneflow build: no start-up snapshot (the CLI works without it, starting slower): ${error instanceof Error ? error.message : String(error)}\n`);
}

// Type errors are the typecheck's to report (`npm run typecheck`); the declarations are written
// all the same, so one unfinished edit elsewhere does not stop the CLI from building.
const typeErrors = await declarations;
if (typeErrors !== '') {
  const count = typeErrors.split('\n').filter((line) => /error TS\d+/.test(line)).length;
  process.stderr.write(`laneflow build: dist/types was emitted with ${count} type error${count === 1 ? '' : 's'}: see \`npm run typecheck\`\n`);
}
