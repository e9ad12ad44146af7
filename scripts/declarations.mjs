// Emits the library's type declarations into dist/types/ (tsconfig.build.json), for projects
// that depend on laneflow: the package's `exports` point their `types` there, so a user's tsc
// reads these .d.ts files and never laneflow's source.
//
// The source imports without extensions (moduleResolution bundler), and tsc copies specifiers
// into declarations as written. Under moduleResolution node16 or nodenext an ECMAScript module
// must name the file it imports, so every relative specifier is rewritten to the .js file that
// sits beside its .d.ts (`./parser/index.js`), which every resolution mode accepts.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(root, 'dist', 'types');
/** `from './x'`, `import('./x')` and `declare module './x'`: the places a declaration names another file. */
const RELATIVE_SPECIFIER = /(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|\bdeclare\s+module\s+)(['"])(\.{1,2}\/[^'"]*)\2/g;

/** Runs tsc; resolves to its diagnostics, empty when the declarations were emitted without type errors. */
function runTsc() {
  return new Promise((resolvePromise, reject) => {
    const tsc = spawn(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    tsc.stdout.on('data', (chunk) => (output += chunk));
    tsc.stderr.on('data', (chunk) => (output += chunk));
    tsc.on('error', reject);
    tsc.on('close', (code) => resolvePromise(code === 0 ? '' : output.trim() || `tsc exited with code ${code}`));
  });
}

function declarationFiles(folder) {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.d.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The .js specifier for `specifier` as seen from `file`, or the specifier itself when it already names a file. */
function withExtension(file, specifier) {
  if (/\.(js|mjs|cjs|json)$/.test(specifier)) return specifier;
  const target = resolve(dirname(file), specifier);
  if (existsSync(`${target}.d.ts`)) return `${specifier}.js`;
  if (existsSync(join(target, 'index.d.ts'))) return `${specifier.replace(/\/$/, '')}/index.js`;
  throw new Error(`${file}: no declaration for ${specifier}`);
}

/**
 * Emits dist/types/ and rewrites its relative imports. Resolves to a description of the type
 * errors tsc reported (the declarations are written all the same), or '' when there were none.
 */
export async function emitDeclarations() {
  rmSync(OUT, { recursive: true, force: true });
  const errors = await runTsc();
  for (const file of declarationFiles(OUT)) {
    const text = readFileSync(file, 'utf8');
    const rewritten = text.replace(RELATIVE_SPECIFIER, (_, keyword, quote, specifier) => `${keyword}${quote}${withExtension(file, specifier)}${quote}`);
    if (rewritten !== text) writeFileSync(file, rewritten);
  }
  return errors;
}
