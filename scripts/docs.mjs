// Generates the API reference (docs/api/) from the TSDoc comments of the public entry points.
// TypeDoc needs the TypeScript compiler's JS API, which TypeScript 7 (the repository's `tsc`)
// does not have: it comes from tools/api-docs/, a package of its own that holds TypeDoc with
// the TypeScript 5 it supports, so `npx tsc` stays TypeScript 7.
// Usage: node scripts/docs.mjs [--out <folder>]
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Application } from '../tools/api-docs/node_modules/typedoc/dist/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { out: { type: 'string', default: 'docs/api' } } });
const out = values.out;

/** The modules a user imports: `laneflow`, `laneflow/testing` and `laneflow/webhooks` (package.json's exports). */
const entryPoints = ['src/index.ts', 'src/testing.ts', 'src/webhooks.ts'];

process.chdir(root);
const app = await Application.bootstrap({
  entryPoints,
  tsconfig: 'tools/api-docs/tsconfig.json',
  out,
  name: 'laneflow',
  readme: 'none',
  // Links to source lines would name a commit; the reference is read beside the checkout.
  disableSources: true,
  excludePrivate: true,
  excludeInternal: true,
  // Internal links that do not resolve fail the run, as the link check in test/docs does for the HTML.
  validation: { notExported: false, invalidLink: true, rewrittenLink: true, notDocumented: false, unusedMergeModuleWith: true },
  treatValidationWarningsAsErrors: true,
  logLevel: 'Warn',
  // Type errors are `tsc`'s to report (npm test runs it); the reference is made from the declarations.
  skipErrorChecking: true,
});
const project = await app.convert();
if (project === undefined) {
  process.stderr.write('laneflow docs: TypeDoc could not convert the entry points\n');
  process.exit(1);
}
app.validate(project);
if (app.logger.hasErrors()) process.exit(1);
rmSync(out, { recursive: true, force: true });
await app.generateDocs(project, out);
if (app.logger.hasErrors()) process.exit(1);
process.stdout.write(`API reference of ${entryPoints.join(', ')} written to ${out}/\n`);
