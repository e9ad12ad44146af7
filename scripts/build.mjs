// Bundles the CLI and the library into dist/. One file per entry keeps start-up fast: the CLI
// loads one module instead of hundreds, and chevrotain comes from its own pre-bundled build.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// Chunk names carry content hashes: without a clean folder, every build would leave the last one's behind.
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli/main.ts', index: 'src/index.ts' },
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
  external: ['better-sqlite3', 'tsx', '@resvg/resvg-js', 'elkjs', '@svgdotjs/svg.js'],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});
